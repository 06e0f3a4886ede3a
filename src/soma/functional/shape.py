"""Ops that move elements without changing them: reshape, permute, expand, cat, stack, split,
indexing, gather/scatter. Their backward passes move the gradient back the same way.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, scatter_add as _scatter_add
from soma.functional._utils import as_tensor, normalize_axis, shape_str, unbroadcast

_xp = get_xp()


# ---------------------------------------------------------------------------- reshape family
class Reshape(Function):
    """y = x with a new shape (same elements in row-major order)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.x_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.x_shape)


def _resolve_shape(x, shape, op):
    shape = tuple(int(s) for s in shape)
    known = 1
    free = [i for i, s in enumerate(shape) if s == -1]
    for s in shape:
        if s != -1:
            known *= s
    size = x.array.size
    if len(free) > 1:
        raise ValueError(f"{op}: only one dimension can be -1, got shape {shape_str(shape)}")
    if free:
        if known == 0 or size % known:
            raise ValueError(
                f"{op}: shape {shape_str(shape)} is invalid for input of shape "
                f"{shape_str(x.shape)} ({size} elements)"
            )
        shape = shape[: free[0]] + (size // known,) + shape[free[0] + 1:]
    elif known != size:
        raise ValueError(
            f"{op}: shape {shape_str(shape)} is invalid for input of shape {shape_str(x.shape)} "
            f"({size} elements)"
        )
    return shape


def reshape(x, shape):
    """Same elements, new shape; one dimension may be -1 (inferred)."""
    shape = _resolve_shape(x, shape, "reshape")
    if shape == x.array.shape:
        return x
    return Reshape.apply(x, shape)


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one."""
    if x.array.ndim == 0:
        return reshape(x, (1,))
    s = normalize_axis(start_dim, x.array.ndim, "flatten")
    e = normalize_axis(end_dim, x.array.ndim, "flatten")
    shape = x.array.shape
    return reshape(x, shape[:s] + (-1 if shape[s:e + 1] else 1,) + shape[e + 1:])


def unflatten(x, dim, sizes):
    """Split dimension ``dim`` into ``sizes``."""
    axis = normalize_axis(dim, x.array.ndim, "unflatten")
    shape = x.array.shape
    return reshape(x, shape[:axis] + tuple(sizes) + shape[axis + 1:])


def squeeze(x, dim=None):
    """Remove size-1 dimensions (only ``dim`` when given; a no-op if it is not size 1)."""
    shape = x.array.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {normalize_axis(d, x.array.ndim, "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    return reshape(x, new)


def unsqueeze(x, dim):
    """Insert a size-1 dimension at ``dim``."""
    axis = normalize_axis(dim, x.array.ndim + 1, "unsqueeze")
    shape = x.array.shape
    return reshape(x, shape[:axis] + (1,) + shape[axis:])


class Permute(Function):
    """y = x with its axes reordered."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, gy):
        return gy.transpose(_xp.argsort(ctx.axes))


def permute(x, dims):
    """Reorder the dimensions: ``y.shape[i] == x.shape[dims[i]]``."""
    axes = tuple(normalize_axis(d, x.array.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(x.array.ndim)):
        raise ValueError(f"permute: dims {tuple(dims)} are not a permutation of {x.array.ndim} dimensions")
    return Permute.apply(x, axes)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    n = x.array.ndim
    if n < 2:
        return x
    axes = list(range(n))
    a, b = normalize_axis(dim0, n, "transpose"), normalize_axis(dim1, n, "transpose")
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, tuple(axes))


swapaxes = transpose


def t(x):
    return transpose(x, 0, 1)


class Expand(Function):
    """y = x broadcast to a larger shape (a view)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.x_shape = x.shape
        return _xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gy):
        return unbroadcast(gy, ctx.x_shape)


def expand(x, sizes):
    """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
    sizes = tuple(sizes)
    lead = len(sizes) - x.array.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {shape_str(x.shape)} to {shape_str(sizes)}")
    shape = tuple(x.array.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for have, want in zip(x.array.shape, shape[lead:]):
        if have != want and have != 1:
            raise ValueError(f"expand: cannot expand shape {shape_str(x.shape)} to {shape_str(sizes)}")
    if shape == x.array.shape:
        return x
    return Expand.apply(x, shape)


def broadcast_to(x, shape):
    return expand(x, shape)


class Repeat(Function):
    """y = x tiled ``reps`` times along each dimension."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.x_shape = (1,) * (len(reps) - x.ndim) + x.shape
        ctx.in_shape = x.shape
        ctx.reps = reps
        return _xp.tile(x, reps)

    @staticmethod
    def backward(ctx, gy):
        # view each axis as (rep, size) and sum over the rep axes
        split = []
        for r, s in zip(ctx.reps, ctx.x_shape):
            split += [r, s]
        g = gy.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(ctx.in_shape)


def repeat(x, sizes):
    """Tile the tensor (``x.repeat(2, 3)``); there must be at least ``x.ndim`` sizes."""
    sizes = tuple(sizes)
    if len(sizes) < x.array.ndim:
        raise ValueError(
            f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the number of "
            f"tensor dims ({x.array.ndim})"
        )
    return Repeat.apply(x, sizes)


class Flip(Function):
    """y = x reversed along some axes."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return _xp.flip(x, axes).copy()

    @staticmethod
    def backward(ctx, gy):
        return _xp.flip(gy, ctx.axes)


def flip(x, dims):
    return Flip.apply(x, tuple(normalize_axis(d, x.array.ndim, "flip") for d in dims))


class Roll(Function):
    """y = x shifted cyclically along axes."""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return _xp.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, gy):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return _xp.roll(gy, back, ctx.axes)


def roll(x, shifts, dims=None):
    if isinstance(shifts, list):
        shifts = tuple(shifts)
    if isinstance(dims, list):
        dims = tuple(dims)
    return Roll.apply(x, shifts, dims)


# ---------------------------------------------------------------------------- joining and splitting
class Cat(Function):
    """y = the inputs joined along an existing axis."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.bounds = _xp.cumsum([x.shape[axis] for x in xs])[:-1]
        return _xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        parts = _xp.split(gy, ctx.bounds, axis=ctx.axis)
        return tuple(p if need else None for p, need in zip(parts, ctx.needs_input_grad))


def cat(tensors, dim=0):
    """Concatenate tensors along ``dim``; all other sizes must match."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    tensors = [t for t in tensors if not (t.array.ndim == 1 and t.array.size == 0)] or tensors[:1]
    ref = tensors[0]
    axis = normalize_axis(dim, ref.array.ndim, "cat")
    dtype = ref.array.dtype
    for i, t in enumerate(tensors):
        if t.array.ndim != ref.array.ndim or any(
            a != b for k, (a, b) in enumerate(zip(t.array.shape, ref.array.shape)) if k != axis
        ):
            raise ValueError(
                f"cat: sizes of tensors must match except in dimension {dim}; tensor 0 has shape "
                f"{shape_str(ref.shape)}, tensor {i} has shape {shape_str(t.shape)}"
            )
        dtype = _xp.promote_types(dtype, t.array.dtype)
    tensors = [t if t.array.dtype == dtype else t.to(dtype) for t in tensors]
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension ``dim``."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"stack: expects each tensor to be equal size, but got {shape_str(tensors[0].shape)} "
                f"at entry 0 and {shape_str(t.shape)} at entry {i}"
            )
    axis = normalize_axis(dim, tensors[0].array.ndim + 1, "stack")
    return cat([unsqueeze(t, axis) for t in tensors], axis)


