"""Writing into a tensor at indices, out of place: scatter, scatter_reduce, index_add,
index_copy, index_fill (``scatter_add`` and ``gather`` are in ``indexing.py``).

``scatter*`` address one element per index entry (``y[index[i][j]][j]`` for dim 0);
``index_*`` address whole slices along one dimension (``y[:, index[k]]`` for dim 1). Every op
returns a new tensor; the in-place ``Tensor.scatter_`` … forms assign the result back. The
gradient of a written element goes to what was written; an overwritten input element gets none.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import scatter_add as _scatter_add
from soma.functional._utils import as_tensor, normalize_axis, shape_str
from soma.functional.indexing import _full_index, check_index_bounds, scatter_add
from soma.functional.shape import reshape

_xp = get_xp()


def _index_array(index, x, axis, op):
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): expected an int64 index, got dtype {idx.dtype}")
    if idx.ndim != x.array.ndim and not (idx.ndim <= 1 and x.array.ndim <= 1):
        raise RuntimeError(
            f"{op}(): index of shape {shape_str(idx.shape)} must have as many dimensions as the "
            f"input of shape {shape_str(x.shape)}"
        )
    check_index_bounds(idx, x.array.shape[axis] if x.array.ndim else 1, axis, op)
    return idx.astype(_xp.int64).reshape(idx.shape if x.array.ndim else (-1,))


def _corner(src, index):
    """The part of ``src`` that ``index`` addresses (src may be larger in every dimension)."""
    return src[tuple(slice(n) for n in index.shape)]


class Scatter(Function):
    """y = x, then y at index (along one axis) = src."""

    @staticmethod
    def forward(ctx, x, src, index, axis):
        ctx.save(index)
        ctx.axis = axis
        y = x.copy()
        where = _full_index(index, axis)
        y[where] = _corner(src, index) if _xp.ndim(src) else src
        ctx.src_shape = _xp.shape(src)
        return y

    @staticmethod
    def backward(ctx, gy):
        (index,) = ctx.saved
        where = _full_index(index, ctx.axis)
        gx = gsrc = None
        if ctx.needs_input_grad[0]:
            gx = gy.copy()
            gx[where] = 0  # overwritten elements get no gradient
        if ctx.needs_input_grad[1]:
            gsrc = _xp.zeros(ctx.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(n) for n in index.shape)] = gy[where]
        return gx, gsrc


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write ``src`` (a tensor, or a number as ``value``) into a copy of ``input`` at ``index``
    along ``dim``: ``y[index[i][j]][j] = src[i][j]`` for dim 0.

    ``reduce='add'`` or ``'multiply'`` combine instead of overwriting (as ``scatter_reduce``).
    With duplicate indices and no ``reduce``, which write wins is unspecified, as in PyTorch.
    """
    if src is None:
        src = value
    if input.array.ndim == 0:  # a 0-d tensor is addressed as a one-element vector
        s = _vector(src) if isinstance(src, Tensor) else src
        return _scalar(scatter(_vector(input), 0, _vector(index), s, reduce=reduce))
    axis = normalize_axis(dim, input.array.ndim, "scatter")
    if reduce is not None:
        how = {"add": "sum", "multiply": "prod"}.get(reduce)
        if how is None:
            raise RuntimeError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
        src_t = src if isinstance(src, Tensor) else _full_like_index(input, index, src)
        return scatter_reduce(input, dim, index, src_t, how)
    idx = _index_array(index, input, axis, "scatter")
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            src = src.to(input.dtype)
        return Scatter.apply(input, src, idx, axis)
    return Scatter.apply(input, src, idx, axis)


def _full_like_index(input, index, value):
    shape = index.shape if isinstance(index, Tensor) else _xp.shape(index)
    return Tensor._wrap(_xp.full(shape, value, dtype=input.array.dtype))


_IDENTITY = {"sum": 0, "mean": 0, "prod": 1}


