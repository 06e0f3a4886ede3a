"""Convolution kernels on raw arrays: im2col, col2im and the BLAS products of a convolution.

A convolution of ``x`` (N, C, *S) with ``w`` (O, C/G, *k) is one matrix product per group:

    y[g] = col[g] @ W[g]ᵀ,    col[g]: (N·L, K·C/G),    W[g]: (O/G, K·C/G)

where K = Πk is the number of kernel taps, L = Πout the number of output positions, and row
``(n, l)`` of ``col`` holds the input values that the kernel's taps read at output position ``l``
of image ``n`` (im2col). The backward pass is two more products, ``∂W = gYᵀ @ col`` and either
``∂col = gY @ W`` summed back onto the input positions it was read from (col2im, the adjoint of
im2col) or, for stride 1, a convolution of gY with the flipped kernel. A transposed convolution
is the adjoint of a convolution, so it runs the same kernels in the other order (``conv.py``).

Layout: channels last. ``col`` is built from an (N, *Sp, C) buffer, so its copy moves runs of C
contiguous numbers (measured 1.3–4× faster than channel-major columns for 128–512 channels,
and 6–12% faster convolution steps for 64–512 channels overall). Outputs are (N, O, *out) views
of (N, *out, O) memory; NumPy's element-wise ops keep that order, so the next convolution reads
its input without a transposing copy. Inputs with few channels use ``_im2col_narrow.py``.
"""

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import as_strided, get_xp
from soma.functional.conv import _im2col_kernels as _fast
from soma.functional.conv import _weight_kernels as _weights
from soma.functional.conv._geometry import (
    adjoint_geometry,
    channels_last,
    flipped,
    interior,
    matmul,
    reduce_positions,
    tap_regions,
)

_xp = get_xp()


def windows(buf, g):
    """Strided view (N, *out, *k, C) of a padded (N, *Sp, C) buffer: every tap at every output."""
    sn, *ss, sc = buf.strides
    shape = (buf.shape[0], *g.out_size, *g.kernel, buf.shape[-1])
    strides = (
        sn,
        *(st * s for st, s in zip(g.stride, ss)),
        *(d * s for d, s in zip(g.dilation, ss)),
        sc,
    )
    return as_strided(buf, shape, strides)


def im2col(x, g):
    """Columns (G, N·L, K·C/G) of ``x`` (N, C, *S), taps outer and channels inner per row."""
    win = windows(channels_last(x, g), g)
    rows = x.shape[0] * g.positions
    if g.groups == 1:
        # NOTE: reshape copies (the windows overlap), except for a pointwise convolution of a
        # channels-last input, whose columns are the input itself
        return win.reshape(1, rows, -1)
    win = win.reshape(win.shape[:-1] + (g.groups, -1))
    win = _xp.moveaxis(win, -2, 0)  # (G, N, *out, *k, C/G)
    return win.reshape(g.groups, rows, -1)


