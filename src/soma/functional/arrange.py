"""NumPy-style arranging helpers PyTorch also offers, written with the shape and indexing ops:
atleast_1d/2d/3d, hstack/vstack/dstack/column_stack/row_stack, tensor_split/hsplit/vsplit/dsplit,
tile, ravel, select, swapdims, fliplr/flipud, broadcast_tensors/broadcast_shapes, diff,
combinations, vander, unravel_index, and the out-of-place writes select_scatter, slice_scatter,
diagonal_scatter, index_put and put.

Each is a composite of differentiable ops (no backward of its own), so its gradient is the one
of the ops it is built on.
"""

import itertools
import math

from soma.autograd.function import Function
from soma.autograd.size import Size
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import as_tensor, normalize_axis, shape_str, unbroadcast
from soma.functional.cumulative import cumprod
from soma.functional.elementwise import clone, sub
from soma.functional.indexing import _to_index, getitem, narrow, setitem_
from soma.functional.matrix import _diagonal_positions
from soma.functional.shape import (
    cat,
    expand,
    flip,
    movedim,
    repeat,
    reshape,
    split,
    transpose,
)

_xp = get_xp()


# ---------------------------------------------------------------------------- dimensions
def _atleast(tensors, n):
    listed = len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
    out = [_lift(as_tensor(t), n) for t in (tensors[0] if listed else tensors)]
    return out[0] if len(tensors) == 1 and not listed else tuple(out)


def _lift(t, n):
    """NumPy's rule: 0-d → all ones, (k,) → (1, k) → (1, k, 1), (m, k) → (m, k, 1)."""
    shape = tuple(t.shape)
    if len(shape) >= n:
        return t
    if n == 1:
        new = (1,)
    elif n == 2:
        new = (1,) * (2 - len(shape)) + shape
    else:
        new = {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}[len(shape)]
    return reshape(t, new)


def atleast_1d(*tensors):
    """The tensors with at least one dimension (0-d → (1,))."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """The tensors with at least two dimensions ((k,) → (1, k))."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """The tensors with at least three dimensions ((k,) → (1, k, 1), (m, k) → (m, k, 1))."""
    return _atleast(tensors, 3)


def hstack(tensors):
    """Concatenate along the columns (dim 1; dim 0 for 1-D tensors)."""
    ts = atleast_1d(*tensors)
    ts = ts if isinstance(ts, tuple) else (ts,)
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along the rows, after making each tensor at least 2-D."""
    ts = atleast_2d(*tensors)
    return cat(ts if isinstance(ts, tuple) else (ts,), 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along the depth (dim 2), after making each tensor at least 3-D."""
    ts = atleast_3d(*tensors)
    return cat(ts if isinstance(ts, tuple) else (ts,), 2)


def column_stack(tensors):
    """Stack 1-D tensors as columns (and 2-D ones as they are) into a matrix."""
    cols = [
        reshape(as_tensor(t), (-1, 1)) if as_tensor(t).ndim <= 1 else as_tensor(t) for t in tensors
    ]
    return cat(cols, 1)


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``n`` nearly equal parts (the first ones one larger), or at the listed indices."""
    axis = normalize_axis(dim, input.ndim, "tensor_split")
    n = input.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be positive, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:
        bounds = [min(max(int(i), 0), n) for i in indices_or_sections]
        edges = [0, *bounds, n]
        sizes = [max(b - a, 0) for a, b in zip(edges[:-1], edges[1:])]
        starts = edges[:-1]
        return tuple(narrow(input, axis, min(s, n), z) for s, z in zip(starts, sizes))
    return split(input, sizes, axis)


def hsplit(input, sections):
    """``tensor_split`` along dim 1 (dim 0 for 1-D tensors)."""
    return tensor_split(input, sections, 0 if input.ndim == 1 else 1)


def vsplit(input, sections):
    """``tensor_split`` along dim 0."""
    return tensor_split(input, sections, 0)


def dsplit(input, sections):
    """``tensor_split`` along dim 2."""
    return tensor_split(input, sections, 2)


def tile(input, dims):
    """Repeat the tensor ``dims`` times per dimension (missing leading dims count as 1)."""
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


def ravel(input):
    """The tensor flattened to 1-D."""
    return reshape(input, (-1,))


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, with that dimension removed."""
    axis = normalize_axis(dim, input.ndim, "select")
    return getitem(input, (slice(None),) * axis + (int(index),))


def swapdims(input, dim0, dim1):
    """Swap two dimensions (``transpose``)."""
    return transpose(input, dim0, dim1)


def fliplr(input):
    """Reverse the columns (dim 1)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"fliplr: input must be at least 2-D, got shape {shape_str(input.shape)}"
        )
    return flip(input, (1,))


def flipud(input):
    """Reverse the rows (dim 0)."""
    if input.ndim < 1:
        raise RuntimeError("flipud: input must be at least 1-D")
    return flip(input, (0,))


def broadcast_shapes(*shapes):
    """The shape that the given shapes broadcast to."""
    try:
        return Size(
            _xp.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,) for s in shapes])
        )
    except ValueError:
        raise RuntimeError(
            f"broadcast_shapes: shapes {shapes} cannot be broadcast together"
        ) from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, tuple(shape)) for t in tensors)


