"""Statistics of samples: quantile / nanquantile, nansum / nanmean, cov / corrcoef, histogram,
the trapezoidal rule (trapezoid, cumulative_trapezoid), dist and renorm.

All are composites of differentiable ops (sort, gather, matmul, sums), so their gradients are
those of the ops they are built on; quantile's gradient goes to the (at most two) order
statistics it interpolates between.
"""

import math

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import as_tensor, normalize_axis, shape_str
from soma.functional.distance import _pnorm
from soma.functional.elementwise import add, clamp, div, mul, sub, where
from soma.functional.indexing import gather, narrow
from soma.functional.matrix import diagonal
from soma.functional.pointwise import nan_to_num
from soma.functional.reduction import cumsum, mean, sort
from soma.functional.reduction import sum as _sum
from soma.functional.shape import movedim, reshape, unsqueeze
from soma.functional.unary import _float, sqrt

_xp = get_xp()

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, op):
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"{op}: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
        )
    x = _float(input)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}")
    qa = q.array if isinstance(q, Tensor) else _xp.asarray(q, dtype=x.array.dtype)
    if qa.ndim > 1 or (qa.size and (qa.min() < 0 or qa.max() > 1)):
        raise RuntimeError(f"{op}: q must be a scalar or 1-D tensor of values in [0, 1], got {qa}")
    if dim is None:
        x, axis, keep_shape = reshape(x, (-1,)), 0, (1,) * input.ndim
    else:
        axis = normalize_axis(dim, x.ndim, op)
        keep_shape = None
    if x.shape[axis] == 0:
        raise RuntimeError(f"{op}: expected a non-empty input, got shape {shape_str(input.shape)}")
    s = movedim(sort(x, axis).values, axis, -1)  # NaN sorted last
    a = s.array
    n = a.shape[-1]
    nans = _xp.isnan(a).sum(axis=-1, keepdims=True)
    count = n - nans if ignore_nan else _xp.full_like(nans, n)
    # rank of each quantile among the valid sorted values: (..., nq)
    qs = qa.reshape(-1).astype(a.dtype)
    rank = qs * (_xp.maximum(count, 1) - 1).astype(a.dtype)
    if interpolation == "lower":
        rank = _xp.floor(rank)
    elif interpolation == "higher":
        rank = _xp.ceil(rank)
    elif interpolation == "nearest":
        rank = _xp.round(rank)
    lo = _xp.floor(rank).astype(_xp.int64)
    hi = _xp.minimum(lo + 1, _xp.maximum(count - 1, 0))
    weight = rank - lo if interpolation != "midpoint" else _xp.where(rank > lo, 0.5, 0.0)
    lo = _xp.broadcast_to(lo, a.shape[:-1] + (qs.size,))
    hi = _xp.broadcast_to(hi, a.shape[:-1] + (qs.size,))
    v_lo = gather(s, -1, Tensor._wrap(_xp.ascontiguousarray(lo)))
    v_hi = gather(s, -1, Tensor._wrap(_xp.ascontiguousarray(hi)))
    w = Tensor._wrap(_xp.broadcast_to(weight, lo.shape).astype(a.dtype))
    out = add(v_lo, mul(sub(v_hi, v_lo), w))
    bad = (nans > 0) if not ignore_nan else (count == 0)
    if bad.any():
        out = where(Tensor._wrap(_xp.broadcast_to(bad, lo.shape)), math.nan, out)
    out = movedim(out, -1, 0)  # the q dimension leads, as in PyTorch
    if keepdim:
        out = (
            unsqueeze(out, axis + 1)
            if keep_shape is None
            else reshape(out, (qs.size, *keep_shape))
        )
    if qa.ndim == 0:
        out = reshape(out, tuple(out.shape[1:]))
    return out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles along ``dim`` (all elements when None); NaN if any element is NaN.

    ``q`` is a number or a 1-D tensor in [0, 1]; for a tensor the result's first dimension runs
    over q. ``interpolation`` picks between the two order statistics around the rank
    ``q · (n - 1)``: linear, lower, higher, midpoint or nearest.
    """
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` over the non-NaN elements (NaN where all are NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns), with optional integer frequency and float observation weights."""
    x = _float(input)
    if x.ndim > 2:
        raise RuntimeError(f"cov: expected a 1-D or 2-D input, got shape {shape_str(x.shape)}")
    if x.ndim < 2:
        x = reshape(x, (1, -1))
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = as_tensor(fweights).to(x.dtype)
    if aweights is not None:
        a = as_tensor(aweights).to(x.dtype)
        w = a if w is None else mul(w, a)
    if w is None:
        mean = div(_sum(x, 1, keepdim=True), n)
        total, fact = float(n), n - correction
    else:
        total = _sum(w)
        mean = div(_sum(mul(x, w), 1, keepdim=True), total)
        if aweights is None:
            fact = sub(total, correction)
        else:
            fact = sub(
                total, div(mul(_sum(mul(w, as_tensor(aweights).to(x.dtype))), correction), total)
            )
    xm = sub(x, mean)
    xw = xm if w is None else mul(xm, w)
    c = div(xw @ xm.T, clamp(fact, 0, None) if isinstance(fact, Tensor) else max(fact, 0))
    return reshape(c, ()) if input.ndim < 2 else c


