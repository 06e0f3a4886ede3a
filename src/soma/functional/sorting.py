"""Order statistics and counting: kthvalue, median, nanmedian, mode, msort, unique,
unique_consecutive, bincount, histc, bucketize, searchsorted.

``sort``, ``argsort`` and ``topk`` are in ``reduction.py``. The selecting ops (kthvalue, median
with a dim, mode) return ``(values, indices)`` and send the gradient to the selected element;
the counting ops carry no gradient. Ties are broken by a stable sort, so the first of equal
elements (in index order) comes first.
"""

from soma.autograd.function import Function
from soma.autograd.size import MinMax
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import normalize_axis, shape_str
from soma.functional.reduction import SelectAlongAxis, sort

_xp = get_xp()


def _sorted_index(a, axis):
    """Stable ascending order along ``axis``, with NaN last (as in PyTorch)."""
    return _xp.argsort(a, axis=axis, kind="stable")


def _select(input, axis, index, keepdim, op):
    """(values, indices) at ``index`` (kept dims) along ``axis``; 0-d inputs pass through."""
    if input.array.ndim == 0:
        return MinMax(input.clone(), Tensor._wrap(_xp.zeros((), dtype=_xp.int64)))
    values = SelectAlongAxis.apply(input, index, axis, keepdim)
    index = index if keepdim else index.squeeze(axis)
    return MinMax(values, Tensor._wrap(index.astype(_xp.int64)))


