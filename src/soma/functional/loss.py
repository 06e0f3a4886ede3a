"""Loss functions: how far predictions are from targets, reduced by 'mean', 'sum' or 'none'."""

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional._utils import shape_str

_xp = get_xp()


def _check_reduction(reduction, op):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _grad_of_reduction(gy, shape, reduction, dtype):
    """d(reduce(v))/dv as an array broadcastable to ``shape``."""
    if reduction == "none":
        return gy
    n = 1
    for s in shape:
        n *= s
    return gy / dtype.type(n) if reduction == "mean" else gy


class MSE(Function):
    """L = reduce((x - t)²)."""

    @staticmethod
    def forward(ctx, x, t, reduction):
        d = x - t
        ctx.save(d)
        ctx.reduction = reduction
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        # dL/dx = 2 (x - t) · (1/n for 'mean'),  dL/dt = -dL/dx
        g = 2 * d * _grad_of_reduction(gy, d.shape, ctx.reduction, d.dtype)
        return (g if ctx.needs_input_grad[0] else None, -g if ctx.needs_input_grad[1] else None)


def _check_same_shape(x, t, op):
    if x.shape != t.shape:
        raise ValueError(
            f"{op}: input shape {shape_str(x.shape)} and target shape {shape_str(t.shape)} differ; "
            f"they must match (did you forget .squeeze() or .unsqueeze(1)?)"
        )


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: ``mean((input - target)²)``.

    Shape:
        input and target of the same shape; output scalar (or that shape for 'none').
    """
    _check_reduction(reduction, "mse_loss")
    _check_same_shape(input, target, "mse_loss")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return MSE.apply(input, target, reduction)
