"""Per-iteration cyclical schedules: cyclical rates (Smith, 2017) and the 1cycle policy."""

import math
import types

from soma.optim._scheduler import LRScheduler, check_positive_int, per_group
from soma.optim.optimizer import Optimizer
from soma.optim.registry import register_scheduler


class CyclicLR(LRScheduler):
    """Cycle the rate between ``base_lr`` and ``max_lr`` (cyclical learning rates).

    Each cycle rises linearly for ``step_size_up`` iterations and falls for
    ``step_size_down``; the height of the cycle is scaled by ``scale_fn``:

        c = ⌊1 + t / (up + down)⌋,   x = 1 + t / (up + down) − c    (position in the cycle)
        h = x / r  if x ≤ r,  else (x − 1)/(r − 1)                  (r = up / (up + down))
        η_t = base_lr + (max_lr − base_lr) · h · scale(c or t)

    Modes: ``"triangular"`` (scale 1), ``"triangular2"`` (halved each cycle), ``"exp_range"``
    (γᵗ per iteration), or a custom ``scale_fn`` of the cycle or iteration (``scale_mode``).
    With ``cycle_momentum`` the momentum (SGD's ``momentum``, Adam's β₁) cycles the other way,
    between ``max_momentum`` and ``base_momentum``. Step it after every batch.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        base_lr: lowest rate of the cycle (one or one per group); replaces the groups' rates.
        max_lr: highest rate of the cycle (one or one per group).
        step_size_up: iterations of the rising half.
        step_size_down: iterations of the falling half (default: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the base of ``"exp_range"``'s scale.
        scale_fn: a custom scale function (replaces ``mode``).
        scale_mode: ``"cycle"`` or ``"iterations"``, what a custom ``scale_fn`` receives.
        cycle_momentum: also cycle the momentum.
        base_momentum, max_momentum: range of the momentum (one or one per group).
        last_epoch: index of the last iteration seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0, momentum=0.9)
        >>> sched = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs, round(opt.param_groups[0]["momentum"], 4)
        ([0.1, 0.3, 0.5, 0.3, 0.1], 0.85)
    """

    def __init__(
        self,
        optimizer,
        base_lr,
        max_lr,
        step_size_up: int = 2000,
        step_size_down: int = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn=None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if not (up > 0 and down >= 0):
            raise ValueError(
                f"CyclicLR: step_size_up must be > 0 and step_size_down >= 0, got "
                f"{step_size_up} and {step_size_down}"
            )
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode {mode!r} is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else _MODE_SCALE[mode]
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer) == "betas"
            self.base_momentums = per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for high, low, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The height factor of cycle ``x`` (or of iteration ``x``, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / 2.0 ** (x - 1)
        return self.gamma**x

    def get_lr(self) -> list:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            height = x / self.step_ratio
        else:
            height = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [
            base_lr + (max_lr - base_lr) * height * scale
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)
        ]
        if self.cycle_momentum:
            for low, high, group in zip(
                self.base_momentums, self.max_momentums, self.optimizer.param_groups
            ):
                _set_momentum(group, high - (high - low) * height * scale, self.use_beta1)
        return lrs

    def state_dict(self) -> dict:
        """The state; a custom ``scale_fn`` is left out (a callable object: its attributes)."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        keep = fn is not None and not isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = fn.__dict__.copy() if keep else None
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        attributes = state.pop("_scale_fn_custom", None)
        state.pop("_scale_fn_ref", None)  # present in PyTorch's state dicts
        super().load_state_dict(state)
        if attributes is not None:
            self._scale_fn_custom.__dict__.update(attributes)


_MODE_SCALE = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}


@register_scheduler(
    "onecycle",
    "one cycle up to the rate and down again over the run, every batch (OneCycleLR)",
    interval="batch",
    arguments=lambda epochs, steps_per_epoch, lr: {
        "max_lr": lr,
        "total_steps": epochs * steps_per_epoch,
    },
)
class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): warm up to ``max_lr``, then anneal far below.

    Phases, each annealed (by cosine or linearly) from its start to its end value:

        1. iterations [0, pct_start·N − 1]: rate max_lr/div_factor → max_lr,
           momentum max_momentum → base_momentum
        2. up to N − 1: rate max_lr → max_lr/(div_factor·final_div_factor), momentum back up

    With ``three_phase``, phase 2 first returns symmetrically to the initial rate and a third
    phase then anneals to the minimum. N = ``total_steps`` (or ``epochs · steps_per_epoch``);
    stepping more than N times is an error. Step it after every batch.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        max_lr: the peak rate (one or one per group).
        total_steps: N; or give ``epochs`` and ``steps_per_epoch``.
        pct_start: fraction of the steps spent rising.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: also cycle the momentum (SGD's ``momentum`` or Adam's β₁).
        base_momentum, max_momentum: range of the momentum (one or one per group).
        div_factor: initial rate = max_lr / div_factor.
        final_div_factor: final rate = initial rate / final_div_factor.
        three_phase: use the three-phase schedule.
        last_epoch: index of the last iteration seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0, momentum=0.9)
        >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=0.4, div_factor=10.0,
        ...                    final_div_factor=100.0, anneal_strategy="linear")
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [0.1, 1.0, 0.667, 0.334, 0.001]
    """

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps: int = None,
        epochs: int = None,
        steps_per_epoch: int = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(
                f"OneCycleLR: expected a float between 0 and 1 pct_start, but got {pct_start!r}"
            )
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = _phases(self.total_steps, pct_start, three_phase)
        max_lrs = per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for peak, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer) == "betas"
            highs = per_group("max_momentum", optimizer, max_momentum)
            lows = per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for high, low, group in zip(highs, lows, optimizer.param_groups):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {t} times; the schedule has "
                f"total_steps={self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if t <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (t - start_step) / (end_step - start_step)
                    break
                start_step = end_step
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(
                    group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                )
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _total_steps(total_steps, epochs, steps_per_epoch) -> int:
    if total_steps is not None:
        check_positive_int("OneCycleLR", "total_steps", total_steps)
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: define either total_steps or (epochs and steps_per_epoch)")
    check_positive_int("OneCycleLR", "epochs", epochs)
    check_positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch)
    return epochs * steps_per_epoch


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list:
    """Each phase: its last step and the group keys of its start and end values."""

    def phase(end_step, lr, momentum):
        return {
            "end_step": end_step,
            "start_lr": lr[0],
            "end_lr": lr[1],
            "start_momentum": momentum[0],
            "end_momentum": momentum[1],
        }

    up = float(pct_start * total_steps) - 1
    rise = phase(up, ("initial_lr", "max_lr"), ("max_momentum", "base_momentum"))
    if not three_phase:
        return [
            rise,
            phase(total_steps - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum")),
        ]
    return [
        rise,
        phase(
            float(2 * pct_start * total_steps) - 2,
            ("max_lr", "initial_lr"),
            ("base_momentum", "max_momentum"),
        ),
        phase(total_steps - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum")),
    ]


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _momentum_key(optimizer) -> str:
    """``"betas"`` (Adam-like: cycle β₁) or ``"momentum"`` (SGD-like)."""
    if "betas" in optimizer.defaults:
        return "betas"
    if "momentum" in optimizer.defaults:
        return "momentum"
    raise ValueError(
        f"optimizer {type(optimizer).__name__} must support momentum or beta1 with "
        "the cycle_momentum option enabled"
    )


def _set_momentum(group: dict, value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value
