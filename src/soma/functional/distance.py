"""Distances and similarities between vectors: the p-norm of differences (pairwise_distance,
cdist, pdist), cosine similarity, and L_p normalisation.

All build on ``PNorm``, a p-norm over one axis whose gradient is taken as 0 where the norm is
0 (two identical points), as PyTorch does, instead of the 0/0 the formula would give.
"""

import math

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import ShapeError, normalize_axis, shape_str
from soma.functional.elementwise import clamp, div, mul, sub
from soma.functional.indexing import getitem
from soma.functional.reduction import norm as _norm_over
from soma.functional.reduction import sum as _sum
from soma.functional.shape import expand, reshape, unsqueeze
from soma.functional.unary import _float

_xp = get_xp()


class PNorm(Function):
    """y = (Σ |x|^p)^(1/p) over one axis; p may be 0 (a count), ∞ (the largest |x|) or any p > 0."""

    @staticmethod
    def forward(ctx, x, p, axis, keepdim):
        a = _xp.abs(x)
        if p == math.inf:
            y = (
                a.max(axis=axis, keepdims=True)
                if x.shape[axis]
                else _xp.zeros_like(a.sum(axis=axis, keepdims=True))
            )
        elif p == 0:
            y = (a != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
        elif p == 1:
            y = a.sum(axis=axis, keepdims=True)
        elif p == 2:
            y = _xp.sqrt((x * x).sum(axis=axis, keepdims=True))
        else:
            y = (a**p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        ctx.save(x, y)
        ctx.p, ctx.axis, ctx.keepdim = p, axis, keepdim
        return y if keepdim else y.squeeze(axis)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved
        p = ctx.p
        g = gy if ctx.keepdim else _xp.expand_dims(gy, ctx.axis)
        sign = _xp.sign(x)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return _xp.zeros_like(x)
            if p == 1:
                d = sign  # d|x|/dx
            elif p == math.inf:
                # shared evenly by the elements where |x| reaches the maximum
                hit = _xp.abs(x) == y
                d = sign * hit / _xp.maximum(hit.sum(axis=ctx.axis, keepdims=True), 1)
            elif p == 2:
                d = x / y
            else:
                # dy/dx_i = sign(x_i) |x_i|^(p-1) / y^(p-1)
                d = sign * (_xp.abs(x) / y) ** (p - 1)
            d = _xp.where((y == 0) | (x == 0), 0, d)  # the gradient at a zero norm is taken as 0
        return (g * d).astype(x.dtype, copy=False)


def _pnorm(x, p, dim, keepdim=False):
    p = float(p)
    if p < 0:
        raise RuntimeError(f"p-norm: p must be non-negative, got {p}")
    return PNorm.apply(x, p, normalize_axis(dim, x.array.ndim, "norm"), keepdim)


def _clamp_values_only(t, min):
    """``t`` with its values clamped at ``min`` but the gradient of ``t`` itself.

    NOTE: PyTorch clamps the norms of cosine_similarity in place under no_grad, so the
    gradient passes through the clamp unchanged; this reproduces that.
    """
    d = t.detach()
    return t + (clamp(d, min, None) - d)


def _broadcast_shape(a, b, op):
    try:
        return _xp.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ShapeError(
            f"{op}: shapes {shape_str(a.shape)} and {shape_str(b.shape)} do not broadcast"
        ) from None


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(‖input‖_p, eps)`` along ``dim``: unit vectors (zero vectors stay zero).

    Example:
        >>> import soma
        >>> normalize(soma.tensor([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result instead")
    x = _float(input)
    if x.array.ndim == 0:
        x = reshape(x, (1,))
        return reshape(normalize(x, p, 0, eps), ())
    if isinstance(dim, (tuple, list)):  # the norm over several dimensions at once
        length = _norm_over(x, p, tuple(dim), keepdim=True)
    else:
        length = _pnorm(x, p, dim, keepdim=True)
    return div(x, clamp(length, eps, None))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast together):
    ``Σ (x1 / max(‖x1‖, eps)) · (x2 / max(‖x2‖, eps))``."""
    a, b = _float(x1), _float(x2)
    shape = tuple(_broadcast_shape(a, b, "cosine_similarity"))
    axis = normalize_axis(dim, len(shape), "cosine_similarity")
    # NOTE: the norms are of the broadcast vectors, as in PyTorch (it matters when ``dim``
    # itself is broadcast)
    a, b = expand(a, shape), expand(b, shape)
    na = _clamp_values_only(_pnorm(a, 2, axis, keepdim=True), eps)
    nb = _clamp_values_only(_pnorm(b, 2, axis, keepdim=True), eps)
    return _sum(mul(div(a, na), div(b, nb)), axis)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``‖x1 - x2 + eps‖_p`` over the last dimension (the rows of x1 and x2 paired up)."""
    a, b = _float(x1), _float(x2)
    _broadcast_shape(a, b, "pairwise_distance")
    ndim = max(a.array.ndim, b.array.ndim)
    diff = sub(a, b) + eps
    if ndim == 0:
        return _pnorm(reshape(diff, (1,)), p, 0, keepdim=False)
    return _pnorm(diff, p, -1, keepdim)


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Distances ``‖x1[..., i, :] - x2[..., j, :]‖_p`` between every row of x1 and of x2.

    Shape:
        x1 (*, P, M), x2 (*, R, M) → (*, P, R), the leading * broadcast.
    """
    a, b = _float(x1), _float(x2)
    if a.array.ndim < 2 or b.array.ndim < 2 or a.array.shape[-1] != b.array.shape[-1]:
        raise RuntimeError(
            f"cdist: expected (*, P, M) and (*, R, M) tensors, got {shape_str(a.shape)} and "
            f"{shape_str(b.shape)}"
        )
    diff = sub(unsqueeze(a, -2), unsqueeze(b, -3))  # (*, P, R, M)
    return _pnorm(diff, p, -1)


def pdist(input, p=2.0):
    """The distances between every pair of rows i < j of a (N, M) tensor, as a 1-D tensor."""
    x = _float(input)
    if x.array.ndim != 2:
        raise RuntimeError(f"pdist: expected a 2-D tensor, got shape {shape_str(x.shape)}")
    i, j = _xp.triu_indices(x.array.shape[0], 1)
    return _pnorm(sub(getitem(x, Tensor._wrap(i)), getitem(x, Tensor._wrap(j))), p, -1)
