"""Where a trainer is inside an epoch: what a mid-epoch checkpoint must hold to continue exactly.

An epoch's sample order is drawn once, at its start (``DataLoader.epoch_plan``: the same draw
iterating would make). ``EpochPosition`` keeps that order, the number of batches finished, the
running loss and metrics, the learning rate the epoch started with and the time spent so far.
Together with the random states a checkpoint stores anyway (soma's global generator, Python's
``random``, the loader's generator), that is everything: resuming restores the generators,
skips the finished batches of the stored order, and the remaining batches see the same data,
augmentation and dropout draws as an uninterrupted run.

Loaders whose order cannot be known ahead (iterable datasets, custom samplers) are iterated as
they are; a mid-epoch checkpoint of such a run restarts its epoch on resume.
"""

import copy
import warnings

from soma.backend import get_xp
from soma.train.metrics import Mean, get_metric

_xp = get_xp()


def fresh_metrics(metrics) -> list:
    """New, empty metric objects (names are resolved; objects are copied, then reset)."""
    fresh = []
    for m in metrics:
        m = copy.deepcopy(m) if not isinstance(m, str) else get_metric(m)
        m.reset()
        fresh.append(m)
    return fresh


def results(loss_mean, metrics) -> dict:
    """``{"loss": mean, metric name: value …}`` from running accumulators."""
    logs = {"loss": loss_mean.compute()} if loss_mean is not None and loss_mean.count else {}
    logs.update((m.name, m.compute()) for m in metrics)
    return logs


def _counters(metric) -> dict:
    """A metric's running counters (numbers and arrays) as JSON-able values."""
    state = {}
    for key, value in vars(metric).items():
        if isinstance(value, _xp.ndarray):
            state[key] = {"array": value.tolist(), "dtype": value.dtype.name}
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            state[key] = value
    return state


def _restore_counters(metric, state: dict) -> None:
    for key, value in state.items():
        if isinstance(value, dict):
            value = _xp.asarray(value["array"], dtype=value["dtype"])
        setattr(metric, key, value)


class EpochPosition:
    """The state of one epoch in progress (see the module docstring)."""

    def __init__(self, plan, done: int, lr: float, loss_mean, metrics, elapsed: float = 0.0):
        self.plan, self.batch, self.lr = plan, done, lr
        self.loss_mean, self.metrics, self.elapsed = loss_mean, metrics, elapsed

    @classmethod
    def start(cls, lr: float, metrics) -> "EpochPosition":
        """A new epoch (its order is drawn when its batches are first asked for)."""
        return cls(None, 0, lr, Mean(), fresh_metrics(metrics))

    def batches(self, loader):
        """``(batch number, batch)`` pairs from the batch after the last finished one."""
        if self.plan is None and self.batch == 0:
            plan = getattr(loader, "epoch_plan", None)
            self.plan = plan() if plan is not None else None
        if self.plan is None:
            if self.batch:  # an order we could not record: this epoch starts over
                warnings.warn(
                    "resuming mid-epoch with a data loader whose order was not recorded: the "
                    "epoch restarts from its first batch (results will differ from an "
                    "uninterrupted run)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.batch, self.loss_mean = 0, Mean()
                for m in self.metrics:
                    m.reset()
            return enumerate(loader, start=1)
        return enumerate(loader.iter_plan(self.plan[self.batch :]), start=self.batch + 1)

    def update(self, loss: float, n: int, output, target) -> None:
        self.loss_mean.update(loss, n)
        for m in self.metrics if output is not None else ():
            m.update(output.detach(), target)

    def finished(self, batch: int, elapsed: float) -> None:
        self.batch, self.elapsed = batch, elapsed

    def results(self) -> dict:
        return results(self.loss_mean, self.metrics)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        plan = self.plan
        order = _xp.concatenate(plan) if plan else _xp.zeros(0, dtype=_xp.int64)
        return {
            "batch": self.batch,
            "order": None if plan is None else order.astype(_xp.int64),
            "sizes": None if plan is None else [int(len(b)) for b in plan],
            "lr": self.lr,
            "elapsed": self.elapsed,
            "loss": _counters(self.loss_mean),
            "metrics": [_counters(m) for m in self.metrics],
        }

    @classmethod
    def from_state_dict(cls, state: dict, metrics) -> "EpochPosition":
        plan = None
        if state["sizes"] is not None:
            order = state["order"]
            order = _xp.asarray(getattr(order, "array", order), dtype=_xp.int64)
            bounds = _xp.cumsum([0, *state["sizes"]])
            plan = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        loss_mean, fresh = Mean(), fresh_metrics(metrics)
        _restore_counters(loss_mean, state["loss"])
        if len(state["metrics"]) != len(fresh):
            raise ValueError(
                f"the checkpoint's epoch in progress tracked {len(state['metrics'])} metrics, "
                f"this trainer has {len(fresh)}"
            )
        for metric, saved in zip(fresh, state["metrics"]):
            _restore_counters(metric, saved)
        return cls(plan, state["batch"], state["lr"], loss_mean, fresh, state["elapsed"])
