"""``LRScheduler``: the base of the learning-rate schedules in ``soma.optim.lr_scheduler``.

A schedule changes ``group["lr"]`` of every parameter group of an optimizer once per call of
its ``step()``. A subclass implements ``get_lr()``, the rates at epoch ``last_epoch``; most of
PyTorch's schedules are written recursively (the new rate from the group's current one), so
that they compose with other changes to the rate, and this module follows them operation for
operation so that sequences of rates match PyTorch's exactly.
"""

import numbers
import warnings

from soma.optim.optimizer import Optimizer

_EPOCH_DEPRECATION = (
    "The epoch argument of scheduler.step() is deprecated (as in PyTorch): call step() "
    "without it. When it is given, the closed form of the schedule is used where there is one."
)


class LRScheduler:
    """Base class of the learning-rate schedules.

    Creating a schedule records each group's starting rate as ``group["initial_lr"]`` (the
    ``base_lrs``) and takes a first step, which sets the rates of epoch 0. Call ``step()`` after
    ``optimizer.step()``, once per epoch (or per batch, for per-iteration schedules).

    Args:
        optimizer: the optimizer whose rates are scheduled.
        last_epoch: index of the last epoch seen; -1 (the default) starts a new schedule.
            Other values resume one and need ``"initial_lr"`` in every group.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"a {type(self).__name__} with last_epoch={last_epoch}: load the "
                        "optimizer's state dict first, or start with last_epoch=-1"
                    )
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the step that sets the rates of epoch 0."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The rates of epoch ``last_epoch``, one per group (called by ``step``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list:
        """The rates set by the last ``step()``, one per parameter group."""
        return self._last_lr

    def step(self, epoch: int = None) -> None:
        """Advance the schedule by one epoch and set the new rates in the optimizer."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call them in "
                "the opposite order, or the first value of the schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        set_group_values(self.optimizer, "lr", values, type(self).__name__)
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (save the optimizer's state separately)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the attributes saved by ``state_dict``."""
        self.__dict__.update(state_dict)


def group_values(optimizer: Optimizer, key: str) -> list:
    """``group[key]`` of every parameter group."""
    return [group[key] for group in optimizer.param_groups]


def set_group_values(optimizer: Optimizer, key: str, values: list, owner: str) -> None:
    """Set ``group[key]`` of every group from ``values`` (one per group)."""
    values = list(values)
    if len(values) != len(optimizer.param_groups):
        raise ValueError(
            f"{owner}: computed {len(values)} values of '{key}' for "
            f"{len(optimizer.param_groups)} parameter groups"
        )
    for group, value in zip(optimizer.param_groups, values):
        group[key] = value


def per_group(name: str, optimizer: Optimizer, value) -> list:
    """A hyperparameter given once or as one value per group, as a list of one per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups: {name} has "
                f"{len(value)} values, param_groups has {len(optimizer.param_groups)}"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


def check_positive_int(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: expected a positive integer {name}, but got {value!r}")
