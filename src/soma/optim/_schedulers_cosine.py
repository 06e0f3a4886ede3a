"""Cosine annealing (Loshchilov & Hutter, SGDR, 2017), without and with warm restarts."""

import math
import numbers

from soma.optim._scheduler import LRScheduler, check_positive_int, group_values
from soma.optim.registry import register_scheduler


@register_scheduler(
    "cosine",
    "cosine annealing every batch, to 0 at the end of the last epoch (CosineAnnealingLR)",
    interval="batch",
    arguments=lambda epochs, steps_per_epoch, lr: {"T_max": epochs * steps_per_epoch},
)
class CosineAnnealingLR(LRScheduler):
    """Anneal the rate along a half cosine from its initial value to ``eta_min`` in ``T_max``.

        η_t = η_min + (η₀ − η_min)(1 + cos(πt / T_max)) / 2

    computed recursively from the current rate, as PyTorch does (so that the sequence matches
    PyTorch's exactly and composes with other schedules):

        η_t = η_min + (η_{t−1} − η_min) · (1 + cos(πt / T_max)) / (1 + cos(π(t − 1) / T_max))

    Past ``T_max`` the rate rises again along the cosine (a period of 2·T_max).

    Args:
        optimizer: the optimizer whose rates are scheduled.
        T_max: number of epochs from the initial rate down to ``eta_min``.
        eta_min: the lowest rate.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = CosineAnnealingLR(opt, T_max=4)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464]
    """

    def __init__(
        self,
        optimizer,
        T_max: int,
        eta_min: float = 0.0,  # noqa: N803 (PyTorch's name)
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(T_max, numbers.Real) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: expected a positive T_max, but got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        t, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and t > 0:  # resumed with last_epoch > 0: the closed form
            return self._get_closed_form_lr()
        if (t - 1 - period) % (2 * period) == 0:  # at the bottom: step up from η_min
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)
            ]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every T_i epochs, T_i growing by ``T_mult`` at each restart.

        η_t = η_min + (η₀ − η_min)(1 + cos(π T_cur / T_i)) / 2

    with T_cur the epochs since the last restart (fractional when ``step(epoch)`` is given a
    fractional epoch, e.g. ``epoch + batch / batches_per_epoch`` for per-batch updates).

    Args:
        optimizer: the optimizer whose rates are scheduled.
        T_0: length of the first period, in epochs.
        T_mult: growth factor of the period after each restart (an integer ≥ 1).
        eta_min: the lowest rate.
        last_epoch: index of the last epoch seen (-1 starts a new schedule).

    Example:
        >>> import soma
        >>> opt = soma.optim.SGD([soma.nn.Parameter(soma.zeros(1))], lr=1.0)
        >>> sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        >>> lrs = []
        >>> for _ in range(7):
        ...     lrs.append(round(sched.get_last_lr()[0], 4)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(
        self,
        optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,  # noqa: N803
        last_epoch: int = -1,
    ) -> None:
        check_positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        if isinstance(T_mult, bool) or not isinstance(T_mult, numbers.Integral) or T_mult < 1:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, but got {T_mult!r}"
            )
        if isinstance(eta_min, bool) or not isinstance(eta_min, numbers.Real):
            raise ValueError(
                f"CosineAnnealingWarmRestarts: expected a float or int eta_min, "
                f"but got {eta_min!r} of type {type(eta_min).__name__}"
            )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2 for base_lr in self.base_lrs]

    def step(self, epoch: float = None) -> None:
        """Advance one epoch, or jump to ``epoch`` (which may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            self._jump_to(epoch)
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    def _jump_to(self, epoch: float) -> None:
        """Set T_cur and T_i for an explicit (possibly fractional) epoch."""
        if epoch < 0:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: expected a non-negative epoch, but got {epoch}"
            )
        if epoch < self.T_0:
            self.T_i = self.T_0
            self.T_cur = epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # restarts so far: the largest n with T_0 (T_mult^n − 1)/(T_mult − 1) ≤ epoch
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n
