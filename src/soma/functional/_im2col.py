"""Convolution kernels on raw arrays: im2col, col2im and the three BLAS products of a convolution.

A convolution of ``x`` (N, C, *S) with ``w`` (O, C/G, *k) is one matrix product per group:

    y[g] = W[g] @ col[g],    W[g]: (O/G, C/G·K),    col[g]: (C/G·K, N·L)

where K = Πk is the number of kernel taps, L = Πout the number of output positions, and column
``(n, l)`` of ``col`` holds the input values that tap each kernel entry at output position ``l``
of image ``n`` (im2col). The backward pass is two more products: ``gW = gY @ colᵀ`` and
``gcol = Wᵀ @ gY``, and ``gcol`` is summed back onto the input positions it was read from
(col2im, the adjoint of im2col). A transposed convolution is the adjoint of a convolution, so it
runs the same three kernels in the other order (see ``conv.py``).

Layout: the kernels work channel-major, (C, N, *S) in memory, so that ``col`` comes out of one
strided copy with long contiguous runs and ``W @ col`` is a single large BLAS call over the whole
batch. Results are returned as (N, C, *S) views of channel-major arrays: NumPy's element-wise
ops keep that memory order, so the next convolution reads its input without a transposing copy.
"""

import itertools
from typing import NamedTuple

from soma.backend import as_strided, get_xp

_xp = get_xp()


class Geometry(NamedTuple):
    """Shape parameters of one convolution, seen from the convolution's input side.

    ``pads`` holds (before, after) zero padding per spatial dimension; ``in_size`` and
    ``out_size`` are the unpadded input and the output spatial sizes.
    """

    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    groups: int
    in_size: tuple
    out_size: tuple

    @property
    def taps(self) -> int:
        n = 1
        for k in self.kernel:
            n *= k
        return n

    @property
    def positions(self) -> int:
        n = 1
        for s in self.out_size:
            n *= s
        return n

    @property
    def padded_size(self) -> tuple:
        return tuple(s + lo + hi for s, (lo, hi) in zip(self.in_size, self.pads))


def output_size(in_size, kernel, stride, dilation, pads) -> tuple:
    """floor((S + before + after − D·(k − 1) − 1) / stride) + 1 per spatial dimension."""
    return tuple(
        (s + lo + hi - d * (k - 1) - 1) // st + 1
        for s, k, st, d, (lo, hi) in zip(in_size, kernel, stride, dilation, pads)
    )


def interior(g):
    """Index of the unpadded input inside a padded (C, N, *Sp) buffer."""
    return (slice(None), slice(None)) + tuple(
        slice(lo, lo + s) for s, (lo, _) in zip(g.in_size, g.pads)
    )


def channels_first(x, g):
    """(N, C, *S) → zero-padded (C, N, *Sp) array; a free view when there is no padding."""
    xt = x.swapaxes(0, 1)
    if not any(lo or hi for lo, hi in g.pads):
        return xt
    buf = _xp.zeros(xt.shape[:2] + g.padded_size, dtype=x.dtype)
    buf[interior(g)] = xt
    return buf


def im2col(x, g):
    """Columns (G, C/G·K, N·L) of ``x`` (N, C, *S): every kernel tap at every output position."""
    buf = channels_first(x, g)
    sc, sn, *ss = buf.strides
    shape = (buf.shape[0], *g.kernel, buf.shape[1], *g.out_size)
    strides = (sc, *(d * s for d, s in zip(g.dilation, ss)), sn,
               *(st * s for st, s in zip(g.stride, ss)))
    windows = as_strided(buf, shape, strides)
    # NOTE: reshape copies here (the windows overlap) except for pointwise convolutions of a
    # channel-major input, where the columns are the input itself.
    return windows.reshape(g.groups, -1, x.shape[0] * g.positions)


def col2im(gcol, g, n, c):
    """Adjoint of ``im2col``: add each column entry onto the input position it was read from.

    Returns an (N, C, *S) view of a channel-major buffer.
    """
    buf = _xp.zeros((c, n) + g.padded_size, dtype=gcol.dtype)
    taps = gcol.reshape((c, *g.kernel, n, *g.out_size))
    for tap in itertools.product(*(range(k) for k in g.kernel)):
        region = tuple(
            slice(t * d, t * d + st * (o - 1) + 1, st)
            for t, d, st, o in zip(tap, g.dilation, g.stride, g.out_size)
        )
        buf[(slice(None), slice(None)) + region] += taps[(slice(None),) + tap]
    return buf[interior(g)].swapaxes(0, 1)


def _grouped(w, groups):
    """(O, C/G, *k) → (G, O/G, C/G·K)."""
    return w.reshape(groups, w.shape[0] // groups, -1)


def _matmul(a, b):
    """Product batched over groups; a single 2-D BLAS call when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return _xp.matmul(a, b)


# The four kernels every convolution strategy provides (see ``conv.py``). ``gy_cm`` is the
# output gradient in channel-major form: a C-contiguous (O, N, *out) array.
prepare = im2col


def forward(col, w, b, g):
    """y = W ⋆ x + b from the columns of x: (N, O, *out), a view of channel-major memory."""
    o = w.shape[0]
    y = _matmul(_grouped(w, g.groups), col).reshape(o, -1)
    if b is not None:
        y += b[:, None]
    return y.reshape((o, -1) + g.out_size).swapaxes(0, 1)


def grad_input(gy_cm, w, g, n):
    """∂L/∂x = col2im(Wᵀ @ gY)."""
    gy = gy_cm.reshape(g.groups, -1, n * g.positions)
    gcol = _matmul(_grouped(w, g.groups).swapaxes(1, 2), gy)
    return col2im(gcol, g, n, w.shape[1] * g.groups)


def grad_weight(gy_cm, col, g, w_shape):
    """∂L/∂W = gY @ colᵀ."""
    gy = gy_cm.reshape(g.groups, -1, col.shape[2])
    return _matmul(gy, col.swapaxes(1, 2)).reshape(w_shape)