def _extreme_identity(dtype, largest):
    if dtype.kind == "f":
        return -_xp.inf if largest else _xp.inf
    info = _xp.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return not largest
    return info.min if largest else info.max


class ScatterReduce(Function):
    """y = x, then each y element reduced (sum, prod, mean, amax, amin) with the src elements
    scattered to it (``include_self=False``: without x's own value where anything lands)."""

    @staticmethod
    def forward(ctx, x, src, index, axis, reduce, include_self):
        where = _full_index(index, axis)
        s = _corner(src, index)
        hit = _xp.zeros(x.shape, dtype=_xp.int64)
        _scatter_add(hit, where, 1)  # how many src elements land on each output element
        y = x.copy()
        if not include_self:
            if reduce in ("amax", "amin"):
                start = _extreme_identity(x.dtype, reduce == "amax")
            else:
                start = _IDENTITY[reduce]
            y[hit > 0] = start
        if reduce in ("sum", "mean"):
            _xp.add.at(y, where, s)
        elif reduce == "prod":
            _xp.multiply.at(y, where, s)
        else:
            (_xp.maximum if reduce == "amax" else _xp.minimum).at(y, where, s)
        if reduce == "mean":
            count = hit + (1 if include_self else 0)
            count = _xp.maximum(count, 1)
            y = (y / count).astype(x.dtype) if x.dtype.kind == "f" else y // count
        ctx.save(x, s, index, y, hit)
        ctx.axis, ctx.reduce, ctx.include_self = axis, reduce, include_self
        ctx.src_shape = src.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        x, s, index, y, hit = ctx.saved
        where = _full_index(index, ctx.axis)
        reduce, with_self = ctx.reduce, ctx.include_self
        if reduce == "sum":
            gx, gs = gy, gy[where]
        elif reduce == "mean":
            n = _xp.maximum(hit + (1 if with_self else 0), 1)
            gx, gs = gy / n, (gy / n)[where]
        elif reduce == "prod":
            gx, gs = _prod_grads(gy, x, s, where, y, hit, with_self)
        else:
            # amax / amin: shared evenly among every contributor equal to the result
            x_is = (x == y) & (with_self | (hit == 0))
            s_is = s == y[where]
            n = x_is.astype(gy.dtype)
            _scatter_add(n, where, s_is.astype(gy.dtype))
            share = gy / _xp.maximum(n, 1)
            gx, gs = share * x_is, share[where] * s_is
        if not with_self:
            gx = gx * (hit == 0)  # x's value was not part of those results
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = _xp.zeros(ctx.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(n) for n in index.shape)] = gs
        return (gx.astype(gy.dtype, copy=False) if ctx.needs_input_grad[0] else None), gsrc


