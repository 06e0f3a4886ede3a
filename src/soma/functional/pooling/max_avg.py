"""Max and average pooling over 1, 2 or 3 spatial dimensions (PyTorch's semantics).

One kernel per reduction serves every dimensionality: it loops over the kernel offsets (at most
``k₁·…·k_d`` short iterations), each an element-wise operation on a strided view of the whole
batch (see ``_windows.py``). Max pooling routes the gradient to the first maximum of each window
(row-major scan order, as PyTorch's CPU kernel does); its position is recorded as a small
integer per output element during the forward pass. With the compiled kernels on (Numba),
1-D and 2-D max pooling run ``_max_kernels`` instead: value and index in one pass over each
window, in the input's own layout (NCHW or channels-last); this NumPy form stays the
reference.

Min pooling (``min_pool2d``) and sum pooling (``sum_pool2d``) are soma's additions named by the
lectures; PyTorch spells sum pooling ``lp_pool2d`` with ``norm_type=1``.
"""

import math

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function, named
from soma.autograd.memory_format import axis_order, channels_to_end, is_c_order
from soma.backend import get_xp, transpose2d
from soma.functional.pooling import _max_kernels, _tile_kernels
from soma.functional.pooling._windows import Windows, check_input

_xp = get_xp()


# ---------------------------------------------------------------------------- layouts
def use_pixels(win, lead):
    """Pool in the pixels layout (see ``_windows.py``) when there are many kernel offsets and
    the batch of planes is longer than an output row (the two layouts' innermost loops)."""
    planes = math.prod(lead)
    return win.size > 4 and planes >= 16 and planes > win.out[-1]


def to_pixels(x, d):
    """(*lead, *spatial) → (*spatial, prod(lead)), a transposed copy."""
    spatial = x.shape[x.ndim - d :]
    planes = x.size // max(1, math.prod(spatial))
    return transpose2d(x.reshape(planes, -1)).reshape(spatial + (planes,))


def to_planes(t, lead):
    """(*spatial, prod(lead)) → (*lead, *spatial), the inverse of ``to_pixels``."""
    spatial = t.shape[:-1]
    return transpose2d(t.reshape(-1, t.shape[-1])).reshape(tuple(lead) + spatial)


def _enter(ctx, x, win):
    """Pick the layout for this call; return the input in it."""
    d = len(win.spatial)
    ctx.lead = x.shape[: x.ndim - d]
    win.pixels = use_pixels(win, ctx.lead)
    return to_pixels(x, d) if win.pixels else x


def _batch_shape(win, lead, g):
    return g.shape[len(win.spatial) :] if win.pixels else lead


def _offset_dtype(n):
    return _xp.uint8 if n <= 255 else _xp.int32


def _first_argmax(frame, views, y, inside=None):
    """Index (into ``views``) of the first view equal to ``y`` at each output position; where
    the maximum is NaN, of the window's last NaN (PyTorch's CPU rule, as in ``_max_kernels``:
    a NaN replaces the running maximum, so the last one is kept).

    ``inside`` (a frame of booleans, False on the padding) keeps the padding from being chosen
    where a window's maximum equals the padding value (−inf, or an integer dtype's smallest
    value): PyTorch then points at the window's first element inside the input."""
    kidx = _xp.zeros(y.shape, dtype=_offset_dtype(len(views)))
    found = frame[views[0]] == y
    if inside is not None:
        found &= inside[views[0]]
    for k in range(1, len(views)):
        eq = frame[views[k]] == y
        if inside is not None:
            eq &= inside[views[k]]
        _xp.greater(eq, found, out=eq)  # equal here and not at an earlier offset
        if k + 1 < len(views):
            found |= eq
        kidx += eq.view(_xp.uint8) * kidx.dtype.type(k)
    if y.dtype.kind == "f":
        nan = _xp.isnan(y)
        if nan.any():  # NaN equals nothing: the loop above left these windows at offset 0
            for k, view in enumerate(views):
                kidx[nan & _xp.isnan(frame[view])] = k  # a later NaN overwrites an earlier
    return kidx


