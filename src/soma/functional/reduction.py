"""Reductions over one, several or all dimensions: sum, mean, prod, max/min, var/std, logsumexp.

All take PyTorch's ``dim`` (int, tuple or None for every dimension) and ``keepdim``. The
backward of a reduction broadcasts the output gradient back over the reduced axes.
"""

import builtins
from collections import namedtuple

from soma.autograd.function import Function, named
from soma.autograd.size import MinMax
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, repeated
from soma.functional import _reduction_kernels
from soma.functional._utils import normalize_axes, normalize_axis, shape_str
from soma.functional.elementwise import maximum, minimum
from soma.functional.elementwise import pow as _pow
from soma.functional.unary import _float
from soma.functional.unary import abs as _abs

_xp = get_xp()


def _expand_back(g, x_shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``x_shape`` (a read-only view, no copy)."""
    if g.size == 1:
        return repeated(g, x_shape)
    if not keepdim and axes:
        g = _xp.expand_dims(g, axes)
    return _xp.broadcast_to(g, x_shape)


def _whole(x, axes, keepdim, scale=1):
    """The compiled float32 sum of every element of x, times ``scale``, shaped as NumPy's
    result; None where it does not apply (see ``_reduction_kernels``)."""
    if len(axes) != x.ndim:
        return None
    total = _reduction_kernels.total(x)
    if total is None:
        return None
    value = total * scale
    if abs(value) < _ROUNDS_BELOW_FLOAT32_MAX:
        result = _xp.array(value, dtype=x.dtype)  # NOTE: 0.6 µs; _xp.full took 2.7
    else:  # beyond float32: inf, as PyTorch gives it, without NumPy's cast warning
        with _xp.errstate(over="ignore"):
            result = _xp.array(value, dtype=x.dtype)
    return result.reshape((1,) * x.ndim) if keepdim else result


_ROUNDS_BELOW_FLOAT32_MAX = 3.4e38  # below float32's largest value, 3.4028e38


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    """y = Σ x over ``axes``."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype=None):
        ctx.x_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        whole = None if dtype is not None else _whole(x, axes, keepdim)
        if whole is not None:
            return whole
        with _xp.errstate(invalid="ignore", over="ignore"):  # inf − inf = NaN, and a float
            return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)  # overflow = inf: no warning

    @staticmethod
    def backward(ctx, gy):
        return _expand_back(gy, ctx.x_shape, ctx.axes, ctx.keepdim)  # dy/dx_i = 1


def sum(x, dim=None, keepdim=False, *, dtype=None):
    """Sum of elements over ``dim`` (all when None). Integers and bools sum as int64."""
    axes = normalize_axes(dim, x.array.ndim, "sum")
    if dtype is None and x.array.dtype.kind in "biu":
        dtype = _xp.int64
    # PyTorch's names: SumBackward0 for the whole tensor, SumBackward1 over dims
    return named(Sum.apply(x, axes, keepdim, dtype), _over_dims("Sum", dim))


class Mean(Function):
    """y = (1/n) Σ x over ``axes``."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.x_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.n = _count(x.shape, axes)
        if not ctx.n:  # the mean of nothing: NaN, as PyTorch (NumPy would warn)
            return _xp.full_like(x.sum(axis=axes, keepdims=keepdim), _xp.nan)
        whole = _whole(x, axes, keepdim, 1 / ctx.n)
        return whole if whole is not None else x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        g = gy / gy.dtype.type(ctx.n) if ctx.n else gy  # dy/dx_i = 1/n
        return _expand_back(g, ctx.x_shape, ctx.axes, ctx.keepdim)


def mean(x, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim`` (all when None); needs a floating tensor, as in PyTorch."""
    if dtype is not None:
        x = x.to(dtype)
    if x.array.dtype.kind != "f":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, "
            f"got {x.array.dtype}; convert with .float() first"
        )
    axes = normalize_axes(dim, x.array.ndim, "mean")
    with _xp.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return named(Mean.apply(x, axes, keepdim), _over_dims("Mean", dim))


def _over_dims(op, dim):
    """PyTorch's node name of a reduction: ``<op>Backward0`` for all elements, ``1`` over dims."""
    return f"{op}Backward{0 if dim is None else 1}"