# ---------------------------------------------------------------------------- sequences
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference ``x[i+1] - x[i]`` along ``dim`` (after attaching
    ``prepend``/``append``); bool tensors give ``x[i+1] != x[i]``."""
    axis = normalize_axis(dim, input.ndim, "diff")
    x = input
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = cat(
            [
                as_tensor(p) if as_tensor(p).ndim else expand(as_tensor(p), _one_slice(x, axis))
                for p in parts
            ],
            axis,
        )
    for _ in range(n):
        length = x.shape[axis]
        if length == 0:
            break
        hi, lo = narrow(x, axis, 1, length - 1), narrow(x, axis, 0, length - 1)
        x = Tensor._wrap(hi.array != lo.array) if x.dtype == bool else sub(hi, lo)
    return x


def _one_slice(x, axis):
    shape = list(x.shape)
    shape[axis] = 1
    return tuple(shape)


def combinations(input, r=2, with_replacement=False):
    """All length-``r`` combinations of the elements of a 1-D tensor, as rows."""
    n = input.shape[0]
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(n), r))
    if not rows:
        return Tensor._wrap(_xp.zeros((0, r) if r else (0,), dtype=input.array.dtype))
    index = Tensor._wrap(_xp.asarray(rows, dtype=_xp.int64))
    return getitem(input, index)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix: columns x^(N-1), …, x, 1 (reversed with ``increasing``)."""
    n = x.shape[0] if N is None else int(N)
    if n == 0:
        return Tensor._wrap(_xp.zeros((x.shape[0], 0), dtype=x.array.dtype))
    ones = Tensor._wrap(_xp.ones((x.shape[0], 1), dtype=x.array.dtype))
    cols = cat([ones, expand(reshape(x, (-1, 1)), (x.shape[0], n - 1))], 1)
    powers = cumprod(cols, 1)  # 1, x, x², … (exact gradient even at x = 0)
    return powers if increasing else flip(powers, (1,))


def unravel_index(indices, shape):
    """The coordinates, one tensor per dimension, of flat ``indices`` into ``shape``."""
    idx = indices.array if isinstance(indices, Tensor) else _xp.asarray(indices)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    total = math.prod(shape)
    if idx.size and (idx.min() < -total or idx.max() >= total):
        raise RuntimeError(f"unravel_index: index out of range for shape {shape}")
    coords = _xp.unravel_index(idx % max(total, 1), shape)
    return tuple(Tensor._wrap(_xp.asarray(c, dtype=_xp.int64)) for c in coords)


# ---------------------------------------------------------------------------- writes
def _written(input, index, src):
    """A copy of ``input`` with ``src`` written at ``index`` (gradients flow to both)."""
    out = clone(input)
    return setitem_(out, index, src)


def select_scatter(input, src, dim, index):
    """A copy of ``input`` with ``src`` written into the slice ``index`` along ``dim``."""
    axis = normalize_axis(dim, input.ndim, "select_scatter")
    return _written(input, (slice(None),) * axis + (int(index),), src)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with ``src`` written into ``input[..., start:end:step, ...]``."""
    axis = normalize_axis(dim, input.ndim, "slice_scatter")
    return _written(input, (slice(None),) * axis + (slice(start, end, step),), src)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of ``input`` with ``src`` written onto the ``offset`` diagonal of dims dim1, dim2."""
    n = input.ndim
    a1, a2 = (
        normalize_axis(dim1, n, "diagonal_scatter"),
        normalize_axis(dim2, n, "diagonal_scatter"),
    )
    rows, cols = _diagonal_positions(input.shape[a1], input.shape[a2], offset)
    index = [slice(None)] * n
    index[a1], index[a2] = Tensor._wrap(rows), Tensor._wrap(cols)
    # NumPy puts the diagonal where the two indexed axes were when they are adjacent, else first
    pos = min(a1, a2) if abs(a1 - a2) == 1 else 0
    return _written(input, tuple(index), movedim(as_tensor(src), -1, pos))


class IndexAccumulate(Function):
    """y = x, then y[index] += v (repeated positions accumulate)."""

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index, ctx.v_shape = index, v.shape
        y = x.copy()
        _xp.add.at(y, index, v)
        return y

    @staticmethod
    def backward(ctx, gy):
        gv = unbroadcast(gy[ctx.index], ctx.v_shape) if ctx.needs_input_grad[1] else None
        return gy, gv


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written (or added, ``accumulate=True``) at the
    positions of the index tensors ``indices``."""
    if not accumulate:
        return _written(input, tuple(indices), values)

    idx, _ = _to_index(tuple(indices))
    values = as_tensor(values)
    if values.dtype != input.dtype:
        values = values.to(input.dtype)
    return IndexAccumulate.apply(input, values, idx)


def put(input, index, source, accumulate=False):
    """A copy of ``input`` (viewed as 1-D) with ``source`` written (or added) at ``index``."""
    flat = reshape(input, (-1,))
    idx = index if isinstance(index, Tensor) else as_tensor(index)
    out = index_put(flat, (reshape(idx, (-1,)),), reshape(as_tensor(source), (-1,)), accumulate)
    return reshape(out, tuple(input.shape))
