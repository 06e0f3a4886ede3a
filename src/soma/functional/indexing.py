"""Indexing: ``x[index]`` and ``x[index] = v`` with PyTorch's rules, gather and scatter along a
dimension, ``index_select``, ``narrow``, ``nonzero``."""

import math

from soma.autograd import grad_mode
from soma.autograd.errors import IndexOutOfRange, ShapeError
from soma.autograd.function import Function, named
from soma.autograd.inplace import check_writable
from soma.autograd.slice_gradient import SliceGradient
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import scatter_add as _scatter_add
from soma.functional._utils import as_tensor, normalize_axis, shape_str, unbroadcast
from soma.functional.shape import expand, reshape

_xp = get_xp()


# ---------------------------------------------------------------------------- indexing
def _to_index(index):
    """Tensors inside an index become arrays; report whether the index is 'advanced'."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    for i in index:
        if isinstance(i, Tensor):
            i = i.array
            advanced = advanced or i.ndim > 0 or i.dtype == bool
            if i.ndim == 0 and i.dtype != bool:
                i = int(i)
        elif isinstance(i, (list, _xp.ndarray)):
            i = _xp.asarray(i)
            advanced = True
        out.append(i)
    return tuple(out), advanced


class GetItem(Function):
    """y = x[index]; the backward adds the gradient back (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.x_shape, ctx.dtype = x.shape, x.dtype
        ctx.index, ctx.advanced = index, advanced
        y = x[index]
        if not isinstance(y, _xp.ndarray):  # integers only: a 0-d view, not a NumPy scalar copy
            y = x[index + (Ellipsis,)]
        return y

    @staticmethod
    def backward(ctx, gy):
        if not ctx.advanced and gy.dtype == ctx.dtype:
            # zero outside the block read: the engine adds the block only (slice_gradient.py)
            return SliceGradient(ctx.x_shape, ctx.index, gy)
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        if ctx.advanced:
            _scatter_add(gx, ctx.index, gy)
        else:
            gx[ctx.index] = gy
        return gx


def _ints_first(index):
    """PyTorch's order for integers mixed with advanced indices, as two NumPy indices.

    PyTorch applies integer indices as selections before the advanced ones, so that
    ``x[1, :, idx]`` puts idx's dimension where idx stands; NumPy counts the integer as an
    advanced index too, and when the two are separated by a slice it moves the indexed
    dimensions to the front. Returns (selection, rest) or None when the orders agree.
    """
    if not any(isinstance(i, int) and not isinstance(i, bool) for i in index):
        return None
    first, rest = [], []
    for i in index:
        if i is None:
            rest.append(None)
        elif isinstance(i, int) and not isinstance(i, bool):
            first.append(i)
        else:
            first.append(Ellipsis if i is Ellipsis else slice(None))
            rest.append(i)
    return tuple(first), tuple(rest)


def getitem(x, index):
    """``x[index]`` for basic slicing, integer arrays and boolean masks."""
    index, advanced = _to_index(index)
    if advanced:
        split = _ints_first(index)
        if split is not None:
            return getitem(getitem(x, split[0]), split[1])
    try:
        result = GetItem.apply(x, index, advanced)
    except IndexError as e:
        raise IndexError(
            f"index {index} is invalid for a tensor of shape {shape_str(x.shape)}: {e}"
        ) from None
    return named(result, _index_node_name(index, advanced))


def _index_node_name(index, advanced):
    """PyTorch's node name for ``x[index]``: an advanced index is one Index op; basic indexing
    applies its parts left to right (an integer selects, a slice slices, None unsqueezes;
    whole slices and ``...`` do nothing), and the last that acted names the node."""
    if advanced:
        return "IndexBackward0"
    name = "AliasBackward0"
    for part in index if isinstance(index, tuple) else (index,):
        if part is None:
            name = "UnsqueezeBackward0"
        elif isinstance(part, slice):
            if part != slice(None):
                name = "SliceBackward0"
        elif part is not Ellipsis:
            name = "SelectBackward0"
    return name


class IndexPut(Function):
    """y = x with y[index] = v (out of place)."""

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index = index
        ctx.v_shape = getattr(v, "shape", ())
        y = x.copy()
        y[index] = v
        return y

    @staticmethod
    def backward(ctx, gy):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = gy.copy()
            gx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(gy[ctx.index], ctx.v_shape)
        return gx, gv


def setitem_(x, index, value):
    """``x[index] = value``: in the array when no gradient is recorded, else in the graph."""
    index, advanced = _to_index(index)
    tracked = grad_mode.is_grad_enabled() and (
        x.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
    )
    split = _ints_first(index) if advanced else None
    if split is not None:  # PyTorch's dimension order: select with the integers first
        setitem_(getitem(x, split[0]), split[1], value)  # a view: writes reach x
        return x
    if not tracked:
        check_writable(x)
        x.array[index] = value.array if isinstance(value, Tensor) else value
        x._bump_version()
        return x
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = value.to(x.dtype)
    return x._assign(IndexPut.apply(x, value, index))


def check_index_bounds(idx, size, axis, op, negative_ok=False):
    """Every index in [0, size), as gather, scatter, index_select, index_add and index_copy
    require in PyTorch (NumPy would silently count a negative one from the end); with
    ``negative_ok``, in [-size, size) (index_fill, indexing)."""
    if not idx.size:
        return
    low, high = idx.min(), idx.max()
    if low < (-size if negative_ok else 0) or high >= size:
        bad = int(high) if high >= size else int(low)
        raise IndexOutOfRange(
            f"{op}(): index {bad} is out of bounds for dimension {axis} with size {size}"
        )


def index_select(x, dim, index):
    """Entries of ``x`` at ``index`` (1-D integers) along ``dim``."""
    axis = normalize_axis(dim, x.array.ndim, "index_select")
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    check_index_bounds(idx, x.array.shape[axis] if x.array.ndim else 1, axis, "index_select")
    full = (slice(None),) * axis + (idx,)
    return GetItem.apply(x, full, True)


def narrow(x, dim, start, length):
    """``length`` elements along ``dim`` from ``start`` (negative: counted from the end), a view.

    As PyTorch, start must lie in [-size, size] (IndexError) and the run inside the dimension
    (RuntimeError): Python's slicing would silently clip it instead.
    """
    axis = normalize_axis(dim, x.array.ndim, "narrow")
    size = x.array.shape[axis]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(
            f"narrow(): start {start} out of range [-{size}, {size}] for dimension {dim} of "
            f"shape {shape_str(x.shape)}"
        )
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise ShapeError(
            f"narrow(): start ({start}) + length ({length}) must stay within dimension {dim} "
            f"of size {size} (length non-negative)"
        )
    index = [slice(None)] * x.array.ndim
    index[axis] = slice(start, start + length)
    return getitem(x, tuple(index))


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] (for dim = 1): picks along one axis."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.x_shape, ctx.axis = x.shape, axis
        ctx.save(index)
        # NOTE: the index may be smaller than x along the other axes: only that corner is read
        ctx.corner = tuple(
            slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape)
        )
        return _xp.take_along_axis(x[ctx.corner], index, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        corner = gx[ctx.corner]
        if index.shape[ctx.axis] == 1:
            _xp.put_along_axis(corner, index, gy, axis=ctx.axis)  # one pick per row: no collisions
        else:
            _scatter_add(corner, _full_index(index, ctx.axis), gy)
        return gx


def _full_index(index, axis):
    """Open-mesh index tuple that addresses ``arr[..., index, ...]`` element by element."""
    grids = list(_xp.ogrid[tuple(slice(n) for n in index.shape)])
    grids[axis] = index
    return tuple(grids)


def gather(x, dim, index):
    """Pick values along ``dim`` at ``index`` (same number of dimensions as ``x``)."""
    axis = normalize_axis(dim, x.array.ndim, "gather")
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    if idx.ndim != x.array.ndim:
        raise ValueError(
            f"gather: index has {idx.ndim} dimensions but the input has {x.array.ndim} "
            f"(shapes {shape_str(idx.shape)} and {shape_str(x.shape)})"
        )
    too_big = [d for d in range(idx.ndim) if d != axis and idx.shape[d] > x.array.shape[d]]
    if too_big:
        raise ValueError(
            f"gather: index of shape {shape_str(idx.shape)} is larger than the input of shape "
            f"{shape_str(x.shape)} in dimension {too_big[0]} (only dimension {dim} may differ)"
        )
    check_index_bounds(idx, x.array.shape[axis] if x.array.ndim else 1, axis, "gather")
    return Gather.apply(x, idx.astype(_xp.int64, copy=False), axis)


class ScatterAdd(Function):
    """y = x, then y[index[i][j]][j] += src[i][j] along one axis."""

    @staticmethod
    def forward(ctx, x, src, index, axis):
        ctx.save(index)
        ctx.axis, ctx.src_shape = axis, src.shape
        y = x.copy()
        _scatter_add(y, _full_index(index, axis), src[tuple(slice(n) for n in index.shape)])
        return y

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        gsrc = None
        if ctx.needs_input_grad[1]:
            # NOTE: index (and src) may be smaller than x in the other dimensions, src larger
            # than index: only the addressed corner of each carries a gradient
            gsrc = _xp.zeros(ctx.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(n) for n in index.shape)] = gy[_full_index(index, ctx.axis)]
        return gy, gsrc