class Prod(Function):
    """y = Π x over one axis (or all); zeros handled exactly."""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save(x)
        ctx.axis, ctx.keepdim = axis, keepdim
        if axis is None:
            return x.prod()
        return x.prod(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        if x.size == 0:  # nothing to differentiate with respect to
            return _xp.zeros_like(x)
        axis = ctx.axis
        flat = x.reshape(-1) if axis is None else _xp.moveaxis(x, axis, -1)
        # dy/dx_i = Π_{j≠i} x_j = (product left of i) · (product right of i): exact with zeros
        ones = _xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = _xp.cumprod(_xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        rev = flat[..., ::-1]
        right = _xp.cumprod(_xp.concatenate([ones, rev[..., :-1]], axis=-1), axis=-1)[..., ::-1]
        others = left * right
        if axis is None:
            return (gy * others).reshape(x.shape)
        g = gy if ctx.keepdim else _xp.expand_dims(gy, axis)
        return _xp.moveaxis(others, -1, axis) * g


def prod(x, dim=None, keepdim=False, *, dtype=None):
    """Product of elements over one ``dim`` (all when None); ``dtype``: x is cast to it first."""
    if dtype is not None:
        x = x.to(dtype)
    axis = None if dim is None else normalize_axis(dim, x.array.ndim, "prod")
    if x.array.ndim == 0 and axis is not None:  # a 0-d tensor has one element along "dim 0"
        axis = None
    return Prod.apply(x, axis, keepdim)


# ---------------------------------------------------------------------------- max / min
class SelectAlongAxis(Function):
    """y = x at ``index`` along one axis (the values of max/min/topk with dim)."""

    @staticmethod
    def forward(ctx, x, index, axis, keepdim):
        ctx.x_shape, ctx.axis, ctx.keepdim = x.shape, axis, keepdim
        ctx.save(index)
        y = _xp.take_along_axis(x, index, axis=axis)
        return y if keepdim else y.squeeze(axis)

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axis)
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        # indices along the axis are distinct (one per output), so a put is a scatter-add
        _xp.put_along_axis(gx, index, g, axis=ctx.axis)
        return gx


class Extreme(Function):
    """y = max (or min) over ``axes``; tied elements share the gradient equally."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        ctx.save(x, y)
        ctx.axes, ctx.keepdim = axes, keepdim
        return y if keepdim else y.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        hit = x == y
        # d max / dx_i = 1/k for each of the k elements equal to the maximum, else 0
        share = hit / hit.sum(axis=ctx.axes, keepdims=True)
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axes)
        return (share * g).astype(gy.dtype, copy=False)


def check_selectable(x, axes, whole, name):
    """PyTorch's errors for a max/min-like reduction of an empty tensor: over the whole tensor
    (``whole``) a RuntimeError for max/min/amax/amin (an IndexError for argmax/argmin), over an
    empty dimension an IndexError; over non-empty dimensions of an empty tensor the result is
    empty, not an error."""
    if x.array.size:
        return
    shape = shape_str(x.shape)
    if whole:
        error = IndexError if name.startswith("arg") else RuntimeError
        raise error(
            f"{name}(): input of shape {shape} has no elements; name a non-empty dimension (dim=)"
        )
    for axis in axes:
        if x.array.shape[axis] == 0:
            raise IndexError(
                f"{name}(): reduction dimension {axis} of the input of shape {shape} is empty"
            )


def _names_no_dim(dim):
    """dim=None, () or []: a reduction over the whole tensor without naming a dimension."""
    return dim is None or (isinstance(dim, (tuple, list)) and not dim)


def _extreme(x, dim, keepdim, largest, name):
    axes = () if dim is None else (normalize_axis(dim, x.array.ndim, name),)
    check_selectable(x, axes, dim is None, name)
    if dim is None:
        return named(
            Extreme.apply(x, tuple(range(x.array.ndim)), False, largest),
            f"{name.title()}Backward1",
        )
    (axis,) = axes
    if x.array.ndim == 0:
        return MinMax(x, Tensor._wrap(_xp.zeros((), dtype=_xp.int64)))
    pick = _xp.argmax if largest else _xp.argmin
    index = _xp.expand_dims(pick(_nan_first(x.array, largest), axis=axis), axis)
    values = named(SelectAlongAxis.apply(x, index, axis, keepdim), f"{name.title()}Backward0")
    indices = index if keepdim else index.squeeze(axis)
    return MinMax(values, Tensor._wrap(indices.astype(_xp.int64)))


def _nan_first(a, largest):
    """PyTorch's max/min propagate NaN: make NaN win the arg-search."""
    if a.dtype.kind != "f" or not _xp.isnan(a).any():
        return a
    return _xp.where(_xp.isnan(a), _xp.inf if largest else -_xp.inf, a)


def max(x, dim=None, keepdim=False):
    """Largest value; with ``dim`` also the index of the first largest, as (values, indices).

    ``max(a, b)`` with two tensors is the element-wise ``maximum``.
    """
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _extreme(x, dim, keepdim, True, "max")


def min(x, dim=None, keepdim=False):
    """Smallest value; with ``dim`` also the index of the first smallest, as (values, indices)."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _extreme(x, dim, keepdim, False, "min")


def amax(x, dim=None, keepdim=False):
    """Largest value over ``dim`` (several dims allowed); ties share the gradient."""
    axes = normalize_axes(dim, x.array.ndim, "amax")
    check_selectable(x, axes, _names_no_dim(dim), "amax")
    return named(Extreme.apply(x, axes, keepdim, True), "AmaxBackward0")


def amin(x, dim=None, keepdim=False):
    """Smallest value over ``dim`` (several dims allowed); ties share the gradient."""
    axes = normalize_axes(dim, x.array.ndim, "amin")
    check_selectable(x, axes, _names_no_dim(dim), "amin")
    return named(Extreme.apply(x, axes, keepdim, False), "AminBackward0")


def argmax(x, dim=None, keepdim=False):
    """Index of the first largest value (over the flattened tensor when ``dim`` is None)."""
    return _arg_extreme(x, dim, keepdim, True, "argmax")


def argmin(x, dim=None, keepdim=False):
    """Index of the first smallest value (over the flattened tensor when ``dim`` is None)."""
    return _arg_extreme(x, dim, keepdim, False, "argmin")


def _arg_extreme(x, dim, keepdim, largest, name):
    axis = None if dim is None else normalize_axis(dim, x.array.ndim, name)
    check_selectable(x, () if axis is None else (axis,), axis is None, name)
    pick = _xp.argmax if largest else _xp.argmin
    a = _nan_first(x.array, largest)
    if axis is None:
        out = _xp.asarray(pick(a), dtype=_xp.int64)
        return Tensor._wrap(out.reshape((1,) * x.ndim if keepdim else ()))
    return Tensor._wrap(pick(a, axis=axis, keepdims=keepdim).astype(_xp.int64))


# ---------------------------------------------------------------------------- statistics
class Var(Function):
    """y = Σ (x - x̄)² / (n - correction) over ``axes``."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        count = _count(x.shape, axes)
        # over nothing the variance is NaN (0 / 0 below); NumPy's mean would warn on the way
        centered = x - (x.mean(axis=axes, keepdims=True) if count else 0)
        ctx.save(centered)
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.denom = builtins.max(count - correction, 0)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return (centered * centered).sum(axis=axes, keepdims=keepdim) / x.dtype.type(ctx.denom)

    @staticmethod
    def backward(ctx, gy):
        (centered,) = ctx.saved
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axes)
        # dy/dx_i = 2 (x_i - x̄) / (n - correction)   (the mean's own term sums to zero)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return g * centered * (2 / centered.dtype.type(ctx.denom))


