"""Shapes and layouts shared by the convolution kernels (``_im2col*.py``, ``_depthwise.py``…).

The window arithmetic itself (output sizes, the slice of each kernel tap) is shared with
pooling in ``functional/_window_geometry.py``.

A ``Geometry`` describes one convolution from its input side; the helpers turn (N, C, *S)
arrays into the padded channels-first or channels-last buffers the kernels slide over.
"""

import math
from typing import NamedTuple

from soma.autograd.memory_format import channels_to_end
from soma.backend import get_xp
from soma.functional._window_geometry import interior_slices, offset_slices
from soma.functional.conv import _reduce_kernels

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
    xl = channels_to_end(x)
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
# tens of thousands and a small M·N (the filters times their taps, or Winograd's channels). For
# such a product OpenBLAS is slow at one thread as at two: cut into products over runs of K
# (each small enough, M·N·run <= 2^19, for OpenBLAS to run it on one thread) and summed, it
# measured 1.5-5x faster on the 2-core Zen 4 VM, at one BLAS thread and at two (ms, one
# product / cut): (6, 50176) @ (50176, 25) 0.65 / 0.35, (16, 32768) @ (32768, 9) 0.30 / 0.12,
# (32, 32768) @ (32768, 32) 1.77 / 0.59, Winograd's 16 products (16, 8192) @ (8192, 16) 1.40 /
# 0.61 and (16, 8192) @ (8192, 32) 6.86 / 1.29; with M·N above 2048 it was slower: (16, 32768)
# @ (32768, 144) 2.85 / 3.5, (512, 1600) @ (1600, 32) 0.32 / 0.46.
_SMALL_OUTPUT, _RUN_WORK, _RUN_SHORTEST = 2048, 1 << 19, 256


def _run_length(m, n):
    """The largest power of two from 256 to 4096 with m·n·run <= _RUN_WORK."""
    return _reduce_kernels.run_length(m, n, _RUN_WORK, _RUN_SHORTEST)


COMPILED_REDUCTION = True  # the runs on soma's threads (``_reduce_kernels``) where they apply


def reduce_positions(a, b):
    """``matmul(a, b)`` of stacks (B, M, K) @ (B, K, N) with a long reduction axis K (weight
    gradients): where M·N is small the products run over runs of K, as one batch, and are
    summed (see ``_SMALL_OUTPUT``)."""
    if COMPILED_REDUCTION and _reduce_kernels.applies(a, b):
        return _reduce_kernels.reduce(a, b)
    m, k, n = a.shape[1], a.shape[2], b.shape[2]
    run = _run_length(m, n)
    if m * n > _SMALL_OUTPUT or k < 2 * run:
        return matmul(a, b)
    stack, runs = a.shape[0], k // run
    whole = runs * run
    parts = _xp.matmul(
        a[:, :, :whole].reshape(stack, m, runs, run).swapaxes(1, 2),
        b[:, :whole].reshape(stack, runs, run, n),
    )
    total = parts.sum(axis=1)
    if whole < k:
        total += _xp.matmul(a[:, :, whole:], b[:, whole:])
    return total