def _prod_grads(gy, x, s, where, y, hit, with_self):
    """Gradients of a scattered product: the product of the other factors, exact with zeros
    (one zero among the factors: the others' product; two or more: 0)."""
    x_counts = with_self | (hit == 0)  # whether x is one of y's factors
    zeros = ((x == 0) & x_counts).astype(_xp.int64)
    _scatter_add(zeros, where, (s == 0).astype(_xp.int64))
    nonzero = _xp.where(x_counts & (x != 0), x, 1).astype(gy.dtype)
    _xp.multiply.at(nonzero, where, _xp.where(s == 0, 1, s))  # product of the non-zero factors
    with _xp.errstate(divide="ignore", invalid="ignore"):
        gx = _xp.where(x == 0, nonzero * (zeros == 1), y / _xp.where(x == 0, 1, x)) * gy
        ys, zs, ns = y[where], zeros[where], nonzero[where]
        gs = _xp.where(s == 0, ns * (zs == 1), ys / _xp.where(s == 0, 1, s)) * gy[where]
    return gx, gs


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce the ``src`` elements scattered along ``dim`` into a copy of ``input``.

    Args:
        reduce: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.
        include_self: whether ``input``'s own value joins each reduction that receives src
            elements (elements that receive nothing keep their value either way).
    """
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"scatter_reduce(): reduce must be one of sum, prod, mean, amax, amin, got {reduce!r}"
        )
    if input.array.ndim == 0:
        out = scatter_reduce(
            _vector(input), 0, _vector(index), _vector(src), reduce, include_self=include_self
        )
        return _scalar(out)
    axis = normalize_axis(dim, input.array.ndim, "scatter_reduce")
    idx = _index_array(index, input, axis, "scatter_reduce")
    src = as_tensor(src)
    if src.dtype != input.dtype:
        src = src.to(input.dtype)
    return ScatterReduce.apply(input, src, idx, axis, reduce, include_self)


# ---------------------------------------------------------------------------- index_*
def _slice_index(input, dim, index, op, negative_ok=False):
    """The axis and the index tuple ``(:, …, :, index)`` that addresses the slices (negative
    indices only for index_fill, as in PyTorch)."""
    axis = normalize_axis(dim, input.array.ndim, op)
    idx = index.array if isinstance(index, Tensor) else _xp.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}(): index must be a 1-D integer tensor, got dtype {idx.dtype} and shape "
            f"{shape_str(idx.shape)}"
        )
    check_index_bounds(idx, input.array.shape[axis], axis, op, negative_ok)
    return axis, (slice(None),) * axis + (idx.reshape(-1).astype(_xp.int64),)


def _vector(x):
    return reshape(as_tensor(x), (-1,))


def _scalar(x):
    return reshape(x, ())


class IndexAdd(Function):
    """y = x, then y[..., index[k], ...] += alpha · source[..., k, ...] along one axis."""

    @staticmethod
    def forward(ctx, x, source, where, alpha):
        ctx.where, ctx.alpha = where, alpha
        y = x.copy()
        _scatter_add(y, where, source * alpha if alpha != 1 else source)
        return y

    @staticmethod
    def backward(ctx, gy):
        gs = gy[ctx.where] * ctx.alpha if ctx.needs_input_grad[1] else None
        return gy, gs


def index_add(input, dim, index, source, *, alpha=1):
    """Add ``alpha * source`` into the slices of a copy of ``input`` picked by ``index``."""
    if input.array.ndim == 0:  # a 0-d tensor is addressed as a one-element vector
        return _scalar(index_add(_vector(input), 0, index, _vector(source), alpha=alpha))
    axis, where = _slice_index(input, dim, index, "index_add")
    source = as_tensor(source)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    return IndexAdd.apply(input, source, where, alpha)


class IndexCopy(Function):
    """y = x, then y[..., index[k], ...] = source[..., k, ...] (or a fill value)."""

    @staticmethod
    def forward(ctx, x, source, where):
        ctx.where = where
        y = x.copy()
        y[where] = source
        return y

    @staticmethod
    def backward(ctx, gy):
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = gy.copy()
            gx[ctx.where] = 0
        if ctx.needs_input_grad[1]:
            gs = gy[ctx.where]
        return gx, gs


def index_copy(input, dim, index, source):
    """Copy the slices of ``source`` into a copy of ``input`` at positions ``index`` along dim."""
    if input.array.ndim == 0:
        return _scalar(index_copy(_vector(input), 0, index, _vector(source)))
    axis, where = _slice_index(input, dim, index, "index_copy")
    source = as_tensor(source)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    return IndexCopy.apply(input, source, where)


def index_fill(input, dim, index, value):
    """Fill the slices of a copy of ``input`` at positions ``index`` along dim with ``value``."""
    if input.array.ndim == 0:
        return _scalar(index_fill(_vector(input), 0, index, value))
    axis, where = _slice_index(input, dim, index, "index_fill", negative_ok=True)
    if isinstance(value, Tensor):
        value = value.item()
    return IndexCopy.apply(input, value, where)


__all__ = [
    "index_add",
    "index_copy",
    "index_fill",
    "scatter",
    "scatter_add",
    "scatter_reduce",
]