class Split(Function):
    """Several outputs: consecutive slices of x along one axis."""

    @staticmethod
    def forward(ctx, x, bounds, axis):
        ctx.x_shape, ctx.axis, ctx.dtype = x.shape, axis, x.dtype
        ctx.bounds = bounds
        return tuple(_xp.split(x, bounds, axis=axis))

    @staticmethod
    def backward(ctx, *gys):
        sizes = _xp.diff([0, *ctx.bounds, ctx.x_shape[ctx.axis]])
        parts = []
        for g, n in zip(gys, sizes):
            if g is None:
                shape = list(ctx.x_shape)
                shape[ctx.axis] = int(n)
                g = _xp.zeros(shape, dtype=ctx.dtype)
            parts.append(g)
        return _xp.concatenate(parts, axis=ctx.axis)


def split(x, split_size_or_sections, dim=0):
    """Split into chunks of a given size, or into pieces of the listed sizes."""
    axis = normalize_axis(dim, x.array.ndim, "split")
    n = x.array.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not sum to the dimension's length {n}")
    bounds = list(_xp.cumsum(sizes)[:-1])
    out = Split.apply(x, bounds, axis)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` nearly equal pieces (the last may be smaller)."""
    n = x.array.shape[normalize_axis(dim, x.array.ndim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(x, dim=0):
    """The slices along ``dim``, with that dimension removed."""
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def narrow(x, dim, start, length):
    axis = normalize_axis(dim, x.array.ndim, "narrow")
    index = [slice(None)] * x.array.ndim
    index[axis] = slice(start, start + length)
    return getitem(x, tuple(index))


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
        return x[index]

    @staticmethod
    def backward(ctx, gy):
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        if ctx.advanced:
            _scatter_add(gx, ctx.index, gy)
        else:
            gx[ctx.index] = gy
        return gx


def getitem(x, index):
    """``x[index]`` for basic slicing, integer arrays and boolean masks."""
    index, advanced = _to_index(index)
    try:
        return GetItem.apply(x, index, advanced)
    except IndexError as e:
        raise IndexError(f"index {index} is invalid for a tensor of shape {shape_str(x.shape)}: {e}") from None


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
    from soma.autograd import grad_mode

    index, _ = _to_index(index)
    tracked = grad_mode.is_grad_enabled() and (
        x.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
    )
    if not tracked:
        x.array[index] = value.array if isinstance(value, Tensor) else value
        return x
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = value.to(x.dtype)
    return x._assign(IndexPut.apply(x, value, index))


def index_select(x, dim, index):
    """Entries of ``x`` at ``index`` (1-D integers) along ``dim``."""
    axis = normalize_axis(dim, x.array.ndim, "index_select")
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    full = (slice(None),) * axis + (idx,)
    return GetItem.apply(x, full, True)


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] (for dim = 1): picks along one axis."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.x_shape, ctx.axis = x.shape, axis
        ctx.save(index)
        # NOTE: the index may be smaller than x along the other axes: only that corner is read
        ctx.corner = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
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
    return Gather.apply(x, idx.astype(_xp.int64, copy=False), axis)


class ScatterAdd(Function):
    """y = x, then y[index[i][j]][j] += src[i][j] along one axis."""

    @staticmethod
    def forward(ctx, x, src, index, axis):
        ctx.save(index)
        ctx.axis = axis
        y = x.copy()
        _scatter_add(y, _full_index(index, axis), src[tuple(slice(n) for n in index.shape)])
        return y

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        gsrc = _xp.take_along_axis(gy, index, axis=ctx.axis) if ctx.needs_input_grad[1] else None
        return gy, gsrc


def scatter_add(x, dim, index, src):
    axis = normalize_axis(dim, x.array.ndim, "scatter_add")
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    return ScatterAdd.apply(x, as_tensor(src), idx.astype(_xp.int64, copy=False), axis)


def nonzero(x, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) tensor, or one index tensor per dim."""
    idx = _xp.nonzero(x.array)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(_xp.int64)) for i in idx)
    return Tensor._wrap(_xp.stack(idx, axis=1).astype(_xp.int64))
