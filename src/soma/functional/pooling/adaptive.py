"""Adaptive pooling (the output size is given, the windows follow) and max unpooling.

Output cell ``i`` of a dimension of length ``L`` pooled to ``n`` covers input positions
``[⌊i·L/n⌋, ⌈(i+1)·L/n⌉)``, PyTorch's rule. When ``n`` divides ``L`` those windows are an
ordinary pooling with kernel = stride = L/n, and the ordinary kernels run. Otherwise average
pooling is separable: along each dimension it multiplies by an (n × L) averaging matrix, so the
forward and backward passes are small matrix products. Max pooling gathers the (ragged) windows,
padded by repeating their last element, and scatters its gradient back with one ``bincount``.

Global pooling is adaptive pooling to size 1: ``adaptive_avg_pool2d(x, 1)``.
"""

import math

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function, named
from soma.autograd.memory_format import axis_order, empty_in_order
from soma.backend import get_xp
from soma.functional import _reduction_kernels
from soma.functional.pooling._windows import Windows, check_input
from soma.functional.pooling.max_avg import MaxPool, SumPool

_xp = get_xp()


def _output_size(op, d, x, output_size):
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * d
    output_size = tuple(output_size)
    if len(output_size) != d:
        raise ShapeError(f"{op}: output_size must have {d} elements, got {output_size}")
    spatial = x.shape[-d:]
    size = tuple(n if o is None else int(o) for o, n in zip(output_size, spatial))
    if any(o < 0 for o in size):
        raise ShapeError(f"{op}: output_size must be at least 0, got {output_size}")
    return size


class EmptyPool(Function):
    """Pooling to an output size with a 0 in it: an empty result, as PyTorch's. Like
    PyTorch's, its backward refuses a gradient with an empty pooled dimension."""

    @staticmethod
    def forward(ctx, x, *, size, op, indices):
        shape = x.shape[: x.ndim - len(size)] + size
        ctx.op, ctx.shape = op, shape
        y = _xp.empty(shape, dtype=x.dtype)
        if not indices:
            return y
        ctx.mark_non_differentiable(1)
        return y, _xp.empty(shape, dtype=_xp.int64)

    @staticmethod
    def backward(ctx, gy, _gi=None):
        raise ShapeError(
            f"{ctx.op} backward: the gradient has shape {tuple(ctx.shape)}, empty in a pooled "
            "dimension (output_size has a 0); PyTorch refuses it too"
        )


def _bounds(length, n):
    i = _xp.arange(n)
    return (i * length) // n, -((-(i + 1) * length) // n)