def _spread_arguments(x, dim, unbiased, correction, op):
    """var/std's arguments checked: (float x, axes, correction)."""
    if isinstance(unbiased, (tuple, list)) or (
        isinstance(unbiased, int) and not isinstance(unbiased, bool)
    ):
        raise TypeError(f"{op}(): pass dims as dim=, unbiased must be a bool")
    x = _float(x)
    return x, normalize_axes(dim, x.array.ndim, op), _correction(unbiased, correction)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``; unbiased (Bessel's correction, n − 1) unless told otherwise."""
    x, axes, correction = _spread_arguments(x, dim, unbiased, correction, "var")
    return Var.apply(x, axes, keepdim, correction)


class Std(Function):
    """y = √(Σ (x - x̄)² / (n - correction)) over ``axes``."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        variance = Var.forward(ctx, x, axes, keepdim, correction)
        y = _xp.sqrt(variance)
        ctx.save(*ctx.saved, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        centered, y = ctx.saved
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axes)
        s = y if ctx.keepdim else _xp.expand_dims(y, ctx.axes)
        # dy/dx_i = (x_i - x̄) / ((n - correction) y); where y = 0 (all values equal) PyTorch
        # takes it as 0 rather than 0/0: every value moving together leaves y at 0
        with _xp.errstate(divide="ignore", invalid="ignore"):
            share = _xp.where(s == 0, 0, g / (s * centered.dtype.type(ctx.denom)))
        return (share * centered).astype(gy.dtype, copy=False)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments; its gradient is 0 where
    the values are all equal (PyTorch's choice for the 0/0 there)."""
    x, axes, correction = _spread_arguments(x, dim, unbiased, correction, "std")
    return Std.apply(x, axes, keepdim, correction)


class LogSumExp(Function):
    """y = log Σ e^x over ``axes``, shifted by the maximum so it never overflows."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        if _count(x.shape, axes):
            m = x.max(axis=axes, keepdims=True)
            m = _xp.where(_xp.isfinite(m), m, 0)
        else:  # log Σ over nothing = log 0 = −inf, as PyTorch
            m = x.sum(axis=axes, keepdims=True)
        with _xp.errstate(divide="ignore"):
            y = _xp.log(_xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        ctx.save(x, y)
        ctx.axes, ctx.keepdim = axes, keepdim
        return y if keepdim else y.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axes)
        return g * _xp.exp(x - y)  # dy/dx_i = softmax(x)_i


def logsumexp(x, dim, keepdim=False):
    """``log(sum(exp(x), dim))``, computed stably; an empty ``dim`` reduces every axis."""
    x = _float(x)
    if isinstance(dim, (tuple, list)) and not dim and x.ndim and not keepdim:
        # NOTE: PyTorch 2.13 raises here (its output shape check fails), though it reduces every
        # axis with keepdim=True; raising keeps code that runs on soma running on PyTorch
        raise RuntimeError(
            f"logsumexp(): dim=() with keepdim=False is refused for an input of shape "
            f"{tuple(x.shape)}, as in PyTorch; pass every dimension, or keepdim=True"
        )
    return LogSumExp.apply(x, normalize_axes(dim, x.array.ndim, "logsumexp"), keepdim)


class Norm2(Function):
    """y = √(Σ x²) over ``axes``; the gradient at y = 0 is taken as 0."""

    _backward_name = "LinalgVectorNormBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        y = _xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        ctx.save(x, y)
        ctx.axes, ctx.keepdim = axes, keepdim
        return y if keepdim else y.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axes)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return _xp.where(y == 0, 0, g * x / y).astype(gy.dtype, copy=False)  # dy/dx = x / y


def norm(x, p=2, dim=None, keepdim=False, *, dtype=None):
    """The p-norm over ``dim`` (all when None): ``(Σ |x|^p)^(1/p)``; p may be ``inf``, or
    ``'nuc'`` (the nuclear norm of the matrices over two dims); ``dtype``: x is cast to it
    first."""
    x = _float(x) if dtype is None else x.to(dtype)
    if p == "nuc":  # the sum of the singular values of the matrices over two dims
        pair = (-2, -1) if dim is None and x.ndim == 2 else dim
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise RuntimeError(
                f"norm: p='nuc' needs two dimensions (dim=(r, c)), got dim={dim} for an input "
                f"of shape {shape_str(x.shape)}"
            )
        return singular_value_norm(x, "nuc", pair, keepdim)
    axes = normalize_axes(dim, x.array.ndim, "norm")
    if p == 2 or p == "fro":
        return Norm2.apply(x, axes, keepdim)
    if p == float("inf"):
        return amax(_abs(x), dim, keepdim)
    if p == 1:
        return sum(_abs(x), dim, keepdim)
    return _pow(sum(_pow(_abs(x), p), dim, keepdim), 1.0 / p)


def singular_value_norm(x, order, pair, keepdim):
    """The norm of the matrices over dims ``pair`` from their singular values: their sum
    (``'nuc'``), the largest (``2``) or the smallest (``-2``)."""
    # lazy: the decomposition and shape modules are built on this one
    from soma.functional.decomposition import svdvals
    from soma.functional.shape import movedim, reshape

    r, c = (normalize_axis(d, x.array.ndim, "norm") for d in pair)
    values = svdvals(movedim(x, (r, c), (-2, -1)))
    out = {"nuc": sum, 2: amax, -2: amin}[order](values, -1)
    if keepdim:
        out = reshape(out, tuple(1 if d in (r, c) else n for d, n in enumerate(x.shape)))
    return out


class CumSum(Function):
    """y_i = Σ_{j ≤ i} x_j along one axis."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return _xp.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        # dL/dx_j = Σ_{i ≥ j} gy_i: a cumulative sum from the end
        return _xp.flip(_xp.cumsum(_xp.flip(gy, ctx.axis), axis=ctx.axis), ctx.axis)


def cumsum(x, dim, *, dtype=None):
    """Cumulative sum along ``dim``; integers and bools accumulate as int64, as in PyTorch."""
    if dtype is not None:
        x = x.to(dtype)
    elif x.array.dtype.kind in "biu" and x.array.dtype != _xp.int64:
        x = Tensor._wrap(x.array.astype(_xp.int64))
    axis = normalize_axis(dim, x.array.ndim, "cumsum")
    if x.array.ndim == 0:
        return CumSum.apply(x.reshape(1), 0).reshape(())
    return CumSum.apply(x, axis)


def all(x, dim=None, keepdim=False):
    axes = normalize_axes(dim, x.array.ndim, "all", empty_means_all=False)
    return Tensor._wrap(_xp.asarray(x.array.all(axis=axes, keepdims=keepdim)))


def any(x, dim=None, keepdim=False):
    axes = normalize_axes(dim, x.array.ndim, "any", empty_means_all=False)
    return Tensor._wrap(_xp.asarray(x.array.any(axis=axes, keepdims=keepdim)))


# ---------------------------------------------------------------------------- ordering
def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
    axis = normalize_axis(dim, x.array.ndim, "topk")
    n = x.array.shape[axis] if x.array.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): k={k} is out of range for dimension {dim} of size {n}")
    if x.array.ndim == 0:  # the one element (k = 1) or nothing (k = 0) — PyTorch keeps 0-d
        return MinMax(x.clone(), Tensor._wrap(_xp.zeros((), dtype=_xp.int64)))
    # NaN counts as the largest value, as in sort (negating the values would sort it last)
    index = _xp.take(argsort(x, dim, descending=largest).array, _xp.arange(k), axis=axis)
    values = SelectAlongAxis.apply(x, index, axis, True)
    return MinMax(values, Tensor._wrap(index.astype(_xp.int64)))


