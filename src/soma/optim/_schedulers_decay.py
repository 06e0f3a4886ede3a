"""Schedules that scale the rate by a factor per epoch: step, exponential, linear, lambdas."""

import types
from collections import Counter

from soma.optim._scheduler import LRScheduler, check_positive_int, group_values
from soma.optim.registry import register_scheduler


class _LambdaScheduler(LRScheduler):
    """A schedule driven by user functions of the epoch, one per parameter group.

    Functions cannot be saved: ``state_dict`` leaves plain functions out and keeps callable
    objects' attributes, as PyTorch does.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = self._one_per_group(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def _one_per_group(self, optimizer, lr_lambda) -> list:
        owner = type(self).__name__
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"{owner}: expected {len(optimizer.param_groups)} lr_lambdas "
                    f"(one per parameter group), but got {len(lr_lambda)}"
                )
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * len(optimizer.param_groups)
        for fn in lambdas:
            if not callable(fn):
                raise TypeError(
                    f"{owner}: lr_lambda should be a function, but got {type(fn).__name__}"
                )
        return lambdas

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class LambdaLR(_LambdaScheduler):
    """Set each group's rate to its initial rate times a function of the epoch.

        η_t = η₀ · λ(t)

    ``state_dict()`` saves everything except the functions (of callable objects, their
    attributes), as PyTorch does: rebuild the schedule with the same functions before loading.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        lr_lambda: a function of the epoch giving a factor, or a list of them, one per group.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def get_lr(self) -> list:
        return [
            base_lr * lmbda(self.last_epoch)
            for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)
        ]


class MultiplicativeLR(_LambdaScheduler):
    """Multiply each group's rate by a function of the epoch, at every step after the first.

        η_t = η_{t−1} · λ(t)

    Args:
        optimizer: the optimizer whose rates are scheduled.
        lr_lambda: a function of the epoch giving a factor, or a list of them, one per group.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = MultiplicativeLR(opt, lambda epoch: 0.5)
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.125]
    """

    def get_lr(self) -> list:
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [
            group["lr"] * lmbda(self.last_epoch)
            for lmbda, group in zip(self.lr_lambdas, self.optimizer.param_groups)
        ]


@register_scheduler(
    "step",
    "the rate x0.1 after each third of the epochs (StepLR)",
    interval="epoch",
    arguments=lambda epochs, steps_per_epoch, lr: {"step_size": max(1, epochs // 3), "gamma": 0.1},
)
class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

        η_t = η₀ · γ^⌊t / step_size⌋

    Args:
        optimizer: the optimizer whose rates are scheduled.
        step_size: period of the decay, in epochs.
        gamma: factor of the decay.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        check_positive_int("StepLR", "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size)
            for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch.

        η_t = η₀ · γ^(number of milestones ≤ t)

    Args:
        optimizer: the optimizer whose rates are scheduled.
        milestones: epochs at which to decay (a milestone given twice decays twice).
        gamma: factor of the decay.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.1, 0.1, 0.01]
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        # a state dict that went through JSON has the milestones as a dict with string keys
        self.milestones = Counter({int(m): n for m, n in dict(self.milestones).items()})

    def _get_closed_form_lr(self) -> list:
        passed = sum(n for m, n in self.milestones.items() if m <= self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scale the rate by ``factor`` for the first ``total_iters`` epochs, then restore it.

        η_t = η₀ · factor  for t < total_iters,  η₀ afterwards

    Args:
        optimizer: the optimizer whose rates are scheduled.
        factor: the scale, in [0, 1].
        total_iters: number of epochs at the scaled rate.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = ConstantLR(opt, factor=0.5, total_iters=2)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(
        self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1
    ) -> None:
        if factor > 1.0 or factor < 0:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        after = self.last_epoch >= self.total_iters
        return [base_lr * (self.factor + after * (1 - self.factor)) for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate by a factor going linearly from ``start_factor`` to ``end_factor``.

        η_t = η₀ · (s + (e − s) · min(t, total_iters) / total_iters)

    computed recursively, as PyTorch does, so that it composes with other schedules.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        start_factor: factor at epoch 0, in (0, 1].
        end_factor: factor from epoch ``total_iters`` on, in [0, 1].
        total_iters: number of epochs of the ramp.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        delta = self.end_factor - self.start_factor
        factor = 1.0 + delta / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * delta
        )
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        delta = self.end_factor - self.start_factor
        done = min(self.total_iters, self.last_epoch)
        return [
            base_lr * (self.start_factor + delta * done / self.total_iters)
            for base_lr in self.base_lrs
        ]


@register_scheduler(
    "exponential",
    "the rate x0.9 every epoch (ExponentialLR)",
    interval="epoch",
    arguments=lambda epochs, steps_per_epoch, lr: {"gamma": 0.9},
)
class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: η_t = η₀ · γᵗ.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        gamma: factor of the decay.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = ExponentialLR(opt, gamma=0.5)
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.125]
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the rate polynomially to zero over ``total_iters`` epochs.

        η_t = η₀ · (1 − min(t, total_iters) / total_iters)^power

    Args:
        optimizer: the optimizer whose rates are scheduled.
        total_iters: number of epochs of the decay.
        power: exponent of the polynomial.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = PolynomialLR(opt, total_iters=4, power=2.0)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    def __init__(
        self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        check_positive_int("PolynomialLR", "total_iters", total_iters)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        t, n = self.last_epoch, self.total_iters
        factor = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        done = min(self.total_iters, self.last_epoch)
        return [
            base_lr * (1.0 - done / self.total_iters) ** self.power for base_lr in self.base_lrs
        ]
