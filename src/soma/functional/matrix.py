"""Matrix-structured and window ops: triangles (tril, triu and their index lists), diagonals
(diag, diagonal, diag_embed, diagflat, trace), block_diag, rot90, repeat_interleave,
``Tensor.unfold`` (sliding windows), meshgrid and cartesian_prod.

Ops on matrices act on the last two dimensions (or the two named ones) and batch over the rest.
Each backward moves the gradient back to the positions the forward read.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend.device import check_available
from soma.functional._utils import as_tensor, normalize_axis, shape_str
from soma.functional.indexing import index_select
from soma.functional.reduction import sum as _sum
from soma.functional.shape import cat, expand, flip, reshape, stack, transpose

_xp = get_xp()


# ---------------------------------------------------------------------------- triangles
class TriangleMask(Function):
    """y = x where the triangle mask holds, else 0 (the mask is over the last two axes)."""

    @staticmethod
    def forward(ctx, x, keep):
        ctx.save(keep)
        return _xp.where(keep, x, x.dtype.type(0))  # NOTE: not x * keep, which gives -0.0

    @staticmethod
    def backward(ctx, gy):
        (keep,) = ctx.saved
        return _xp.where(keep, gy, gy.dtype.type(0))


def _triangle(input, diagonal, lower, op):
    if input.array.ndim < 2:
        raise RuntimeError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {shape_str(input.shape)}"
        )
    n, m = input.array.shape[-2:]
    keep = (_xp.tril if lower else _xp.triu)(_xp.ones((n, m), dtype=bool), diagonal)
    return TriangleMask.apply(input, keep)


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions (elements j <= i + diagonal), zeros above.

    Example:
        >>> import soma
        >>> soma.tril(soma.ones(2, 2)).tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions (elements j >= i + diagonal), zeros below."""
    return _triangle(input, diagonal, False, "triu")


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) coordinates of the lower triangle of a row × col matrix, row by row."""
    if device is not None:
        check_available(device)
    r, c = _xp.nonzero(_xp.tril(_xp.ones((row, col), dtype=bool), offset))
    return Tensor._wrap(_xp.stack([r, c]).astype(dtype or _xp.int64))


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) coordinates of the upper triangle of a row × col matrix, row by row."""
    if device is not None:
        check_available(device)
    r, c = _xp.nonzero(_xp.triu(_xp.ones((row, col), dtype=bool), offset))
    return Tensor._wrap(_xp.stack([r, c]).astype(dtype or _xp.int64))


# ---------------------------------------------------------------------------- diagonals
def _diagonal_positions(n, m, offset):
    """Row and column indices of the ``offset`` diagonal of an n × m matrix."""
    length = max(min(n + min(offset, 0), m - max(offset, 0)), 0)
    i = _xp.arange(length)
    return i + max(-offset, 0), i + max(offset, 0)