def _length(input, dim, op):
    axis = normalize_axis(dim, input.array.ndim, op)
    n = input.array.shape[axis] if input.array.ndim else 1
    return axis, n


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` (k counts from 1) and its index."""
    axis, n = _length(input, dim, "kthvalue")
    if n == 0:
        raise IndexError(
            f"kthvalue(): expected a non-empty dimension {dim}, got shape {shape_str(input.shape)}"
        )
    if not 1 <= k <= n:
        raise RuntimeError(
            f"kthvalue(): selected number k={k} out of range for dimension of size {n}"
        )
    if input.array.ndim == 0:
        return _select(input, axis, None, keepdim, "kthvalue")
    order = _sorted_index(input.array, axis)
    index = _xp.take(order, [k - 1], axis=axis)
    return _select(input, axis, index, keepdim, "kthvalue")


class EvenShare(Function):
    """y = the value ``v`` picked from x; the gradient is shared by all elements equal to v."""

    @staticmethod
    def forward(ctx, x, v):
        ctx.save(x, v)
        return _xp.asarray(v, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        x, v = ctx.saved
        hit = (x == v) | (_xp.isnan(x) & _xp.isnan(v)) if x.dtype.kind == "f" else x == v
        return gy * hit / max(int(hit.sum()), 1)


def _median_all(input, ignore_nan):
    a = input.array.reshape(-1)
    if ignore_nan and a.dtype.kind == "f":
        a = a[~_xp.isnan(a)]
    if a.size == 0:
        v = _xp.asarray(_xp.nan, dtype=input.array.dtype)
    elif not ignore_nan and a.dtype.kind == "f" and _xp.isnan(a).any():
        v = _xp.asarray(_xp.nan, dtype=a.dtype)
    else:
        v = _xp.sort(a)[(a.size - 1) // 2]
    return EvenShare.apply(input, _xp.asarray(v))


def median(input, dim=None, keepdim=False):
    """The lower median: the middle value (the smaller of the two middle ones for even counts).

    Without ``dim``: one value, NaN if any element is NaN; its gradient is shared among the
    elements equal to it. With ``dim``: ``(values, indices)`` along ``dim``.
    """
    if dim is None:
        return _median_all(input, ignore_nan=False)
    return _median_dim(input, dim, keepdim, ignore_nan=False, op="median")


def nanmedian(input, dim=None, keepdim=False):
    """``median`` that ignores NaN (NaN only where every element is NaN)."""
    if dim is None:
        return _median_all(input, ignore_nan=True)
    return _median_dim(input, dim, keepdim, ignore_nan=True, op="nanmedian")


def _median_dim(input, dim, keepdim, ignore_nan, op):
    axis, n = _length(input, dim, op)
    if n == 0:
        raise IndexError(
            f"{op}(): expected a non-empty dimension {dim}, got shape {shape_str(input.shape)}"
        )
    if input.array.ndim == 0:
        return _select(input, axis, None, keepdim, op)
    a = input.array
    order = _sorted_index(a, axis)  # NaN sort last
    if a.dtype.kind == "f":
        nans = _xp.isnan(a).sum(axis=axis, keepdims=True)
    else:
        nans = _xp.zeros(a.shape[:axis] + (1,) + a.shape[axis + 1 :], dtype=_xp.int64)
    if ignore_nan:
        # the lower median of the non-NaN values (the first NaN when all are NaN)
        pos = _xp.maximum((n - nans - 1) // 2, 0)
    else:
        # with any NaN, the median is NaN: pick the first NaN, which sorted to position n - nans
        pos = _xp.where(nans > 0, n - nans, (n - 1) // 2)
    index = _xp.take_along_axis(order, pos, axis=axis)
    return _select(input, axis, index, keepdim, op)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and
    the index of its last occurrence, as ``(values, indices)``."""
    axis, n = _length(input, dim, "mode")
    if n == 0:
        raise IndexError(
            f"mode(): expected a non-empty dimension, got shape {shape_str(input.shape)}"
        )
    if input.array.ndim == 0:
        return _select(input, axis, None, keepdim, "mode")
    a = _xp.moveaxis(input.array, axis, -1)
    order = _xp.argsort(a, axis=-1, kind="stable")
    s = _xp.take_along_axis(a, order, axis=-1)
    # run lengths of equal values in the sorted rows; the longest run wins, the first (smallest)
    # on ties; within the run, the element with the largest original index
    new_run = _xp.ones(s.shape, dtype=bool)
    new_run[..., 1:] = s[..., 1:] != s[..., :-1]
    run_id = _xp.cumsum(new_run, axis=-1) - 1
    length = _xp.zeros(s.shape, dtype=_xp.int64)
    flat_rows = _xp.arange(s.size // n)[:, None]
    _xp.add.at(length.reshape(-1, n), (flat_rows, run_id.reshape(-1, n)), 1)
    best_run = _xp.argmax(length, axis=-1)[..., None]
    in_best = run_id == best_run
    last = _xp.where(in_best, order, -1).max(axis=-1, keepdims=True)
    index = _xp.moveaxis(last, -1, axis)
    return _select(input, axis, index, keepdim, "mode")


def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse map and the counts.

    With ``dim``, the distinct slices along that dimension. Carries no gradient.
    """
    a = input.array
    axis = None if dim is None else normalize_axis(dim, a.ndim, "unique")
    values, inverse, counts = _xp.unique(
        a, return_inverse=True, return_counts=True, axis=axis, equal_nan=False
    )
    if axis is None:
        inverse = inverse.reshape(a.shape)
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(_xp.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(_xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive values (or slices along ``dim``) to one."""
    a = input.array
    if dim is None:
        flat = a.reshape(-1)
        change = flat[1:] != flat[:-1]
        values_of = flat
    else:
        axis = normalize_axis(dim, a.ndim, "unique_consecutive")
        values_of = _xp.moveaxis(a, axis, 0)
        diff = values_of[1:] != values_of[:-1]
        change = diff.reshape(diff.shape[0], -1).any(axis=1)
    starts = (
        _xp.concatenate([_xp.ones(1, dtype=bool), change])
        if values_of.shape[0]
        else _xp.zeros(0, bool)
    )
    keep = _xp.nonzero(starts)[0]
    values = values_of[keep]
    if dim is not None:
        values = _xp.moveaxis(values, 0, axis)
    out = [Tensor._wrap(_xp.ascontiguousarray(values))]
    if return_inverse:
        inverse = (_xp.cumsum(starts) - 1).astype(_xp.int64)
        out.append(Tensor._wrap(inverse.reshape(a.shape) if dim is None else inverse))
    if return_counts:
        out.append(Tensor._wrap(_xp.diff(_xp.append(keep, len(starts))).astype(_xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Occurrences of each non-negative integer (or the sum of ``weights`` for each)."""
    a = input.array
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise RuntimeError(
            f"bincount only supports 1-d non-negative integral inputs, got dtype {a.dtype} and "
            f"shape {shape_str(a.shape)}"
        )
    if a.size and a.min() < 0:
        raise RuntimeError(f"bincount: input must be non-negative, got {int(a.min())}")
    if weights is None:
        return Tensor._wrap(_xp.bincount(a, minlength=minlength).astype(_xp.int64))
    w = weights.array if isinstance(weights, Tensor) else _xp.asarray(weights)
    dtype = w.dtype if w.dtype.kind == "f" else _xp.float64
    return Tensor._wrap(_xp.bincount(a, weights=w, minlength=minlength).astype(dtype))


def histc(input, bins=100, min=0, max=0):
    """Histogram of ``bins`` equal-width bins over [min, max] (the data's range when equal);
    elements outside are ignored. Returns counts in the input's float dtype."""
    a = input.array
    if a.dtype.kind != "f":
        raise RuntimeError(f"histc: expected a floating-point tensor, got dtype {a.dtype}")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min, got min={min}, max={max}")
    counts, _ = _xp.histogram(a[~_xp.isnan(a)], bins=bins, range=(lo, hi))
    return Tensor._wrap(counts.astype(a.dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Insertion points of ``input`` in ``sorted_sequence`` (the last dimension, batched over
    the leading ones) that keep it sorted: ``side='left'`` (default) or ``'right'``."""
    seq = sorted_sequence.array
    scalar = not isinstance(input, Tensor)
    vals = _xp.asarray(input) if scalar else input.array
    if side is not None:
        right = side == "right"
    if sorter is not None:
        order = sorter.array if isinstance(sorter, Tensor) else _xp.asarray(sorter)
        seq = _xp.take_along_axis(seq, order, axis=-1)
    where = "right" if right else "left"
    if seq.ndim <= 1:
        out = _xp.searchsorted(seq, vals, side=where)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: boundaries of shape {shape_str(seq.shape)} and input of shape "
                f"{shape_str(vals.shape)} must have the same leading dimensions"
            )
        rows = seq.reshape(-1, seq.shape[-1])
        queries = vals.reshape(-1, vals.shape[-1])
        out = _xp.stack([_xp.searchsorted(r, q, side=where) for r, q in zip(rows, queries)])
        out = out.reshape(vals.shape)
    return Tensor._wrap(_xp.asarray(out).astype(_xp.int32 if out_int32 else _xp.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element: i such that ``boundaries[i-1] < x <= boundaries[i]``
    (with ``right=True``: ``boundaries[i-1] <= x < boundaries[i]``)."""
    b = boundaries.array
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {shape_str(b.shape)}")
    vals = input.array if isinstance(input, Tensor) else _xp.asarray(input)
    out = _xp.searchsorted(b, vals, side="right" if right else "left")
    return Tensor._wrap(_xp.asarray(out).astype(_xp.int32 if out_int32 else _xp.int64))
