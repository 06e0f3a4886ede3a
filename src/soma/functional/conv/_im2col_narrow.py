"""im2col kernels for narrow inputs (few channels per group, e.g. the first layer on pixels).

Same products as ``_im2col.py`` in the other orientation, channel-major:

    y[g] = W[g] @ col[g],    W[g]: (O/G, C/G·K),    col[g]: (C/G·K, N·L)

With few channels a channels-last row holds only K·C numbers in runs of C, so building it
moves tiny pieces; channel-major columns are copied in runs of a whole output row instead
(measured 1.4–1.6× faster for 3 and 6 input channels). Outputs are (N, O, *out) views of
(O, N, *out) memory, except with one group and at least ``CHANNELS_LAST_FROM`` output channels:
there the product is taken the other way round, y = colᵀ @ Wᵀ, and the output is channels-last
memory like the other convolutions', which the layers after it (BatchNorm's rows, the
activations, the residual sums) keep and the Winograd layers after a ResNet's stem read without
a copy. Measured at two threads, each network's training step alternating the two forms in one
process (median of 20): ResNet-18 (stem 3→64) ~700–1030 → 632–645 ms, VGG-11 (3→64) 114.6 →
111.6 ms; with fewer channels the channel-major form was faster: LeNet-5 (1→6) 7.23 vs 7.88 ms,
MobileNet (3→16) 95.3 vs 97.5 ms (its depthwise layers read channel-major memory; stop 41,
paired steps: channels-last 1.070× slower). From 32 channels the channels-last form wins since
dropout keeps its input's layout (stop 41; it returned row-major memory before, which made
SimpleCNN's channels-last form 1.22× slower): paired step ratios channels-last / channel-major,
SimpleCNN (1→32) 0.937, the DDPM denoiser (1→32, GroupNorm and Winograd layers after it) 0.982,
where the first Winograd layer had copied channel-major input to channels-last in every forward
pass. Kernel signatures follow ``_im2col.py``.
"""

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import as_strided, get_xp
from soma.functional.conv import _im2col_narrow_kernels as _kernels
from soma.functional.conv._geometry import (
    channel_major,
    channels_first,
    interior,
    matmul,
    reduce_positions,
    same_weight,
    tap_regions,
)

_xp = get_xp()

CHANNELS_LAST_FROM = 32  # output channels from which a one-group output is channels-last


def im2col(x, g):
    """Columns (G, C/G·K, N·L) of ``x`` (N, C, *S): every kernel tap at every output position
    (compiled, one pass on soma's threads, when ``_im2col_narrow_kernels`` applies)."""
    buf = channels_first(x, g)
    if _kernels.applies(g, x.dtype):
        return _kernels.im2col(buf, g)
    sc, sn, *ss = buf.strides
    shape = (buf.shape[0], *g.kernel, buf.shape[1], *g.out_size)
    strides = (
        sc,
        *(d * s for d, s in zip(g.dilation, ss)),
        sn,
        *(st * s for st, s in zip(g.stride, ss)),
    )
    windows = as_strided(buf, shape, strides)
    return windows.reshape(g.groups, -1, x.shape[0] * g.positions)


def col2im(gcol, g, n, c):
    """Adjoint of ``im2col``: (G, C/G·K, N·L) → (N, C, *S), a view of channel-major memory
    (compiled, one pass on soma's threads, when ``_im2col_narrow_kernels`` applies)."""
    if _kernels.applies(g, gcol.dtype):
        return _kernels.col2im(gcol, g, n, c)
    buf = _xp.zeros((c, n) + g.padded_size, dtype=gcol.dtype)
    taps = gcol.reshape((c, g.taps, n) + g.out_size)
    for t, region in enumerate(tap_regions(g)):
        buf[(slice(None), slice(None)) + region] += taps[:, t]
    return buf[interior(g)].swapaxes(0, 1)


def _grouped(w, groups):
    """(O, C/G, *k) → (G, O/G, C/G·K)."""
    return w.reshape(groups, w.shape[0] // groups, -1)


prepare = im2col
prepare_weight = same_weight


def forward(col, w, b, g):
    """y = W @ col + b, per group: (N, O, *out); channels-last (colᵀ @ Wᵀ) with one group and
    at least ``CHANNELS_LAST_FROM`` output channels."""
    o = w.shape[0]
    if g.groups == 1 and o >= CHANNELS_LAST_FROM:
        y = col[0].T @ w.reshape(o, -1).T  # (N·L, O)
        if b is not None:
            y += b
        return channels_to_front(y.reshape((-1,) + g.out_size + (o,)))
    y = matmul(_grouped(w, g.groups), col).reshape(o, -1)
    if b is not None:
        y += b[:, None]
    return y.reshape((o, -1) + g.out_size).swapaxes(0, 1)


def prepare_grad(gy, g):
    """gy as (G, O/G, N·L); a free transposed view of channels-last gy with one group."""
    if g.groups == 1:
        rows = channels_to_end(gy)
        if rows.flags.c_contiguous:
            return rows.reshape(-1, gy.shape[1]).T[None]
    return channel_major(gy).reshape(g.groups, gy.shape[1] // g.groups, -1)


def grad_input(gy_cm, w, g, n):
    """∂L/∂x = col2im(Wᵀ @ gY)."""
    gcol = matmul(_grouped(w, g.groups).swapaxes(1, 2), gy_cm)
    return col2im(gcol, g, n, w.shape[1] * g.groups)


def grad_weight(gy_cm, col, g, w_shape):
    """∂L/∂W = gY @ colᵀ."""
    return reduce_positions(gy_cm, col.swapaxes(1, 2)).reshape(w_shape)
