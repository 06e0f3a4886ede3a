"""Shapes and layouts shared by the convolution kernels (``_im2col*.py``, ``_depthwise.py``…).

The window arithmetic itself (output sizes, the slice of each kernel tap) is shared with
pooling in ``functional/_window_geometry.py``.

A ``Geometry`` describes one convolution from its input side; the helpers turn (N, C, *S)
arrays into the padded channels-first or channels-last buffers the kernels slide over.
"""

import math
from typing import NamedTuple

from soma.backend import get_xp
from soma.functional._window_geometry import interior_slices, offset_slices

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
        return math.prod(self.kernel)

    @property
    def positions(self) -> int:
        return math.prod(self.out_size)

    @property
    def padded_size(self) -> tuple:
        return tuple(s + lo + hi for s, (lo, hi) in zip(self.in_size, self.pads))

    @property
    def padded(self) -> bool:
        return any(lo or hi for lo, hi in self.pads)


def interior(g, lead=2):
    """Index of the unpadded input inside a padded buffer with ``lead`` leading axes."""
    return (slice(None),) * lead + interior_slices(g.in_size, [lo for lo, _ in g.pads])


def tap_regions(g):
    """For each kernel tap, the slices of the padded spatial axes it reads at every output."""
    return offset_slices(g.kernel, g.dilation, g.stride, g.out_size)


def channels_first(x, g):
    """(N, C, *S) → zero-padded (C, N, *Sp) array; a free view when there is no padding."""
    xt = x.swapaxes(0, 1)
    if not g.padded:
        return xt
    buf = _xp.zeros(xt.shape[:2] + g.padded_size, dtype=x.dtype)
    buf[interior(g)] = xt
    return buf


def channels_last(x, g):
    """(N, C, *S) → zero-padded (N, *Sp, C) array; a free view when there is no padding."""
    xl = _xp.moveaxis(x, 1, -1)
    if not g.padded:
        return xl
    buf = _xp.zeros((x.shape[0],) + g.padded_size + (x.shape[1],), dtype=x.dtype)
    buf[interior(g, lead=1) + (slice(None),)] = xl
    return buf


def channel_major(a, g=None):
    """(N, C, *S) → C-contiguous (C, N, *S); free when ``a`` is channel-major already."""
    a = a.swapaxes(0, 1)
    return a if a.flags.c_contiguous else _xp.ascontiguousarray(a)


def adjoint_geometry(g):
    """For a stride-1 convolution, the convolution that computes its input gradient.

    With y[i] = Σ_t w[t]·x[i + d·t − before], the adjoint is gx[j] = Σ_t w[t]·gy[j + before −
    d·t]: a convolution of gy, padded by d·(k − 1) − before and d·(k − 1) − after, with the
    kernel flipped (``flipped``). None when it does not apply (strided, or padding wider than
    the kernel).
    """
    if any(s != 1 for s in g.stride):
        return None
    pads = tuple(
        (d * (k - 1) - lo, d * (k - 1) - hi)
        for k, d, (lo, hi) in zip(g.kernel, g.dilation, g.pads)
    )
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        return None
    return Geometry(g.kernel, g.stride, g.dilation, pads, g.groups, g.out_size, g.in_size)


def same_weight(w, g):
    """``prepare_weight`` of the kernel sets that read the kernel as it is."""
    return w


def flipped(w, groups):
    """(O, C/G, *k) → (C, O/G, *k) with every kernel reversed: the adjoint's weight."""
    o, cg = w.shape[:2]
    wg = w.reshape((groups, o // groups, cg) + w.shape[2:]).swapaxes(1, 2)
    flip = (slice(None),) * 3 + (slice(None, None, -1),) * (w.ndim - 2)
    return wg[flip].reshape((groups * cg, o // groups) + w.shape[2:])


def matmul(a, b):
    """Product batched over groups; a single 2-D BLAS call when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return _xp.matmul(a, b)


# A weight gradient sums over every position of the batch: (M, K) @ (K, N) with K = N·L in the
# tens of thousands. When M or N is tiny (a first layer's 6 filters of 25 taps) OpenBLAS's
# product is slow: (6, 50176) @ (50176, 25) took 1.02 ms on the 2-core VM, 0.22 ms cut into
# products over 4096-long runs of K and summed; with 12 or more rows no gain was measured.
_THIN, _LONG, _RUN = 8, 8192, 4096


def reduce_positions(a, b):
    """``matmul(a, b)`` for a long reduction axis (weight gradients): a thin one-group product
    (``min(M, N) <= 8``, ``K >= 8192``) is cut into runs of K, multiplied as one batch and
    summed."""
    m, k, n = a.shape[1], a.shape[2], b.shape[2]
    if a.shape[0] != 1 or min(m, n) > _THIN or k < _LONG:
        return matmul(a, b)
    runs = k // _RUN
    whole = runs * _RUN
    parts = _xp.matmul(
        a[0, :, :whole].reshape(m, runs, _RUN).swapaxes(0, 1),
        b[0, :whole].reshape(runs, _RUN, n),
    )
    total = parts.sum(axis=0)
    if whole < k:
        total += a[0, :, whole:] @ b[0, whole:]
    return total[None]
