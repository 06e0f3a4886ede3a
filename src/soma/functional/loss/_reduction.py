"""Helpers every loss shares: the ``reduction`` argument, its gradient, target checks."""

import warnings

from soma.autograd.errors import ShapeError
from soma.autograd.size import display_name
from soma.backend import get_xp
from soma.functional._utils import shape_str

_xp = get_xp()


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
            f"differ and do not broadcast (did you forget .squeeze() or .unsqueeze(1)?)"
        )


def _pair_grads(ctx, g):
    """Gradients (g, -g) for losses of d = input - target."""
    return (g if ctx.needs_input_grad[0] else None, -g if ctx.needs_input_grad[1] else None)


# Element-wise losses whose differing shapes PyTorch broadcasts with a warning (kl_div: silently)
_WARN_ON_BROADCAST = ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss")


def _prepare(input, target, reduction, op):
    """Check the reduction, cast the target to the input's dtype, and broadcast the two as
    PyTorch does when their shapes differ: an input of (N, 1) against a target of (N,) becomes
    an (N, N) loss, almost never what was meant, so the regression losses warn with PyTorch's
    message (and shapes that do not broadcast raise)."""
    _check_reduction(reduction, op)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    if tuple(input.shape) != tuple(target.shape):
        try:
            shape = _xp.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except ValueError:
            _check_same_shape(input, target, op)
        if op in _WARN_ON_BROADCAST:
            warnings.warn(
                f"Using a target size ({display_name()}.Size({list(target.shape)})) that is "
                f"different to the input size ({display_name()}.Size({list(input.shape)})). "
                "This will likely lead to incorrect results due to broadcasting. Please ensure "
                "they have the same size.",
                stacklevel=3,
            )
        input, target = input.expand(*shape), target.expand(*shape)
    return input, target


def _reduce_tensor(v, reduction):
    """``reduction`` applied to a Tensor (for losses composed of other ops)."""
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    return v
