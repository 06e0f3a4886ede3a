"""Helpers every loss shares: the ``reduction`` argument, its gradient, target checks."""

from soma.autograd.errors import ShapeError
from soma.functional._utils import shape_str


def _check_reduction(reduction, op, allowed=("mean", "sum", "none")):
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: reduction must be one of {names}; got {reduction!r}")


def _reduce(values, reduction):
    if reduction == "mean":
        if values.size == 0:  # the mean of no losses: NaN, as PyTorch (NumPy's mean warns)
            return values.dtype.type("nan")
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
    return gy / dtype.type(n) if reduction == "mean" and n else gy  # n = 0: nothing to spread


def _check_same_shape(x, t, op):
    if tuple(x.shape) != tuple(t.shape):
        raise ShapeError(
            f"{op}: input shape {shape_str(x.shape)} and target shape {shape_str(t.shape)} "
            f"differ; they must match (did you forget .squeeze() or .unsqueeze(1)?)"
        )


def _pair_grads(ctx, g):
    """Gradients (g, -g) for losses of d = input - target."""
    return (g if ctx.needs_input_grad[0] else None, -g if ctx.needs_input_grad[1] else None)


def _prepare(input, target, reduction, op):
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


def _reduce_tensor(v, reduction):
    """``reduction`` applied to a Tensor (for losses composed of other ops)."""
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    return v
