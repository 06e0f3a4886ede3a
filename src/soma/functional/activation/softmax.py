"""The softmax family: softmax, log_softmax and softmin along one dimension.

Each shifts its input by the maximum along the axis first, so no exponential overflows.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import lift_0d, normalize_axis, reduce_axis
from soma.functional.activation import _kernels
from soma.functional.unary import _float, neg

_xp = get_xp()


def _row_max(x, axis):
    """The maximum along ``axis`` (kept as a length-1 axis), the shift that keeps e^x finite;
    0 along an empty axis, where there is nothing to shift (NumPy's maximum has no identity)."""
    if x.shape[axis] == 0:
        return _xp.zeros(x.shape[:axis] + (1,) + x.shape[axis + 1 :], dtype=x.dtype)
    return reduce_axis(_xp.maximum, x, axis)


class Softmax(Function):
    """y_i = e^{x_i} / Σ_j e^{x_j} along one axis (shifted by the max: no overflow)."""

    @staticmethod
    def forward(ctx, x, axis):
        z = x - _row_max(x, axis)
        _kernels.exp(z, out=z)
        z /= reduce_axis(_xp.add, z, axis)
        ctx.save(z)
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        # dL/dx_i = y_i (gy_i - Σ_j gy_j y_j)
        g = gy * y
        g -= y * reduce_axis(_xp.add, g, ctx.axis)
        return g


def _softmax_dim(x, dim, name):
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return normalize_axis(dim, x.ndim, name)


@lift_0d
def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Normalised exponentials along ``dim``: non-negative, summing to one.

    Args:
        input: a tensor of any shape.
        dim: the dimension that sums to one (give it explicitly; None picks PyTorch's legacy
            default: 0 for 0-, 1- and 3-d inputs, else 1).
        dtype: compute in this dtype (the input is converted first).

    Example:
        >>> import soma
        >>> softmax(soma.tensor([1.0, 1.0, 2.0]), dim=0)
        tensor([0.2119, 0.2119, 0.5761])
    """
    x = _float(input if dtype is None else input.to(dtype))
    return Softmax.apply(x, _softmax_dim(x, dim, "softmax"))


class LogSoftmax(Function):
    """y_i = x_i - log Σ_j e^{x_j} along one axis; stable for large inputs."""

    @staticmethod
    def forward(ctx, x, axis):
        y = x - _row_max(x, axis)
        with _xp.errstate(divide="ignore"):  # the sum is ≥ 1 (e^0 at the maximum), or 0 over
            y -= _xp.log(reduce_axis(_xp.add, _kernels.exp(y), axis))  # an empty axis
        ctx.save(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        # dL/dx_i = gy_i - p_i Σ_j gy_j,  with p = e^y
        return gy - _kernels.exp(y) * reduce_axis(_xp.add, gy, ctx.axis)


@lift_0d
def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Logarithm of ``softmax`` along ``dim``, computed without forming the softmax.

    Example:
        >>> import soma
        >>> log_softmax(soma.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    x = _float(input if dtype is None else input.to(dtype))
    return LogSoftmax.apply(x, _softmax_dim(x, dim, "log_softmax"))


@lift_0d
def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``softmax(-x)`` along ``dim``: the smallest entries get the largest weights.

    Example:
        >>> import soma
        >>> softmin(soma.tensor([1.0, 1.0, 2.0]), dim=0)
        tensor([0.4223, 0.4223, 0.1554])
    """
    x = _float(input if dtype is None else input.to(dtype))
    return Softmax.apply(neg(x), _softmax_dim(x, dim, "softmin"))
