"""Compiled sum and average pooling over tiles: windows that cover each plane exactly once.

Where the kernel equals the stride, with no padding and no dilation, and the windows cover the
plane (``Windows.tiles``: LeNet-5's 2x2 average pooling), every input element lies in one
window. The NumPy form (``max_avg.SumPool``) adds k_h·k_w strided views of the whole batch, a
pass each, and scales the sum in one more; its gradient copies and scales the output gradient
and repeats it along each axis (two passes more, the second over the whole input). These
kernels read each input element once (forward) and write it once (backward), on C-contiguous
(…, H, W) planes, with the NumPy form's arithmetic in its order, so the results are the same
bit for bit:

    y[oy, ox]  = (((x[ky, kx] + x[ky, kx + 1]) + …) + x[ky + kh − 1, kx + kw − 1]) · scale
                 (ky = oy·kh, kx = ox·kw; the window's elements in row-major order, as the
                 NumPy form adds its views and PyTorch its window)
    dL/dx[ky + i, kx + j] = dL/dy[oy, ox] · scale

with scale = 1/divisor (1: the product changes nothing, not even a NaN's sign or a −0).

The planes are cut into blocks of rows for soma's threads (``parallel.ranges``). Measured on
the 2-core Zen 1 VM through autograd, one thread, float32, 2x2, forward / forward and backward
(NumPy form → kernels): LeNet-5's (64, 6, 28, 28) 524 / 1408 → 184 / 444 µs and (64, 16, 10,
10) 316 / 640 → 124 / 245 µs (the rest of those is the call's Python: the kernels themselves
take 111 and 59 µs forward); (64, 32, 28, 28) 3796 / 6999 → 1089 / 2561 µs.
"""

from soma.autograd.memory_format import axis_order, empty_in_order
from soma.backend import compiled, get_xp, parallel

_xp = get_xp()

# Larger windows (an adaptive pooling to 1x1 of a big plane) would make each output one long
# chain of dependent additions; the NumPy form's passes over whole views do those better.
MAX_WINDOW = 16


@compiled.kernel
def _tile_sums(x, y, kh, kw, scale, lo, hi):
    """y[r, ox] = Σ x[r, i·W + ox·kw + j] (row-major over i < kh, j < kw) · scale, for rows
    r in [lo, hi): x (rows, kh·W) holds each output row's kh input rows one after another."""
    out_w = y.shape[1]
    width = out_w * kw
    for r in range(lo, hi):
        src = x[r]
        dst = y[r]
        if kh == 2 and kw == 2:  # NOTE: written out, the loop vectorises (4.7 → 1.5 ns an output)
            top = src[:width]
            bottom = src[width:]
            for ox in range(out_w):
                a = 2 * ox
                dst[ox] = (((top[a] + top[a + 1]) + bottom[a]) + bottom[a + 1]) * scale
            continue
        for ox in range(out_w):
            start = ox * kw
            total = src[start]
            for j in range(1, kw):
                total += src[start + j]
            for i in range(1, kh):
                row_start = i * width + start
                for j in range(kw):
                    total += src[row_start + j]
            dst[ox] = total * scale


@compiled.kernel
def _tile_spread(gx, gy, kh, kw, scale, lo, hi):
    """gx[r, i·W + ox·kw + j] = gy[r, ox]·scale for rows r in [lo, hi) (shapes as above; the
    input side first, as in ``_tile_sums``)."""
    out_w = gy.shape[1]
    width = out_w * kw
    for r in range(lo, hi):
        src = gy[r]
        dst = gx[r]
        if kw == 2:
            for ox in range(out_w):
                value = src[ox] * scale
                dst[2 * ox] = value
                dst[2 * ox + 1] = value
        else:
            for ox in range(out_w):
                value = src[ox] * scale
                for j in range(kw):
                    dst[ox * kw + j] = value
        for i in range(1, kh):
            row_start = i * width
            for w in range(width):
                dst[row_start + w] = dst[w]


def planes_order(x, d):
    """x's axes in memory order (outermost first) when its planes, the last ``d`` axes, are
    dense and innermost, so that ``x.transpose(order)`` is C-contiguous: NCHW memory, or the
    (C, N, H, W) memory soma's convolutions may give; else None."""
    order = axis_order(x)
    if order[x.ndim - d :] != tuple(range(x.ndim - d, x.ndim)):
        return None
    return order if x.transpose(order).flags.c_contiguous else None


def tile_order(win, x, divisor):
    """x's ``planes_order`` where the kernels serve this call, else None: compiled kernels on,
    float32/64 input with dense planes, 1-D or 2-D tiles of at most ``MAX_WINDOW`` elements,
    one divisor for every window."""
    if (
        win.tiles
        and not win.pixels
        and len(win.spatial) in (1, 2)
        and 1 < win.size <= MAX_WINDOW
        and isinstance(divisor, (int, float))
        and x.dtype in compiled.FLOAT_DTYPES
        and compiled.enabled()
    ):
        return planes_order(x, len(win.spatial))
    return None


def _shape(win):
    """(kh, kw, output row length) of 1-D or 2-D windows."""
    kernel, out = win.kernel, win.out
    return (1, kernel[0], out[0]) if len(kernel) == 1 else (kernel[0], kernel[1], out[1])


def _run(kernel, wide, narrow, win, scale):
    """kernel(wide, narrow, …) over C-contiguous arrays, one row per output row: the input side
    as (rows, kh·W), the output side as (rows, out_w)."""
    kh, kw, out_w = _shape(win)
    wide = wide.reshape(-1, kh * kw * out_w)
    narrow = narrow.reshape(-1, out_w)
    scale = wide.dtype.type(scale)

    def part(lo, hi):
        kernel(wide, narrow, kh, kw, scale, lo, hi)

    parallel.ranges(part, narrow.shape[0], wide.size)


def forward(x, win, divisor, order):
    """Σ over each window / divisor, laid out in memory as x is (``order``: ``tile_order``)."""
    shape = x.shape[: x.ndim - len(win.spatial)] + win.out
    y = empty_in_order(shape, x.dtype, order)
    _run(_tile_sums, x.transpose(order), y.transpose(order), win, 1.0 / divisor)
    return y


def backward(gy, x_shape, order, win, divisor):
    """dL/dx: dL/dy / divisor at every element of its window, in x's memory ``order``."""
    gx = empty_in_order(x_shape, gy.dtype, order)
    source = _xp.ascontiguousarray(gy.transpose(order))
    _run(_tile_spread, gx.transpose(order), source, win, 1.0 / divisor)
    return gx