class Diagonal(Function):
    """y = the ``offset`` diagonal of axes (a1, a2) of x, as a new last axis."""

    @staticmethod
    def forward(ctx, x, offset, a1, a2):
        moved = _xp.moveaxis(x, (a1, a2), (-2, -1))
        rows, cols = _diagonal_positions(moved.shape[-2], moved.shape[-1], offset)
        ctx.x_shape, ctx.moved_shape = x.shape, moved.shape
        ctx.where, ctx.axes = (rows, cols), (a1, a2)
        return moved[..., rows, cols]

    @staticmethod
    def backward(ctx, gy):
        g = _xp.zeros(ctx.moved_shape, dtype=gy.dtype)
        g[(Ellipsis, *ctx.where)] = gy
        return _xp.moveaxis(g, (-2, -1), ctx.axes)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of dimensions ``dim1`` and ``dim2`` (offset > 0: above it), appended as the
    last dimension."""
    n = input.array.ndim
    a1, a2 = normalize_axis(dim1, n, "diagonal"), normalize_axis(dim2, n, "diagonal")
    if a1 == a2:
        raise RuntimeError(f"diagonal: dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, a1, a2)


class DiagEmbed(Function):
    """y = a batch of matrices over axes (a1, a2) with x's last axis on the ``offset`` diagonal."""

    @staticmethod
    def forward(ctx, x, offset, a1, a2):
        size = x.shape[-1] + abs(offset)
        g = _xp.zeros(x.shape[:-1] + (size, size), dtype=x.dtype)
        rows, cols = _diagonal_positions(size, size, offset)
        g[..., rows, cols] = x
        ctx.where, ctx.axes = (rows, cols), (a1, a2)
        return _xp.moveaxis(g, (-2, -1), (a1, a2))

    @staticmethod
    def backward(ctx, gy):
        moved = _xp.moveaxis(gy, ctx.axes, (-2, -1))
        return moved[(Ellipsis, *ctx.where)]


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (over dimensions ``dim1``, ``dim2`` of the result) whose ``offset`` diagonal is
    the last dimension of ``input``; zeros elsewhere."""
    n = input.array.ndim + 1
    a1, a2 = normalize_axis(dim1, n, "diag_embed"), normalize_axis(dim2, n, "diag_embed")
    if a1 == a2:
        raise RuntimeError(f"diag_embed: dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbed.apply(input, offset, a1, a2)


def diag(input, diagonal=0):
    """A 1-D tensor → the square matrix with it on the ``diagonal``; a 2-D tensor → its
    ``diagonal`` as a 1-D tensor."""
    if input.array.ndim == 1:
        return DiagEmbed.apply(input, diagonal, 0, 1)
    if input.array.ndim == 2:
        return Diagonal.apply(input, diagonal, 0, 1)
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {shape_str(input.shape)}")


def diagflat(input, offset=0):
    """The square matrix with the flattened ``input`` on its ``offset`` diagonal."""
    return DiagEmbed.apply(reshape(input, (-1,)), offset, 0, 1)


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    if input.array.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {shape_str(input.shape)}")

    return _sum(Diagonal.apply(input, 0, 0, 1))


def block_diag(*tensors):
    """The block-diagonal matrix of the given matrices (0-d and 1-D count as one row)."""
    mats = []
    for t in tensors:
        t = as_tensor(t)
        mats.append(reshape(t, (1, -1) if t.array.ndim < 2 else t.array.shape))
    if not mats:
        return Tensor._wrap(_xp.zeros((1, 0)))
    dtype = _xp.result_type(*[m.array.dtype for m in mats])
    mats = [m if m.array.dtype == dtype else m.to(dtype) for m in mats]
    width = sum(m.array.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m.array.shape
        parts = [
            Tensor._wrap(_xp.zeros((r, left), dtype=dtype)),
            m,
            Tensor._wrap(_xp.zeros((r, width - left - c), dtype=dtype)),
        ]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


# ---------------------------------------------------------------------------- moving elements
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90° ``k`` times in the plane of ``dims`` (from the first axis toward the second)."""
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected two dims, got {dims}")
    n = input.array.ndim
    a, b = normalize_axis(dims[0], n, "rot90"), normalize_axis(dims[1], n, "rot90")
    if a == b:
        raise RuntimeError(f"rot90: dims must differ, got {dims}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (b,)), a, b)
    if k == 2:
        return flip(input, (a, b))
    if k == 3:
        return transpose(flip(input, (a,)), a, b)
    return input.clone()


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, in place order:
    ``[a, b]`` → ``[a, a, b, b]``. ``repeats`` is an int or one count per element.

    ``repeat_interleave(counts)`` alone gives ``[0]*counts[0] + [1]*counts[1] + …``.
    """
    if repeats is None:  # the one-argument form: indices repeated by the counts
        counts = input.array
        return Tensor._wrap(_xp.repeat(_xp.arange(counts.size), counts).astype(_xp.int64))
    if dim is None:
        input, axis = reshape(input, (-1,)), 0
    else:
        axis = normalize_axis(dim, input.array.ndim, "repeat_interleave")
    n = input.array.shape[axis] if input.array.ndim else 1
    reps = repeats.array if isinstance(repeats, Tensor) else _xp.asarray(repeats)
    if reps.ndim and reps.size not in (1, n):
        raise RuntimeError(f"repeat_interleave: repeats must have {n} elements, got {reps.size}")
    index = _xp.repeat(_xp.arange(n), reps.reshape(-1) if reps.ndim else int(reps))
    if input.array.ndim == 0:
        input = reshape(input, (1,))
    return index_select(input, axis, Tensor._wrap(index.astype(_xp.int64)))


class Unfold(Function):
    """y = the windows of ``size`` elements every ``step`` along one axis, as a new last axis."""

    @staticmethod
    def forward(ctx, x, axis, size, step):
        windows = _xp.lib.stride_tricks.sliding_window_view(x, size, axis=axis)
        index = [slice(None)] * windows.ndim
        index[axis] = slice(None, None, step)
        ctx.x_shape, ctx.axis, ctx.size, ctx.step = x.shape, axis, size, step
        return _xp.ascontiguousarray(windows[tuple(index)])

    @staticmethod
    def backward(ctx, gy):
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        axis, step, count = ctx.axis, ctx.step, gy.shape[ctx.axis]
        for k in range(ctx.size):  # window offset k of every window lands on start + k
            target = [slice(None)] * len(ctx.x_shape)
            target[axis] = slice(k, k + step * (count - 1) + 1, step)
            gx[tuple(target)] += gy[..., k]
        return gx


def unfold(input, dimension, size, step):
    """``Tensor.unfold``: every window of ``size`` elements, ``step`` apart, along
    ``dimension``; that dimension becomes the window count and a new last dimension of length
    ``size`` holds each window."""
    if input.array.ndim == 0:  # a 0-d tensor is its own single window: shape (size,)
        return reshape(unfold(reshape(input, (1,)), dimension, size, step), (-1,))
    axis = normalize_axis(dimension, input.array.ndim, "unfold")
    n = input.array.shape[axis]
    if size > n or size < 0 or step <= 0:
        raise RuntimeError(
            f"unfold: size {size} and step {step} do not fit dimension {dimension} of size {n} "
            f"(need 0 <= size <= {n} and step > 0)"
        )
    return Unfold.apply(input, axis, size, step)


# ---------------------------------------------------------------------------- grids
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors: with ``'ij'`` (default) output i varies along
    dimension i; ``'xy'`` swaps the first two dimensions (Cartesian convention)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    vectors = [reshape(as_tensor(t), (-1,)) for t in tensors]
    sizes = [v.array.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, v in enumerate(vectors):
        axis = i
        if indexing == "xy" and len(vectors) >= 2 and i < 2:
            axis = 1 - i
        shape = [1] * len(vectors)
        shape[axis] = -1
        out.append(expand(reshape(v, tuple(shape)), tuple(sizes)))
    return tuple(out)


def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, as rows of a (N, k) tensor."""
    if len(tensors) == 1:
        return as_tensor(tensors[0])
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)
