"""Compiled col2im for channels-last columns (``_im2col.py``).

NumPy's col2im adds the columns back tap by tap: K strided passes over the whole padded input,
each reading one tap's C numbers from every row of the columns and adding them in place. For
ResNet-18's stride-2 layer 64→128 at 32×32 (32 images, one thread) that took 4.8–7.2 ms timed
alone and about 10 of the layer's 52 ms in a profile of its forward and gradients, where its
three products took 43.

This kernel gathers instead: every input position sums, in tap order, the column entries that
read it, and is written once (no zeroed buffer, no read-modify-write passes, no padding):

    ∂x[n, h, w, :] = Σ_(a, b) col[(n·Ho + p)·Wo + q, (a·kw + b)·C : (a·kw + b + 1)·C]
                     over the taps with h = p·sh + a·dh − top, w = q·sw + b·dw − left
                     for an output (p, q) inside the output

The sum runs in the order t = a·kw + b, the order in which the NumPy form adds the taps, so both
give the same bits (the tests compare them exactly). Which outputs read an input row or column
through which tap is worked out once per call (``_sources``): with the integer divisions inside
the loop the kernel was barely faster than NumPy (4.0–4.4 ms). Timed alone, it takes 3.3–3.6
ms for that layer; the layer's forward and gradients, old and new alternating in one process,
55.1 → 50.6 ms at one thread, 52.3 → 49.3 at two (medians of 15). soma's pool runs blocks of
images (``parallel.ranges``), which never share an output.
"""

from soma.autograd.memory_format import channels_to_front
from soma.backend import compiled, get_xp, parallel

_xp = get_xp()


@compiled.kernel
def _gather_taps(col, gx, rows_from, cols_from, out_h, out_w, n0, n1):
    """∂x (N, H, W, C) for images n0 … n1 − 1 from the columns (N·Ho·Wo, K·C);
    ``rows_from[h, a]`` is the output row p that reads input row h through kernel row a (−1:
    none), ``cols_from[w, b]`` the same for columns."""
    height, width, chans = gx.shape[1], gx.shape[2], gx.shape[3]
    kernel_h, kernel_w = rows_from.shape[1], cols_from.shape[1]
    for n in range(n0, n1):
        for h in range(height):
            for w in range(width):
                out = gx[n, h, w]
                for c in range(chans):
                    out[c] = 0
                for a in range(kernel_h):
                    p = rows_from[h, a]
                    if p < 0:
                        continue
                    for b in range(kernel_w):
                        q = cols_from[w, b]
                        if q < 0:
                            continue
                        first = (a * kernel_w + b) * chans
                        source = col[(n * out_h + p) * out_w + q, first : first + chans]
                        for c in range(chans):
                            out[c] += source[c]


def _sources(size, out_size, kernel, stride, dilation, before):
    """(size, kernel) array: the output index o with o·stride + k·dilation − before = i for
    input index i and tap k, or −1 where there is none (Python's integer arithmetic here, so
    that the kernel's loop has no division in it)."""
    i = _xp.arange(size)[:, None]
    k = _xp.arange(kernel)[None, :]
    shifted = i + before - k * dilation
    o = shifted // stride
    valid = (o * stride == shifted) & (o >= 0) & (o < out_size)
    return _xp.where(valid, o, -1)


def applies(g, gcol):
    """Whether the compiled col2im runs: Numba on, float32/float64, two spatial axes, one
    group, contiguous columns."""
    return (
        compiled.enabled()
        and gcol.dtype in compiled.FLOAT_DTYPES
        and len(g.kernel) == 2
        and g.groups == 1
        and gcol.flags.c_contiguous
    )


def col2im(gcol, g, n, c):
    """(1, N·L, K·C) columns → (N, C, H, W), a view of channels-last memory."""
    col = gcol.reshape(n * g.positions, -1)
    gx = _xp.empty((n,) + tuple(g.in_size) + (c,), dtype=gcol.dtype)
    rows_from, cols_from = (
        _sources(size, out, k, s, d, pad[0])
        for size, out, k, s, d, pad in zip(
            g.in_size, g.out_size, g.kernel, g.stride, g.dilation, g.pads
        )
    )
    ho, wo = g.out_size

    def run(n0, n1):
        _gather_taps(col, gx, rows_from, cols_from, ho, wo, n0, n1)

    parallel.ranges(run, n, col.size)
    return channels_to_front(gx)