# ---------------------------------------------------------------------------- max pooling
class MaxPool(Function):
    """y = max over each window; indices optional."""

    @staticmethod
    def forward(ctx, x, *, win, return_indices):
        ctx.win = win
        if _max_kernels.applies(win, x):  # compiled: value and index in one pass
            y, idx, ctx.pixels = _max_kernels.forward(x, win)
            ctx.compiled, ctx.x_shape = True, x.shape
            ctx.save(idx)
            if not return_indices:
                return y
            ctx.mark_non_differentiable(1)
            return y, idx
        ctx.compiled = False
        entered, lowest = _enter(ctx, x, win), _lowest(x.dtype)
        frame = win.pad(entered, lowest)
        views = win.slices()
        y = frame[views[0]].copy()
        for view in views[1:]:
            _xp.maximum(y, frame[view], out=y)
        kidx = None
        if return_indices or ctx.needs_input_grad[0]:
            inside = None
            if win.needs_pad and (y == lowest).any():  # a maximum the padding could match
                inside = win.pad(_xp.ones(entered.shape, dtype=bool), False)
            kidx = _first_argmax(frame, views, y, inside)
        ctx.save(kidx)
        if win.pixels:
            y = to_planes(y, ctx.lead)
        if not return_indices:
            return y
        ctx.mark_non_differentiable(1)
        starts = win.flat_starts()
        if win.pixels:
            return y, to_planes(starts[..., None] + win.flat_offsets()[kidx], ctx.lead)
        return y, starts + win.flat_offsets()[kidx]

    @staticmethod
    def backward(ctx, gy, _gi=None):
        (kidx,) = ctx.saved
        win = ctx.win
        if ctx.compiled:
            return _max_kernels.backward(gy, kidx, ctx.x_shape, ctx.pixels, win)
        g = to_pixels(gy, len(win.spatial)) if win.pixels else gy
        gframe = win.grad_frame(_batch_shape(win, ctx.lead, g), gy.dtype)
        # dL/dx at the first maximum of a window = dL/dy of that window; 0 elsewhere
        for k, view in enumerate(win.slices()):
            hit = kidx == k
            if win.disjoint:
                _xp.multiply(g, hit, out=gframe[view])
            else:
                gframe[view] += g * hit
        gx = win.crop(gframe)
        return to_planes(gx, ctx.lead) if win.pixels else gx


def _lowest(dtype):
    """The padding of max pooling: −inf, or the smallest integer of an integer dtype."""
    return _xp.iinfo(dtype).min if dtype.kind in "iu" else -_xp.inf


# PyTorch max-pools integer tensors (not bool) and average-pools int64 ones (its average of
# integers is C's integer division of the window's sum: truncated toward zero).
MAX_POOL_INTEGERS = ("int8", "int16", "int32", "int64", "uint8")
AVG_POOL_INTEGERS = ("int64",)


