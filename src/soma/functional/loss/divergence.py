"""Divergences between distributions: Kullback-Leibler."""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.loss._reduction import (
    _check_reduction,
    _grad_of_reduction,
    _prepare,
    _reduce,
)

_xp = get_xp()


# ---------------------------------------------------------------------------- KL divergence
class KLDiv(Function):
    """L = reduce(t (log t - x)), or reduce(e^t (t - x)) when the target is a log-probability."""

    @staticmethod
    def forward(ctx, x, t, *, log_target, reduction):
        with _xp.errstate(divide="ignore", invalid="ignore"):
            if log_target:
                p = _xp.exp(t)
                v = p * (t - x)
            else:
                p = t
                # t log t, taken as 0 where t = 0 (PyTorch's xlogy)
                v = _xp.where(t == 0, 0, t * _xp.log(t)).astype(x.dtype, copy=False) - t * x
        ctx.save(x, t, p)
        ctx.log_target, ctx.reduction = log_target, reduction
        if reduction == "batchmean":
            return v.sum() / x.dtype.type(x.shape[0] if x.ndim else 1)
        return _reduce(v, reduction)

    @staticmethod
    def backward(ctx, gy):
        x, t, p = ctx.saved
        r = ctx.reduction
        if r == "batchmean":
            scale = gy / gy.dtype.type(x.shape[0] if x.ndim else 1)
        else:
            scale = _grad_of_reduction(gy, x.shape, r, x.dtype)
        gx = -p * scale if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            with _xp.errstate(divide="ignore", invalid="ignore"):
                # d/dt: log t + 1 - x, or e^t (t - x + 1) for log targets
                gt = (p * (t - x + 1) if ctx.log_target else _xp.log(t) + 1 - x) * scale
        return gx, gt


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """Kullback-Leibler divergence KL(target ‖ q), with ``input = log q`` (log-probabilities).

    Args:
        input: log-probabilities (e.g. from ``log_softmax``).
        target: probabilities, or log-probabilities when ``log_target``.
        reduction: ``'batchmean'`` (sum / batch size: the true KL per sample), ``'sum'``,
            ``'mean'`` (over every element, as PyTorch) or ``'none'``.

    Example:
        >>> import soma
        >>> q = soma.tensor([[0.5, 0.5]]).log()
        >>> kl_div(q, soma.tensor([[1.0, 0.0]]), reduction="batchmean")
        tensor(0.6931)
    """
    _check_reduction(reduction, "kl_div", ("mean", "batchmean", "sum", "none"))
    input, target = _prepare(input, target, "none", "kl_div")
    return KLDiv.apply(input, target, log_target=bool(log_target), reduction=reduction)


# ---------------------------------------------------------------------------- cosine embedding
_COSINE_EPS = 1e-12  # PyTorch's: keeps |x|² away from 0
