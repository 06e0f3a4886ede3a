"""Schedules made of other schedules: one after another, or all at once."""

from bisect import bisect_right

from soma.optim._scheduler import LRScheduler, group_values
from soma.optim._schedulers_plateau import ReduceLROnPlateau


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the ``milestones`` epochs.

    At a milestone the next schedule starts from its epoch 0 (its closed form where it has
    one). Typical use: a linear warm-up followed by cosine annealing.

    Args:
        optimizer: the optimizer all the schedules belong to.
        schedulers: the schedules, in order.
        milestones: the epochs at which to switch (one fewer than the schedules).
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> from soma.optim.lr_scheduler import ConstantLR, ExponentialLR
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> warmup = ConstantLR(opt, factor=0.1, total_iters=2)
        >>> decay = ExponentialLR(opt, gamma=0.5)
        >>> sched = SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.1, 1.0, 0.5, 0.25]
    """

    def __init__(
        self, optimizer, schedulers: list, milestones: list, last_epoch: int = -1
    ) -> None:
        _check_parts(type(self).__name__, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects one more scheduler than milestones, but got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # NOTE: each schedule already took its initial step when it was built: undo those,
        # then restart the first one, as PyTorch does.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        _rewind(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        return _state_with_parts(self)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_with_parts(self, state_dict)


class ChainedScheduler(LRScheduler):
    """Step several schedules together; their effects on the rate compose.

    Args:
        schedulers: the schedules, stepped in this order.
        optimizer: their optimizer (default: that of the first schedule).

    Example:
        >>> import soma
        >>> from soma.optim.lr_scheduler import ConstantLR, ExponentialLR
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2),
        ...                           ExponentialLR(opt, gamma=0.5)])
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.05, 0.25, 0.125]
    """

    def __init__(self, schedulers: list, optimizer=None) -> None:
        if len(schedulers) < 1:
            raise ValueError(
                "ChainedScheduler expects at least one scheduler to be chained, "
                "but got no scheduler"
            )
        optimizer = optimizer or schedulers[0].optimizer
        _check_parts(type(self).__name__, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    def state_dict(self) -> dict:
        return _state_with_parts(self)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_with_parts(self, state_dict)


def _check_parts(owner: str, optimizer, schedulers) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got none")
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(
                f"{owner}: the scheduler at index {i} should have `optimizer` as its attribute"
            )
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support ReduceLROnPlateau (its step needs the "
                f"metric), but got one at index {i}"
            )
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, "
                f"but the {type(scheduler).__name__} at index {i} has another one"
            )


def _rewind(scheduler) -> None:
    """Move every schedule inside ``scheduler`` (recursively) back by one epoch."""
    for part in scheduler._schedulers:
        if hasattr(part, "_schedulers"):
            _rewind(part)
        elif hasattr(part, "last_epoch"):
            part.last_epoch -= 1


def _state_with_parts(scheduler) -> dict:
    state = {k: v for k, v in scheduler.__dict__.items() if k not in ("optimizer", "_schedulers")}
    state["_schedulers"] = [part.state_dict() for part in scheduler._schedulers]
    return state


def _load_with_parts(scheduler, state_dict: dict) -> None:
    state = dict(state_dict)
    parts = state.pop("_schedulers")
    scheduler.__dict__.update(state)
    for part, part_state in zip(scheduler._schedulers, parts):
        part.load_state_dict(part_state)
