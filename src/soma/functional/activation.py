"""Activation functions: element-wise non-linearities and the softmax family.

Each is stable at extreme inputs: no overflow warnings and no NaN for |x| = 1e4.
"""

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional._utils import normalize_axis
from soma.functional.elementwise import _float, sigmoid, tanh

_xp = get_xp()

__all__ = ["log_softmax", "relu", "sigmoid", "softmax", "tanh"]


class ReLU(Function):
    """y = max(x, 0)."""

    @staticmethod
    def forward(ctx, x):
        # NOTE: x * mask beats np.maximum(x, 0), whose scalar-broadcast loop is not vectorised
        positive = x > 0
        ctx.save(positive)
        return x * positive

    @staticmethod
    def backward(ctx, gy):
        (positive,) = ctx.saved
        return gy * positive  # dy/dx = 1 for x > 0, else 0


def relu(x, inplace=False):
    """Rectified linear unit ``max(x, 0)``."""
    return ReLU.apply(x)


class Softmax(Function):
    """y_i = e^{x_i} / Σ_j e^{x_j} along one axis (shifted by the max: no overflow)."""

    @staticmethod
    def forward(ctx, x, axis):
        z = _xp.exp(x - x.max(axis=axis, keepdims=True))
        y = z / z.sum(axis=axis, keepdims=True)
        ctx.save(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        # dL/dx_i = y_i (gy_i - Σ_j gy_j y_j)
        return y * (gy - (gy * y).sum(axis=ctx.axis, keepdims=True))


def _softmax_dim(x, dim, name):
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return normalize_axis(dim, x.ndim, name)


def softmax(x, dim=None, dtype=None):
    """Normalised exponentials along ``dim``: non-negative, summing to one."""
    x = _float(x if dtype is None else x.to(dtype))
    return Softmax.apply(x, _softmax_dim(x, dim, "softmax"))


class LogSoftmax(Function):
    """y_i = x_i - log Σ_j e^{x_j} along one axis; stable for large inputs."""

    @staticmethod
    def forward(ctx, x, axis):
        z = x - x.max(axis=axis, keepdims=True)
        y = z - _xp.log(_xp.exp(z).sum(axis=axis, keepdims=True))
        ctx.save(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        # dL/dx_i = gy_i - p_i Σ_j gy_j,  with p = e^y
        return gy - _xp.exp(y) * gy.sum(axis=ctx.axis, keepdims=True)


def log_softmax(x, dim=None, dtype=None):
    """Logarithm of ``softmax`` along ``dim``, computed without forming the softmax."""
    x = _float(x if dtype is None else x.to(dtype))
    return LogSoftmax.apply(x, _softmax_dim(x, dim, "log_softmax"))