def _max_pool(op, d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    check_input(op, x, d, MAX_POOL_INTEGERS)
    win = Windows(op, x.shape[-d:], kernel_size, stride, padding, dilation, ceil_mode)
    result = MaxPool.apply(x, win=win, return_indices=return_indices)
    named(result[0] if return_indices else result, _POOL_NAMES["max", d])
    return result


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """1D max pooling: the largest value of each window along the last dimension.

    See ``max_pool2d`` for the arguments; sizes are ints (or 1-tuples).

    Shape:
        (N, C, L) or (C, L) → (N, C, L_out) or (C, L_out)

    Example:
        >>> import soma
        >>> max_pool1d(soma.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[3., 2.]]])
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2D max pooling: slide a window over the image and keep the largest value of each.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) tensor.
        kernel_size: window size, an int or (kH, kW).
        stride: step between windows (default: ``kernel_size``, non-overlapping windows).
        padding: implicit −∞ padding on both sides, at most half the (dilated) window.
        dilation: spacing between the elements of a window.
        ceil_mode: round the output size up (the last window may hang over the edge, but must
            start inside the input or its left padding).
        return_indices: also return, for each output, the flat index of its maximum within
            its (H·W) input plane (as ``max_unpool2d`` expects). Ties: the first maximum in
            the window (row-major) wins, as in PyTorch's CPU kernel.

    Shape:
        (N, C, H, W) → (N, C, H_out, W_out), with
        ``H_out = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1`` (⌈⌉ with ceil_mode).

    Example:
        >>> import soma
        >>> x = soma.arange(16.0).reshape(1, 1, 4, 4)
        >>> max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """3D max pooling over (D, H, W) windows; see ``max_pool2d`` for the arguments.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out)

    Example:
        >>> import soma
        >>> max_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
        [7.0]
    """
    return _max_pool(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


# ---------------------------------------------------------------------------- average pooling
class SumPool(Function):
    """y = (Σ over each window) / divisor (a number, or one per output position)."""

    @staticmethod
    def forward(ctx, x, *, win, divisor):
        frame = win.pad(_enter(ctx, x, win), 0)
        ctx.order = _tile_kernels.tile_order(win, frame, divisor)
        ctx.tiled = ctx.order is not None
        if ctx.tiled:  # compiled: one pass each way over windows that tile the planes
            ctx.win, ctx.divisor, ctx.x_shape = win, divisor, x.shape
            return _tile_kernels.forward(frame, win, divisor, ctx.order)
        views = win.slices()
        # NOTE: order "K" keeps a channels-last input's layout (a DenseNet's transitions feed it
        # to the next block's concatenation, whose layout the whole block then runs in); a
        # ufunc's result keeps its operands' layout too, so the first two views are added in
        # one call (a pass less: 2x2 on (64, 32, 28, 28) float32, 5.0 -> 2.7 ms, quiet spell)
        y = _xp.add(frame[views[0]], frame[views[1]]) if len(views) > 1 else None
        if y is None:
            y = frame[views[0]].copy(order="K")
        for view in views[2:]:
            y += frame[view]
        ctx.win = win
        ctx.order = axis_order(y)  # x's memory order (order "K" kept it)
        ctx.channels_last = not win.pixels and _is_channels_last(y)
        if win.pixels and hasattr(divisor, "ndim"):
            divisor = divisor[..., None]  # one per output pixel, broadcast over the batch
        ctx.divisor = divisor
        _divide(y, divisor)
        return to_planes(y, ctx.lead) if win.pixels else y

    @staticmethod
    def backward(ctx, gy):
        win = ctx.win
        if ctx.tiled:
            return _tile_kernels.backward(gy, ctx.x_shape, ctx.order, win, ctx.divisor)
        # dL/dx_j = Σ over the windows w containing j of dL/dy_w / divisor_w
        if win.tiles and not win.pixels and not ctx.channels_last:
            # each input element lies in one window: dL/dy / divisor repeated k times along each
            # spatial axis (2x2 on (64, 32, 28, 28): 5.2-6.0 -> 2.7 ms against the strided
            # assignments into a frame), in x's memory order: the layer before reads it beside
            # its own arrays (LeNet-5's channel-major tanh: a C-ordered gradient sent its
            # backward down NumPy's strided loops)
            g = gy.copy(order="K")
            _divide(g, ctx.divisor)
            order = ctx.order
            in_order = is_c_order(order)
            # NOTE: no transposed views in C order: a view's base makes a leaf copy its .grad
            g = g if in_order else g.transpose(order)
            for axis, k in zip(range(g.ndim - len(win.kernel), g.ndim), win.kernel):
                if k > 1:
                    g = _xp.repeat(g, k, axis=order.index(axis))
            return g if in_order else g.transpose(_xp.argsort(order))
        g = to_pixels(gy, len(win.spatial)) if win.pixels else gy.copy(order="K")
        _divide(g, ctx.divisor)
        gframe = win.grad_frame(_batch_shape(win, ctx.lead, g), gy.dtype, ctx.channels_last)
        for view in win.slices():
            if win.disjoint:
                gframe[view] = g
            else:
                gframe[view] += g
        gx = win.crop(gframe)
        return to_planes(gx, ctx.lead) if win.pixels else gx


def _is_channels_last(a):
    """True for an (N, C, H, W) view of (N, H, W, C) memory (and not also C-contiguous)."""
    return a.ndim == 4 and not a.flags.c_contiguous and channels_to_end(a).flags.c_contiguous


def _divide(y, divisor):
    """y /= divisor in place; for integer y, C's integer division (truncated toward zero)."""
    if y.dtype.kind in "iu":
        d = divisor if isinstance(divisor, int) else divisor.astype(y.dtype, copy=False)
        q = y // d  # floor: one too low where the exact quotient is negative and not whole
        q += ((y % d) != 0) & ((y < 0) != (d < 0))
        y[...] = q
    elif isinstance(divisor, (int, float)):
        if divisor != 1:
            y *= y.dtype.type(1.0 / divisor)
    else:
        y /= divisor.astype(y.dtype, copy=False)


