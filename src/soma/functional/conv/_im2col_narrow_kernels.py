"""Compiled im2col and col2im for channel-major columns (``_im2col_narrow.py``).

im2col: NumPy copies the strided window view (C, kh, kw, N, Ho, Wo) in runs of one output row
(10 or 28 numbers in LeNet-5), a few ns of iterator overhead each; this kernel copies the same
runs in plain loops, the columns' rows split over soma's threads: LeNet-5's two layers on one
thread 0.60 → 0.29 ms (1 channel of 32×32) and 1.10 → 0.42 ms (6 channels of 14×14).

    col[c·K + a·kw + b, (n·Ho + p)·Wo + q] = xp[c, n, p·sh + a·dh, q·sw + b·dw]

with xp the zero-padded channel-major input. It gives NumPy's copy bit for bit.

col2im:

NumPy's col2im adds the columns back tap by tap: K passes, each a strided add over the whole
batch on one thread (LeNet-5's second layer, 25 taps over 64 images: about 1 ms, as long as
the rest of its backward pass). This kernel adds, for each image and channel, every tap's
rows into the input plane while it sits in cache; soma's pool runs blocks of images
(``parallel.ranges``), which never share an output.

    ∂x[c, n, p·sh + a·dh − top, q·sw + b·dw − left] += col[c·K + a·kw + b, (n·Ho + p)·Wo + q]

Positions that fall in the padding are dropped. Every input position receives its taps in the
order t = a·kw + b, as in the NumPy form, so both give the same bits.
"""

from soma.backend import compiled, get_xp, parallel

_xp = get_xp()


@compiled.kernel
def _gather_columns(buf, col, geometry, kernel_w, out_h, out_w, r0, r1):
    """Rows r0 … r1 − 1 of the columns from the padded channel-major input ``buf``."""
    sh, sw, dh, dw = geometry
    images = buf.shape[1]
    taps = col.shape[0] // buf.shape[0]
    for r in range(r0, r1):
        c = r // taps
        a = (r % taps) // kernel_w
        b = r % kernel_w
        row = col[r]
        for n in range(images):
            for p in range(out_h):
                source = buf[c, n, p * sh + a * dh]
                first = (n * out_h + p) * out_w
                target = row[first : first + out_w]
                if sw == 1:
                    window = source[b * dw : b * dw + out_w]
                    for q in range(out_w):
                        target[q] = window[q]
                else:
                    for q in range(out_w):
                        target[q] = source[q * sw + b * dw]


def im2col(buf, g):
    """(G, C/G·K, N·L) columns of the padded channel-major input ``buf`` (C, N, *Sp)."""
    c, n = buf.shape[:2]
    col = _xp.empty((c * g.taps, n * g.positions), dtype=buf.dtype)
    geometry = g.stride + g.dilation
    ho, wo = g.out_size

    def run(r0, r1):
        _gather_columns(buf, col, geometry, g.kernel[1], ho, wo, r0, r1)

    parallel.ranges(run, col.shape[0], col.size)
    return col.reshape(g.groups, -1, col.shape[1])


@compiled.kernel
def _add_columns(col, gx, q_lo, q_hi, geometry, kernel_w, out_h, out_w, n0, n1):
    """∂x for images n0 … n1 − 1; [q_lo[b], q_hi[b]) are the outputs whose column b lands
    inside the input row."""
    sh, sw, dh, dw, top, left = geometry
    chans, height, width = gx.shape[0], gx.shape[2], gx.shape[3]
    taps = col.shape[0] // chans
    kernel_h = taps // kernel_w
    for n in range(n0, n1):
        for c in range(chans):
            plane = gx[c, n]
            for r in range(height):
                for s in range(width):
                    plane[r, s] = 0
            for a in range(kernel_h):
                for b in range(kernel_w):
                    row = col[c * taps + a * kernel_w + b]
                    lo, hi = q_lo[b], q_hi[b]
                    start = lo * sw + b * dw - left
                    for p in range(out_h):
                        r = p * sh + a * dh - top
                        if r < 0 or r >= height:
                            continue
                        first = (n * out_h + p) * out_w + lo
                        source = row[first : first + hi - lo]
                        if sw == 1:
                            target = plane[r, start : start + hi - lo]
                        else:
                            target = plane[r, start : start + (hi - lo - 1) * sw + 1 : sw]
                        for i in range(hi - lo):
                            target[i] += source[i]


def applies(g, dtype) -> bool:
    """Whether the compiled col2im runs: Numba on, float32/float64, two spatial axes."""
    return compiled.enabled() and dtype in compiled.FLOAT_DTYPES and len(g.kernel) == 2


def _column_ranges(g):
    """For each kernel column b, the outputs q whose input column q·sw + b·dw − left lies in
    [0, W), as arrays q_lo, q_hi."""
    sw, dw, left = g.stride[1], g.dilation[1], g.pads[1][0]
    width, out_w = g.in_size[1], g.out_size[1]
    q_lo = _xp.empty(g.kernel[1], dtype=_xp.int64)
    q_hi = _xp.empty(g.kernel[1], dtype=_xp.int64)
    for b in range(g.kernel[1]):
        shift = b * dw - left
        q_lo[b] = min(out_w, max(0, -(shift // sw)))
        q_hi[b] = max(q_lo[b], min(out_w, (width - 1 - shift) // sw + 1))
    return q_lo, q_hi


def col2im(gcol, g, n, c):
    """(G, C/G·K, N·L) columns → (N, C, H, W), a view of channel-major memory."""
    col = gcol.reshape(c * g.taps, -1)
    if not col.flags.c_contiguous:
        col = _xp.ascontiguousarray(col)
    gx = _xp.empty((c, n) + g.in_size, dtype=gcol.dtype)
    q_lo, q_hi = _column_ranges(g)
    geometry = g.stride + g.dilation + (g.pads[0][0], g.pads[1][0])
    ho, wo = g.out_size

    def run(n0, n1):
        _add_columns(col, gx, q_lo, q_hi, geometry, g.kernel[1], ho, wo, n0, n1)

    parallel.ranges(run, n, col.size)
    return gx.swapaxes(0, 1)
