"""Cumulative ops along one dimension: cumprod, cummax, cummin, logcumsumexp (cumsum is in
``reduction.py``).

Each output position i depends on the prefix x_0 … x_i, so each backward pass runs a reverse
accumulation over the same axis. A 0-d tensor is treated as a single element (dim 0 or -1).
"""

from soma.autograd.function import Function
from soma.autograd.size import MinMax
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import scatter_add as _scatter_add
from soma.functional._utils import normalize_axis
from soma.functional.indexing import _full_index
from soma.functional.shape import reshape
from soma.functional.unary import _float

_xp = get_xp()


def _flip_cumsum(g, axis):
    """Σ_{i ≥ j} g_i along ``axis``: a cumulative sum taken from the end."""
    return _xp.flip(_xp.cumsum(_xp.flip(g, axis), axis=axis), axis)


def _axis(x, dim, op):
    return normalize_axis(dim, x.array.ndim, op)


def _as_1d(x):
    """0-d tensors are accumulated as one-element vectors (then reshaped back)."""
    return reshape(x, (1,)) if x.array.ndim == 0 else x


def _back_to_0d(x, y):
    return reshape(y, ()) if x.array.ndim == 0 else y


class CumProd(Function):
    """y_i = Π_{j ≤ i} x_j along one axis."""

    @staticmethod
    def forward(ctx, x, axis):
        y = _xp.cumprod(x, axis=axis)
        ctx.save(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        axis = ctx.axis
        if _xp.all(x != 0):
            # dL/dx_j = Σ_{i ≥ j} gy_i y_i / x_j
            return _flip_cumsum(gy * y, axis) / x
        # with zeros: dL/dx_j = P_{j-1} S_j, P the exclusive prefix product and
        # S_j = gy_j + x_{j+1} S_{j+1} (a reverse recurrence, exact with zeros)
        xm, gm = _xp.moveaxis(x, axis, 0), _xp.moveaxis(gy, axis, 0)
        n = xm.shape[0]
        s = _xp.empty_like(gm)
        s[n - 1] = gm[n - 1]
        for j in range(n - 2, -1, -1):
            s[j] = gm[j] + xm[j + 1] * s[j + 1]
        prefix = _xp.ones_like(xm)
        prefix[1:] = _xp.cumprod(xm[:-1], axis=0)
        return _xp.moveaxis(prefix * s, 0, axis)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along ``dim``: ``y_i = x_0 · x_1 ⋯ x_i``. Integers accumulate as int64.

    Example:
        >>> import soma
        >>> soma.cumprod(soma.tensor([1.0, 2.0, 3.0]), 0).tolist()
        [1.0, 2.0, 6.0]
    """
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "biu":
        input = Tensor._wrap(input.array.astype(_xp.int64))
    x = _as_1d(input)
    return _back_to_0d(input, CumProd.apply(x, _axis(x, dim, "cumprod")))


class CumSelect(Function):
    """y_i = x at index_i along one axis (the values of cummax/cummin)."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.save(index)
        ctx.axis, ctx.x_shape = axis, x.shape
        return _xp.take_along_axis(x, index, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        # several outputs may point at the same element: accumulate
        _scatter_add(gx, _full_index(index, ctx.axis), gy)
        return gx


def _cum_extreme(input, dim, largest, op):
    x = _as_1d(input)
    axis = _axis(x, dim, op)
    a = x.array
    run = (_xp.maximum if largest else _xp.minimum).accumulate(a, axis=axis)
    # the index moves to every element equal to the running extreme (PyTorch keeps the last
    # tie) and to every NaN, which then propagates
    hit = a == run
    if a.dtype.kind == "f":
        hit |= _xp.isnan(a)
    shape = [1] * a.ndim
    if a.ndim:
        shape[axis] = a.shape[axis]
    positions = _xp.arange(a.shape[axis] if a.ndim else 1).reshape(shape)
    index = _xp.maximum.accumulate(_xp.where(hit, positions, 0), axis=axis).astype(_xp.int64)
    values = CumSelect.apply(x, index, axis)
    return MinMax(_back_to_0d(input, values), _back_to_0d(input, Tensor._wrap(index)))


def cummax(input, dim):
    """Running maximum along ``dim`` and the index where it was reached, as (values, indices)."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input, dim):
    """Running minimum along ``dim`` and the index where it was reached, as (values, indices)."""
    return _cum_extreme(input, dim, False, "cummin")


class LogCumSumExp(Function):
    """y_i = log Σ_{j ≤ i} e^{x_j}, accumulated with logaddexp (never overflows)."""

    @staticmethod
    def forward(ctx, x, axis):
        y = _xp.logaddexp.accumulate(x, axis=axis)
        ctx.save(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        axis = ctx.axis
        # dL/dx_j = e^{x_j} Σ_{i ≥ j} gy_i e^{-y_i}, summed in log space for each sign of gy
        gx = _xp.zeros_like(x)
        with _xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for sign in (1, -1):
                part = _xp.log(_xp.clip(sign * gy, 0, _xp.inf)) - y
                tail = _xp.flip(_xp.logaddexp.accumulate(_xp.flip(part, axis), axis=axis), axis)
                gx += sign * _xp.exp(x + tail)
        return _xp.where(_xp.isnan(gx), 0, gx).astype(x.dtype, copy=False)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(x), dim))``, computed stably."""
    x = _as_1d(_float(input))
    return _back_to_0d(input, LogCumSumExp.apply(x, _axis(x, dim, "logcumsumexp")))