def sort(x, dim=-1, descending=False, *, stable=False):
    """Values sorted along ``dim`` and the permutation that sorts them.

    The sort is always stable (equal elements keep their order), so ``stable=True`` is what
    soma does anyway; NaN sorts as the largest value.
    """
    axis = normalize_axis(dim, x.array.ndim, "sort")
    index = argsort(x, dim, descending).array
    if x.array.ndim == 0:
        return MinMax(x.clone(), Tensor._wrap(index))
    return MinMax(SelectAlongAxis.apply(x, index, axis, True), Tensor._wrap(index))


def argsort(x, dim=-1, descending=False, *, stable=False):
    """The permutation that sorts ``x`` along ``dim`` (stable; see ``sort``)."""
    axis = normalize_axis(dim, x.array.ndim, "argsort")
    a = x.array
    if a.ndim == 0:
        return Tensor._wrap(_xp.zeros((), dtype=_xp.int64))
    if not descending:
        return Tensor._wrap(_xp.argsort(a, axis=axis, kind="stable").astype(_xp.int64))
    # descending and stable: sort the reversed array ascending, map back, reverse again
    n = a.shape[axis]
    rev = _xp.argsort(_xp.flip(a, axis), axis=axis, kind="stable")
    index = _xp.flip(n - 1 - rev, axis)
    return Tensor._wrap(_xp.ascontiguousarray(index).astype(_xp.int64))


# ---------------------------------------------------------------------------- paired statistics
def var_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var(x, ...), mean(x, ...))`` over the same dimensions."""
    x = _float(x)
    return (
        var(x, dim, unbiased, keepdim, correction=correction),
        mean(x, dim, keepdim),
    )


def std_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std(x, ...), mean(x, ...))`` over the same dimensions."""
    x = _float(x)
    return (
        std(x, dim, unbiased, keepdim, correction=correction),
        mean(x, dim, keepdim),
    )


def aminmax(x, *, dim=None, keepdim=False):
    """``(amin(x, dim), amax(x, dim))`` as a named pair ``(min, max)``."""
    return _AMinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


_AMinMax = namedtuple("aminmax", ["min", "max"])


def count_nonzero(x, dim=None):
    """The number of non-zero elements over ``dim`` (all when None), as int64."""
    axes = normalize_axes(dim, x.array.ndim, "count_nonzero")
    return Tensor._wrap(_xp.asarray(_xp.count_nonzero(x.array, axis=axes), dtype=_xp.int64))