def _regular(spatial, size):
    """The equivalent ordinary pooling window when every output cell covers L/n positions."""
    if all(n % o == 0 for n, o in zip(spatial, size)):
        kernel = tuple(n // o for n, o in zip(spatial, size))
        return Windows("adaptive pooling", spatial, kernel, kernel, 0)
    return None


def along(x, matrix, axis):
    """Multiply the vectors of ``x`` along ``axis`` by ``matrix`` (n_out × n_in).

    No transposition: the last axis is one matrix product ``x · Aᵀ``; any other axis is a
    batch of products ``A · x[i]`` over the (before, n_in, after) view of ``x``.
    """
    before = math.prod(x.shape[:axis])
    after = math.prod(x.shape[axis + 1 :])
    out_shape = x.shape[:axis] + (matrix.shape[0],) + x.shape[axis + 1 :]
    if after == 1:
        return (x.reshape(before, x.shape[axis]) @ matrix.T).reshape(out_shape)
    return _xp.matmul(matrix, x.reshape(before, x.shape[axis], after)).reshape(out_shape)


# ---------------------------------------------------------------------------- average
def _averaging_matrix(length, n, dtype):
    start, end = _bounds(length, n)
    pos = _xp.arange(length)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return inside / (end - start)[:, None].astype(dtype)


class Separable(Function):
    """y = x ×₁ A₁ ×₂ A₂ …: one matrix per trailing dimension (averaging, interpolation)."""

    @staticmethod
    def forward(ctx, x, *, matrices):
        d = len(matrices)
        y = x
        for i, a in enumerate(matrices):
            if a is not None:
                y = along(y, a.astype(x.dtype, copy=False), x.ndim - d + i)
        ctx.matrices = matrices
        return y

    @staticmethod
    def backward(ctx, gy):
        d = len(ctx.matrices)
        g = gy
        # dL/dx = gy ×₁ A₁ᵀ ×₂ A₂ᵀ …
        for i, a in enumerate(ctx.matrices):
            if a is not None:
                g = along(g, a.T.astype(gy.dtype, copy=False), gy.ndim - d + i)
        return g


class GlobalAvg(Function):
    """y = mean of each (trailing d-dimensional) plane."""

    @staticmethod
    def forward(ctx, x, *, d):
        axes = tuple(range(x.ndim - d, x.ndim))
        ctx.shape, ctx.order = x.shape, axis_order(x)
        ctx.count = 1
        for a in axes:
            ctx.count *= x.shape[a]
        if ctx.count and x.flags.c_contiguous:  # NCHW planes: compiled float32 sums, if any
            sums = _reduction_kernels.plane_sums(x.reshape(-1, ctx.count))
            if sums is not None:  # float64, rounded once
                keep = x.shape[: x.ndim - d] + (1,) * d
                return (sums / ctx.count).astype(x.dtype).reshape(keep)
        return x.mean(axis=axes, keepdims=True)

    @staticmethod
    def backward(ctx, gy):
        # dL/dx = dL/dy / (number of elements in the plane), at every position of the plane;
        # laid out as x was, so that the layer before reads it beside its own arrays in one
        # order (ResNet-18's last ReLU backward: 1.46 ms with a C-ordered gradient, 0.45 ms)
        gx = empty_in_order(ctx.shape, gy.dtype, ctx.order)
        gx[...] = gy * gy.dtype.type(1.0 / ctx.count)
        return gx


def _adaptive_avg(op, d, x, output_size):
    check_input(op, x, d)
    size = _output_size(op, d, x, output_size)
    spatial = x.shape[-d:]
    if 0 in size:
        name = f"AdaptiveAvgPool{d}DBackward0" if d > 1 else "SqueezeBackward1"  # PyTorch's
        return named(EmptyPool.apply(x, size=size, op=op, indices=False), name)
    if size == spatial:
        return SumPool.apply(x, win=Windows(op, spatial, 1, 1, 0), divisor=1)
    if all(o == 1 for o in size):
        return named(GlobalAvg.apply(x, d=d), "MeanBackward1")  # PyTorch: a mean over H, W
    win = _regular(spatial, size)
    if win is not None:
        return SumPool.apply(x, win=win, divisor=win.size)
    matrices = tuple(
        None if n == o else _averaging_matrix(n, o, x.dtype) for n, o in zip(spatial, size)
    )
    return Separable.apply(x, matrices=matrices)


def adaptive_avg_pool1d(input, output_size):
    """1D adaptive average pooling; see ``adaptive_avg_pool2d``.

    Example:
        >>> import soma
        >>> adaptive_avg_pool1d(soma.tensor([[[1.0, 2.0, 3.0]]]), 2)
        tensor([[[1.5000, 2.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """2D average pooling to a given output size, whatever the input size.

    Output cell ``i`` averages input rows ``⌊i·H/H_out⌋ … ⌈(i+1)·H/H_out⌉ − 1`` (likewise for
    columns). ``output_size=1`` is global average pooling (the idiom for
    ``nn.AdaptiveAvgPool2d(1)`` before a classifier).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: (H_out, W_out) or an int for both; None keeps that input size.

    Example:
        >>> import soma
        >>> adaptive_avg_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 1)
        tensor([[[[7.5000]]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """3D adaptive average pooling; see ``adaptive_avg_pool2d``.

    Example:
        >>> import soma
        >>> adaptive_avg_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 1).flatten().tolist()
        [3.5]
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


# ---------------------------------------------------------------------------- max
def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def scatter_planes(values, idx, shape, d):
    """Zeros of ``shape`` plus ``values`` summed in at the flat in-plane indices ``idx``.

    ``idx`` has the shape of ``values``: the leading dimensions pick the plane (the last ``d``
    dimensions of ``shape``), the index the position inside it.
    """
    plane = _prod(shape[len(shape) - d :])
    n = _prod(shape[: len(shape) - d])
    flat = idx.reshape(n, -1) + (_xp.arange(n) * plane)[:, None]
    total = _xp.bincount(flat.ravel(), weights=values.ravel(), minlength=n * plane)
    return total.astype(values.dtype).reshape(shape)


def _window_table(spatial, size):
    """Flat in-plane positions of every window, shape (*size, K) (short windows repeat their
    last position, which changes neither the maximum nor which position is first)."""
    d = len(spatial)
    strides = [_prod(spatial[i + 1 :]) for i in range(d)]
    flat = _xp.zeros((1,) * (2 * d), dtype=_xp.int64)
    for i, (n, o) in enumerate(zip(spatial, size)):
        start, end = _bounds(n, o)
        k = int((end - start).max())
        pos = _xp.minimum(start[:, None] + _xp.arange(k), end[:, None] - 1)
        shape = [1] * (2 * d)
        shape[i], shape[d + i] = o, k
        flat = flat + (pos * strides[i]).reshape(shape)
    return flat.reshape(tuple(size) + (-1,))


class GatherMax(Function):
    """y = max over the windows listed in ``table`` (flat in-plane positions); indices out."""

    @staticmethod
    def forward(ctx, x, *, table, d):
        lead = x.shape[: x.ndim - d]
        windows = x.reshape(lead + (-1,))[..., table]
        pick = windows.argmax(axis=-1)[..., None]  # the first maximum wins
        y = _xp.take_along_axis(windows, pick, axis=-1)[..., 0]
        idx = _xp.take_along_axis(_xp.broadcast_to(table, windows.shape), pick, axis=-1)[..., 0]
        ctx.save(idx)
        ctx.shape = x.shape
        ctx.d = d
        ctx.mark_non_differentiable(1)
        return y, idx

    @staticmethod
    def backward(ctx, gy, _gi=None):
        (idx,) = ctx.saved
        # dL/dx_j = Σ of dL/dy over the windows whose maximum is j (adaptive windows overlap)
        return scatter_planes(gy, idx, ctx.shape, ctx.d)


def _adaptive_max(op, d, x, output_size, return_indices):
    check_input(op, x, d)
    size = _output_size(op, d, x, output_size)
    spatial = x.shape[-d:]
    win = None if 0 in size else _regular(spatial, size)
    if 0 in size:
        y, idx = EmptyPool.apply(x, size=size, op=op, indices=True)
    elif win is not None and win.size <= 16:
        y, idx = MaxPool.apply(x, win=win, return_indices=True)
    else:
        y, idx = GatherMax.apply(x, table=_window_table(spatial, size), d=d)
    named(y, f"AdaptiveMaxPool{d}DBackward0" if d > 1 else "SqueezeBackward1")  # PyTorch's
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1D adaptive max pooling; see ``adaptive_max_pool2d``.

    Example:
        >>> import soma
        >>> adaptive_max_pool1d(soma.tensor([[[1.0, 5.0, 3.0]]]), 2)
        tensor([[[5., 5.]]])
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2D max pooling to a given output size (windows as in ``adaptive_avg_pool2d``).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: (H_out, W_out) or an int; None keeps that input size.
        return_indices: also return each maximum's flat index in its H·W plane.

    Example:
        >>> import soma
        >>> adaptive_max_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 1)
        tensor([[[[15.]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3D adaptive max pooling; see ``adaptive_max_pool2d``.

    Example:
        >>> import soma
        >>> adaptive_max_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 1).flatten().tolist()
        [7.0]
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool1d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool2d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """``adaptive_max_pool3d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)