def scatter_add(x, dim, index, src):
    axis = normalize_axis(dim, x.array.ndim, "scatter_add")
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    check_index_bounds(idx, x.array.shape[axis] if x.array.ndim else 1, axis, "scatter_add")
    return ScatterAdd.apply(x, as_tensor(src), idx.astype(_xp.int64, copy=False), axis)


def nonzero(x, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) tensor, or one index tensor per dim."""
    if x.array.ndim == 0:  # as PyTorch: (1, 0) or (0, 0); as a tuple, a 1-d index
        n = int(bool(x.array))
        if as_tuple:
            return (Tensor._wrap(_xp.zeros(n, dtype=_xp.int64)),)
        return Tensor._wrap(_xp.zeros((n, 0), dtype=_xp.int64))
    idx = _xp.nonzero(x.array)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(_xp.int64)) for i in idx)
    return Tensor._wrap(_xp.stack(idx, axis=1).astype(_xp.int64))


# ---------------------------------------------------------------------------- masks and take
def _mask_array(mask, op):
    m = mask.array if isinstance(mask, Tensor) else _xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"{op}: expected a bool mask, got dtype {m.dtype}")
    return m


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` (broadcast with it) is True, as a 1-D tensor."""
    m = _mask_array(mask, "masked_select")
    try:
        shape = _xp.broadcast_shapes(input.array.shape, m.shape)
    except ValueError:
        raise RuntimeError(
            f"masked_select: mask of shape {shape_str(m.shape)} cannot be broadcast with the input "
            f"of shape {shape_str(input.shape)}"
        ) from None
    x = expand(input, shape) if input.array.shape != shape else input
    return getitem(x, _xp.broadcast_to(m, shape))