def _window_counts(win, count_include_pad):
    """Per output position, how many elements PyTorch divides a window's sum by."""
    counts = []
    for n, o, k, s, p in zip(win.spatial, win.out, win.kernel, win.stride, win.padding):
        start = _xp.arange(o) * s - p
        end = _xp.minimum(start + k, n + p)  # windows stop at the end of the right padding
        if not count_include_pad:
            start = _xp.maximum(start, 0)
            end = _xp.minimum(end, n)
        counts.append(end - start)
    if all(int(c.min()) == int(c.max()) for c in counts):
        return math.prod(int(c[0]) for c in counts)
    d = len(counts)
    total = _xp.ones(win.out, dtype=_xp.int64)
    for axis, c in enumerate(counts):
        shape = [1] * d
        shape[axis] = -1
        total = total * c.reshape(shape)
    return total


def _avg_pool(
    op, d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    check_input(op, x, d, AVG_POOL_INTEGERS)
    win = Windows(op, x.shape[-d:], kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ShapeError(f"{op}: divisor_override must be non-zero")
        divisor = divisor_override
    elif win.tiles:  # no padding, every window whole
        divisor = win.size
    else:
        divisor = _window_counts(win, count_include_pad)
    return named(SumPool.apply(x, win=win, divisor=divisor), _POOL_NAMES["avg", d])


# PyTorch's node names (its 1-D pooling runs the 2-D kernel on an unsqueezed input)
_POOL_NAMES = {
    ("max", 1): "SqueezeBackward1",
    ("max", 2): "MaxPool2DWithIndicesBackward0",
    ("max", 3): "MaxPool3DWithIndicesBackward0",
    ("avg", 1): "SqueezeBackward1",
    ("avg", 2): "AvgPool2DBackward0",
    ("avg", 3): "AvgPool3DBackward0",
}


def avg_pool1d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    """1D average pooling along the last dimension; see ``avg_pool2d`` for the arguments.

    Example:
        >>> import soma
        >>> avg_pool1d(soma.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[2., 1.]]])
    """
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """2D average pooling: the mean of each window.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W) tensor.
        kernel_size, stride, padding, ceil_mode: as in ``max_pool2d`` (zero padding).
        count_include_pad: count the zero padding in each window's divisor (default True).
            Windows that ceil_mode hangs past the padding are divided by the part inside it.
        divisor_override: divide every window's sum by this number instead.

    Shape:
        (N, C, H, W) → (N, C, H_out, W_out), sizes as in ``max_pool2d`` with dilation 1.

    Example:
        >>> import soma
        >>> avg_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """3D average pooling over (D, H, W) windows; see ``avg_pool2d`` for the arguments.

    Example:
        >>> import soma
        >>> avg_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
        [3.5]
    """
    return _avg_pool(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    """``max_pool1d(..., return_indices=True)``: (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    """``max_pool2d(..., return_indices=True)``: (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    """``max_pool3d(..., return_indices=True)``: (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
