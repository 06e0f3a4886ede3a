"""Weight averaging, as ``torch.optim.swa_utils``: stochastic weight averaging (Izmailov et
al., 2018) and exponential moving averages of a model's weights.

    swa_model = AveragedModel(model)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05)
    ... after each epoch past swa_start: swa_model.update_parameters(model); swa_scheduler.step()
    update_bn(loader, swa_model)      # recompute BatchNorm statistics for the averaged weights
"""

import copy
import math

from soma.autograd.factory import tensor
from soma.autograd.grad_mode import no_grad
from soma.backend import int64
from soma.nn.module import Module
from soma.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from soma.optim._scheduler import LRScheduler, per_group


def get_swa_avg_fn():
    """The equal-weight running average: ``w̄ ← w̄ + (w − w̄)/(n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """The exponential moving average: ``w̄ ← decay · w̄ + (1 − decay) · w``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_multi_avg_fn():
    """``get_swa_avg_fn`` applied in place to lists of tensors."""
    single = get_swa_avg_fn()

    def swa_update(averaged_params, current_params, num_averaged):
        for a, c in zip(averaged_params, current_params):
            a.array[...] = single(a, c, num_averaged).array

    return swa_update


def get_ema_multi_avg_fn(decay: float = 0.999):
    """``get_ema_avg_fn`` applied in place to lists of tensors."""
    single = get_ema_avg_fn(decay)

    def ema_update(ema_params, current_params, num_averaged):
        for a, c in zip(ema_params, current_params):
            a.array[...] = single(a, c, num_averaged).array

    return ema_update


def _check_decay(decay):
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1]")


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are a running average of ``model``'s.

    The first ``update_parameters(model)`` copies the weights; each later one averages them in
    with ``avg_fn(averaged, current, n_averaged)`` (default: the equal-weight SWA average).
    Buffers (BatchNorm statistics) are copied from ``model``, or averaged too with
    ``use_buffers=True``. ``n_averaged`` is a buffer, saved in the state dict.

    Args:
        model: the module to average.
        device: ignored (soma runs on the CPU); accepted for PyTorch's signature.
        avg_fn: ``f(averaged, current, n) -> new averaged`` per tensor.
        multi_avg_fn: ``f(averaged_list, current_list, n)`` updating in place.
        use_buffers: average the buffers as well as the parameters.

    Example:
        >>> import soma
        >>> model = soma.nn.Linear(1, 1, bias=False)
        >>> swa = AveragedModel(model)
        >>> for w in (1.0, 2.0, 6.0):
        ...     _ = model.weight.data.fill_(w)
        ...     swa.update_parameters(model)
        >>> swa.module.weight.item(), swa.n_averaged.item()
        (3.0, 3)
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give only one of avg_fn and multi_avg_fn")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", tensor(0, dtype=int64))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model) -> None:
        """Average ``model``'s current weights into this copy."""
        if self.use_buffers:
            mine = list(self.module.parameters()) + list(self.module.buffers())
            theirs = list(model.parameters()) + list(model.buffers())
        else:
            mine, theirs = list(self.module.parameters()), list(model.parameters())
        n = int(self.n_averaged.item())
        if n == 0:
            for a, c in zip(mine, theirs):
                a.array[...] = c.array
        elif self.multi_avg_fn is not None:
            self.multi_avg_fn([a.detach() for a in mine], [c.detach() for c in theirs], n)
        else:
            avg_fn = self.avg_fn or get_swa_avg_fn()
            for a, c in zip(mine, theirs):
                if a.array.dtype.kind == "f":
                    a.array[...] = avg_fn(a.detach(), c.detach(), n).array
                else:  # integer buffers (num_batches_tracked): the latest value
                    a.array[...] = c.array
        if not self.use_buffers:
            for a, c in zip(self.module.buffers(), model.buffers()):
                a.array[...] = c.array
        self.n_averaged.array[...] = n + 1


@no_grad()
def update_bn(loader, model, device=None) -> None:
    """Recompute the BatchNorm running statistics of ``model`` in one pass over ``loader``.

    Each batch is a tensor or a tuple/list whose first element is the input. The statistics
    are reset, then accumulated as a cumulative average (momentum None) and the momenta put
    back.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)) and (
            module.track_running_stats
        ):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate to ``swa_lr`` over ``anneal_epochs`` steps, then hold it.

    With α(t) rising from 0 to 1 (cosine ``(1 − cos πt)/2`` or linear ``t``), t = step /
    anneal_epochs, the rate is ``α·swa_lr + (1 − α)·lr₀``, computed recursively from the
    current rate as PyTorch does.

    Args:
        optimizer: the optimizer whose rates are scheduled.
        swa_lr: the final rate, one for all groups or one per group.
        anneal_epochs: steps to reach ``swa_lr`` (0: at once).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        last_epoch: -1 starts a new schedule.
    """

    def __init__(
        self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1
    ) -> None:
        for value, group in zip(per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"SWALR: anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}"
            )
        if (
            isinstance(anneal_epochs, bool)
            or not isinstance(anneal_epochs, int)
            or anneal_epochs < 0
        ):
            raise ValueError(f"SWALR: anneal_epochs must be >= 0, got {anneal_epochs!r}")
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t):
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    @staticmethod
    def _initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self._anneal(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]