def col2im(gcol, g, n, c):
    """Adjoint of ``im2col``: add each column entry onto the input position it was read from.

    ``gcol`` is (G, N·L, K·C/G); returns (N, C, *S), a view of channels-last memory. The
    compiled form (``_im2col_kernels``) gives the same bits in one pass.
    """
    if _fast.applies(g, gcol):
        return _fast.col2im(gcol, g, n, c)
    buf = _xp.zeros((n,) + g.padded_size + (c,), dtype=gcol.dtype)
    taps = gcol.reshape((g.groups, n) + g.out_size + g.kernel + (c // g.groups,))
    taps = _xp.moveaxis(taps, 0, -2).reshape((n,) + g.out_size + (g.taps, c))
    for t, region in enumerate(tap_regions(g)):
        buf[(slice(None),) + region] += taps[..., t, :]
    return channels_to_front(buf[interior(g, lead=1)])


def _weight_matrix(w, groups):
    """(O, C/G, *k) → (G, O/G, K·C/G), taps outer and channels inner like the columns (for one
    group of a large kernel, the compiled copy of ``_weight_kernels``)."""
    o, cg = w.shape[:2]
    if groups == 1 and _weights.applies(w):
        return _weights.taps_outer(w).reshape(1, o, -1)
    wm = w.reshape(groups, o // groups, cg, -1).swapaxes(2, 3)
    return wm.reshape(groups, o // groups, -1)


def _rows(a, groups):
    """(N, C, *S) → (G, N·L, C/G): one row per position, channels last (copies if needed)."""
    c = a.shape[1]
    rows = channels_to_end(a).reshape(-1, c)
    return rows.reshape(-1, groups, c // groups).swapaxes(0, 1)


def _to_layout(rows, n, size):
    """(G, N·L, O/G) products → (N, O, *size), a view of channels-last memory."""
    g, nl, og = rows.shape
    flat = rows[0] if g == 1 else rows.swapaxes(0, 1).reshape(nl, g * og)
    return channels_to_front(flat.reshape((n,) + size + (g * og,)))


# The kernels every convolution strategy provides (see ``convolution.py``):
#   prepare(x, g)               what forward and grad_weight need from the input
#   prepare_weight(w, g)        what forward and grad_input need from the kernel (made once
#                               in the forward pass and kept for the backward one)
#   forward(p, wp, b, g)        y
#   prepare_grad(gy, g)         what grad_input and grad_weight need from the output gradient
#   grad_input(q, wp, g, n)     ∂L/∂x
#   grad_weight(q, p, g, shape) ∂L/∂W
prepare = im2col


def prepare_weight(w, g):
    """(w, W): the kernel as given (the adjoint form flips it) and as the products' matrix
    (G, O/G, K·C/G), a transposing copy of the whole kernel made once per step."""
    return w, _weight_matrix(w, g.groups)


def forward(col, wp, b, g):
    """y = col @ Wᵀ + b, per group: (N, O, *out)."""
    y = matmul(col, wp[1].swapaxes(1, 2))
    if b is not None:
        y += b.reshape(g.groups, 1, -1)
    return _to_layout(y, col.shape[1] // g.positions, g.out_size)


def prepare_grad(gy, g):
    return _rows(gy, g.groups)


# The adjoint form of the input gradient copies the whole kernel, flipped and transposed (a slow
# gather of O·K·C/G numbers), where col2im writes and adds N·L·K·C numbers: it pays only when
# the batch has many more positions than there are output channels. Measured at two threads,
# fwd + all gradients, median of 20 in one process (adjoint → col2im): VGG-11's 512→512 layers
# at 4×4 and 2×2 (N·L = 256, 64) 35.0 → 28.9 and 19.9 → 15.6 ms, ResNet-18's at 4×4 (N·L = 512)
# 59.8 → 54.4 ms; ResNet-18's 256→256 at 8×8 (N·L = 2048) 50.3 → 51.8 ms.
_ADJOINT_POSITIONS_PER_CHANNEL = 4


def grad_input(gy_rows, wp, g, n):
    """∂L/∂x: col2im(gY @ W), or for stride 1 the convolution of gY with the flipped kernel.

    The second form makes BLAS write C·N·S numbers instead of K times as many; it is used when
    its columns are not larger (out_channels ≤ in_channels) and the batch has at least
    ``_ADJOINT_POSITIONS_PER_CHANNEL`` positions per output channel of a group (above).
    """
    w, wm = wp
    o, cg = w.shape[:2]
    adjoint = adjoint_geometry(g)
    positions = n * g.positions
    if (
        adjoint is not None
        and o <= cg * g.groups
        and positions >= _ADJOINT_POSITIONS_PER_CHANNEL * o // g.groups
    ):
        gy = _to_layout(gy_rows, n, g.out_size)
        adjoint_weight = prepare_weight(flipped(w, g.groups), adjoint)
        return forward(im2col(gy, adjoint), adjoint_weight, None, adjoint)
    gcol = matmul(gy_rows, wm)
    return col2im(gcol, g, n, cg * g.groups)


def grad_weight(gy_rows, col, g, w_shape):
    """∂L/∂W = gYᵀ @ col per group, back in (O, C/G, *k) layout."""
    return grad_weight_layout(reduce_positions(gy_rows.swapaxes(1, 2), col), w_shape)


def grad_weight_layout(gw, w_shape):
    """The weight matrix's layout (G, O/G, K·C/G) back to (O, C/G, *k): a view, no copy."""
    o, cg = w_shape[:2]
    return gw.reshape(o, -1, cg).swapaxes(1, 2).reshape(w_shape)
