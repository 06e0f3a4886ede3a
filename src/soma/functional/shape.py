"""Ops that move elements without changing them: reshape, permute, expand, repeat, flip, roll,
cat, stack, split. Their backward passes move the gradient back the same way. Indexing, gather
and scatter are in ``indexing.py``.
"""

import itertools
import math

from soma.autograd import memory_format as _formats
from soma.autograd.errors import ShapeError
from soma.autograd.function import Function, named
from soma.backend import get_xp, parallel
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
        raise ShapeError(f"{op}: only one dimension can be -1, got shape {shape_str(shape)}")
    if free:
        if known == 0 or size % known:
            raise ShapeError(
                f"{op}: shape {shape_str(shape)} is invalid for input of shape "
                f"{shape_str(x.shape)} ({size} elements)"
            )
        shape = shape[: free[0]] + (size // known,) + shape[free[0] + 1 :]
    elif known != size:
        raise ShapeError(
            f"{op}: shape {shape_str(shape)} is invalid for input of shape {shape_str(x.shape)} "
            f"({size} elements)"
        )
    return shape


def reshape(x, shape):
    """Same elements, new shape; one dimension may be -1 (inferred)."""
    shape = _resolve_shape(x, shape, "reshape")
    if shape == x.array.shape:
        return x
    # PyTorch's names: a view when its memory allows one, else a copy (_unsafe_view). Only a
    # view (a transpose, say) has a layout PyTorch shares; results of soma's kernels are
    # contiguous in PyTorch whatever soma's own layout
    copies = x.is_view and not x.array.flags.c_contiguous
    name = "UnsafeViewBackward0" if copies else "ViewBackward0"
    return named(Reshape.apply(x, shape), name)


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one."""
    if x.array.ndim == 0:
        return reshape(x, (1,))
    s = normalize_axis(start_dim, x.array.ndim, "flatten")
    e = normalize_axis(end_dim, x.array.ndim, "flatten")
    if s > e:
        raise ShapeError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for an input of "
            f"shape {shape_str(x.shape)}"
        )
    shape = x.array.shape
    merged = math.prod(shape[s : e + 1])  # not -1: an empty tensor leaves -1 undetermined
    return reshape(x, shape[:s] + (merged,) + shape[e + 1 :])


def unflatten(x, dim, sizes):
    """Split dimension ``dim`` into ``sizes``."""
    axis = normalize_axis(dim, x.array.ndim, "unflatten")
    shape = x.array.shape
    return reshape(x, shape[:axis] + tuple(sizes) + shape[axis + 1 :])


def squeeze(x, dim=None):
    """Remove size-1 dimensions (only ``dim`` when given; a no-op if it is not size 1)."""
    shape = x.array.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {normalize_axis(d, x.array.ndim, "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    return named(reshape(x, new), "SqueezeBackward0" if dim is None else "SqueezeBackward1")


def unsqueeze(x, dim):
    """Insert a size-1 dimension at ``dim``."""
    axis = normalize_axis(dim, x.array.ndim + 1, "unsqueeze")
    shape = x.array.shape
    return named(reshape(x, shape[:axis] + (1,) + shape[axis:]), "UnsqueezeBackward0")


class Permute(Function):
    """y = x with its axes reordered."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, gy):
        return gy.transpose(sorted(range(len(ctx.axes)), key=ctx.axes.__getitem__))  # inverse


def permute(x, dims):
    """Reorder the dimensions: ``y.shape[i] == x.shape[dims[i]]``."""
    axes = tuple(normalize_axis(d, x.array.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(x.array.ndim)):
        raise ShapeError(
            f"permute: dims {tuple(dims)} are not a permutation of {x.array.ndim} dimensions"
        )
    return Permute.apply(x, axes)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    n = x.array.ndim
    if n < 2:
        return x
    axes = list(range(n))
    a, b = normalize_axis(dim0, n, "transpose"), normalize_axis(dim1, n, "transpose")
    axes[a], axes[b] = axes[b], axes[a]
    return named(Permute.apply(x, tuple(axes)), "TransposeBackward0")


swapaxes = transpose


def t(x):
    return named(transpose(x, 0, 1), "TBackward0")


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
        raise ShapeError(f"expand: cannot expand shape {shape_str(x.shape)} to {shape_str(sizes)}")
    shape = tuple(x.array.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for have, want in zip(x.array.shape, shape[lead:]):
        if have != want and have != 1:
            raise ShapeError(
                f"expand: cannot expand shape {shape_str(x.shape)} to {shape_str(sizes)}"
            )
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
        raise ShapeError(
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
    axes = tuple(normalize_axis(d, x.array.ndim, "flip") for d in dims)
    if x.array.ndim == 0:  # a 0-d tensor has nothing to reverse
        # lazy: soma.functional.elementwise imports indexing, which imports this one at load time
        from soma.functional.elementwise import clone

        return clone(x)
    return Flip.apply(x, axes)


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
    """Shift cyclically by ``shifts[i]`` along ``dims[i]``; without dims (None or ``()``), the
    flattened tensor by one shift, shape kept. Shifts and dims must pair up, as in PyTorch."""
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = () if dims is None else tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != (len(dims) or 1):
        raise ShapeError(
            f"roll: shifts {list(shifts)} and dims {list(dims)} must pair up (one shift per "
            f"dim, or one shift and no dims)"
        )
    if not dims:
        return Roll.apply(x, int(shifts[0]), None)
    axes = tuple(normalize_axis(d, x.array.ndim, "roll") for d in dims)
    return Roll.apply(x, tuple(int(k) for k in shifts), axes)


# ---------------------------------------------------------------------------- joining and splitting
class Cat(Function):
    """y = the inputs joined along an existing axis."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.bounds = list(itertools.accumulate(x.shape[axis] for x in xs))[:-1]
        if axis == 0 or len(xs) < 2 or sum(x.size for x in xs) < parallel.MEMORY_SPLIT:
            return _xp.concatenate(xs, axis=axis)
        orders = {_formats.axis_order(x) for x in xs}
        if len(orders) > 1 or len({x.dtype for x in xs}) > 1:
            return _xp.concatenate(xs, axis=axis)
        # NOTE: laid out as NumPy's concatenate lays out inputs that share one axis order
        # (DenseNet's channels-last features), then copied block by block on soma's threads:
        # DenseNet-121's step, see ``parallel.MEMORY_SPLIT``
        (order,) = orders
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        out = _formats.empty_in_order(tuple(shape), xs[0].dtype, order)
        return parallel.concatenate(xs, axis, out)

    @staticmethod
    def backward(ctx, gy):
        parts = _xp.split(gy, ctx.bounds, axis=ctx.axis)
        return tuple(p if need else None for p, need in zip(parts, ctx.needs_input_grad))


def cat(tensors, dim=0):
    """Concatenate tensors along ``dim``; all other sizes must match."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("cat: expected a non-empty list of tensors")
    tensors = [t for t in tensors if not (t.array.ndim == 1 and t.array.size == 0)] or tensors[:1]
    ref = tensors[0]
    axis = normalize_axis(dim, ref.array.ndim, "cat")
    dtype = ref.array.dtype
    for i, t in enumerate(tensors):
        if t.array.ndim != ref.array.ndim or any(
            a != b for k, (a, b) in enumerate(zip(t.array.shape, ref.array.shape)) if k != axis
        ):
            raise ShapeError(
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
        raise ShapeError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ShapeError(
                f"stack: expects each tensor to be equal size, but got {shape_str(tensors[0].shape)} "
                f"at entry 0 and {shape_str(t.shape)} at entry {i}"
            )
    axis = normalize_axis(dim, tensors[0].array.ndim + 1, "stack")
    return named(cat([unsqueeze(t, axis) for t in tensors], axis), "StackBackward0")


class Split(Function):
    """Several outputs: consecutive slices of x along one axis."""

    @staticmethod
    def forward(ctx, x, bounds, axis):
        ctx.x_shape, ctx.axis, ctx.dtype = x.shape, axis, x.dtype
        ctx.bounds = bounds
        return tuple(_xp.split(x, bounds, axis=axis))

    @staticmethod
    def backward(ctx, *gys):
        edges = [0, *ctx.bounds, ctx.x_shape[ctx.axis]]
        sizes = [stop - start for start, stop in zip(edges, edges[1:])]
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
            raise ShapeError(f"split: split_size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} do not sum to the dimension's length {n}")
    bounds = list(itertools.accumulate(sizes))[:-1]
    out = Split.apply(x, bounds, axis)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` nearly equal pieces (the last may be smaller)."""
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be greater than 0, got {chunks}")
    n = x.array.shape[normalize_axis(dim, x.array.ndim, "chunk")]
    if n == 0:  # PyTorch: ``chunks`` empty pieces
        return split(x, [0] * chunks, dim)
    return split(x, -(-n // chunks), dim)


def unbind(x, dim=0):
    """The slices along ``dim``, with that dimension removed."""
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def movedim(x, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others' order."""
    n = x.array.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source} and destination {destination} differ in length"
        )
    src = [normalize_axis(d, n, "movedim") for d in src]
    dst = [normalize_axis(d, n, "movedim") for d in dst]
    for name, given, axes in (("source", source, src), ("destination", destination, dst)):
        if len(set(axes)) < len(axes):
            raise ShapeError(f"movedim: repeated dim in {name} {given}")
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, tuple(order))


moveaxis = movedim