class MaskedScatter(Function):
    """y = x, with the positions where mask is True filled by source's first elements in order."""

    @staticmethod
    def forward(ctx, x, source, mask):
        ctx.save(mask)
        ctx.source_shape = source.shape
        n = int(mask.sum())
        y = x.copy()
        y[mask] = source.reshape(-1)[:n]
        return y

    @staticmethod
    def backward(ctx, gy):
        (mask,) = ctx.saved
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = gy * ~mask
        if ctx.needs_input_grad[1]:
            gs = _xp.zeros(math.prod(ctx.source_shape), dtype=gy.dtype)
            picked = gy[mask]
            gs[: picked.size] = picked
            gs = gs.reshape(ctx.source_shape)
        return gx, gs


def masked_scatter(input, mask, source):
    """Copy ``source``'s elements, in order, into a copy of ``input`` where ``mask`` is True."""
    m = _xp.broadcast_to(_mask_array(mask, "masked_scatter"), input.array.shape)
    source = as_tensor(source)
    if source.array.size < int(m.sum()):
        raise RuntimeError(
            f"masked_scatter: source has {source.array.size} elements but the mask selects "
            f"{int(m.sum())}"
        )
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    return MaskedScatter.apply(input, source, _xp.ascontiguousarray(m))


def take(input, index):
    """Elements of ``input`` viewed as 1-D at ``index`` (the result has the index's shape)."""
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    n = input.array.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return GetItem.apply(reshape(input, (-1,)), (idx.astype(_xp.int64),), True)


def take_along_dim(input, indices, dim=None):
    """``gather`` along ``dim`` with ``input`` and ``indices`` broadcast against each other
    (except in ``dim``); without ``dim``, ``take`` on the flattened tensor."""
    idx = indices.array if isinstance(indices, Tensor) else _xp.asarray(indices)
    if dim is None:
        return take(reshape(input, (-1,)), Tensor._wrap(idx.reshape(-1)))
    axis = normalize_axis(dim, input.array.ndim, "take_along_dim")
    if idx.ndim != input.array.ndim:
        raise RuntimeError(
            f"take_along_dim: input of shape {shape_str(input.shape)} and indices of shape "
            f"{shape_str(idx.shape)} must have the same number of dimensions"
        )
    x_shape = list(input.array.shape)
    i_shape = list(idx.shape)
    x_shape[axis] = i_shape[axis] = 1
    common = list(_xp.broadcast_shapes(tuple(x_shape), tuple(i_shape)))
    want_x = common.copy()
    want_x[axis] = input.array.shape[axis]
    want_i = common.copy()
    want_i[axis] = idx.shape[axis]
    x = expand(input, tuple(want_x)) if tuple(want_x) != input.array.shape else input
    size = input.array.shape[axis]
    check_index_bounds(idx, size, axis, "take_along_dim", negative_ok=True)
    idx = _xp.where(idx < 0, idx + size, idx)  # unlike gather, negatives count from the end
    return gather(x, axis, Tensor._wrap(_xp.broadcast_to(idx, tuple(want_i))))