def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return div(c, c)

    d = sqrt(diagonal(c))
    r = div(div(c, unsqueeze(d, 1)), unsqueeze(d, 0))
    return clamp(r, -1.0, 1.0)


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """Counts of ``input`` in ``bins`` equal bins over ``range`` (or the listed bin edges), and
    the edges, as ``(hist, bin_edges)``. Carries no gradient."""
    a = input.array
    edges = bins.array if isinstance(bins, Tensor) else bins
    w = weight.array if isinstance(weight, Tensor) else weight
    hist, bin_edges = _xp.histogram(a, bins=edges, range=range, weights=w, density=density)
    return Tensor._wrap(hist.astype(a.dtype)), Tensor._wrap(bin_edges.astype(a.dtype))


def _spacing(y, x, dx, axis):
    if x is not None:
        xs = as_tensor(x)
        if xs.ndim == 1:  # one set of sample points for every slice
            shape = [1] * y.ndim
            shape[axis] = -1
            xs = reshape(xs, tuple(shape))
        length = xs.shape[axis]
        return sub(narrow(xs, axis, 1, length - 1), narrow(xs, axis, 0, length - 1))
    return 1.0 if dx is None else dx


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """∫ y along ``dim`` by the trapezoidal rule, with sample points ``x`` or spacing ``dx``."""
    y = _float(y)
    axis = normalize_axis(dim, y.ndim, "trapezoid")
    n = y.shape[axis]
    if n == 0:
        return _sum(y, axis)
    pairs = add(narrow(y, axis, 1, n - 1), narrow(y, axis, 0, n - 1))
    return _sum(mul(pairs, _spacing(y, x, dx, axis)), axis) / 2


trapz = trapezoid


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along ``dim`` (one element shorter than ``y``)."""
    y = _float(y)
    axis = normalize_axis(dim, y.ndim, "cumulative_trapezoid")
    n = y.shape[axis]
    if n == 0:
        return y
    pairs = add(narrow(y, axis, 1, n - 1), narrow(y, axis, 0, n - 1))
    return cumsum(mul(pairs, _spacing(y, x, dx, axis)), axis) / 2


def nansum(x, dim=None, keepdim=False, *, dtype=None):
    """``sum`` with NaN counted as zero."""
    return _sum(_nan_as_zero(x), dim, keepdim, dtype=dtype)


def nanmean(x, dim=None, keepdim=False, *, dtype=None):
    """``mean`` over the non-NaN elements."""
    if x.array.dtype.kind != "f":
        return mean(x, dim, keepdim, dtype=dtype)
    kept = Tensor._wrap((~_xp.isnan(x.array)).astype(x.array.dtype))
    total = _sum(_nan_as_zero(x), dim, keepdim)
    with _xp.errstate(invalid="ignore", divide="ignore"):
        return div(total, _sum(kept, dim, keepdim))


def _nan_as_zero(x):
    if x.array.dtype.kind != "f":
        return x
    return nan_to_num(x, 0.0, float("inf"), float("-inf"))


def dist(input, other, p=2):
    """The p-norm of ``input - other`` over all elements."""
    d = sub(_float(input), _float(other))
    return _pnorm(reshape(d, (-1,)), p, 0)


def renorm(input, p, dim, maxnorm):
    """Rescale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    x = _float(input)
    axis = normalize_axis(dim, x.ndim, "renorm")
    width = math.prod(n for d, n in enumerate(x.shape) if d != axis)  # not -1: empty tensors
    rows = reshape(movedim(x, axis, 0), (x.shape[axis], width))
    norm = _pnorm(rows, p, 1, keepdim=True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    shape = [1] * x.ndim
    shape[axis] = -1
    return mul(x, reshape(factor, tuple(shape)))


__all__ = [
    "corrcoef",
    "cov",
    "cumulative_trapezoid",
    "dist",
    "histogram",
    "nanquantile",
    "quantile",
    "renorm",
    "trapezoid",
    "trapz",
]
