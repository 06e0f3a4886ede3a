"""Depthwise convolution kernels: every group sees one input channel (groups == in_channels).

Here each output is a short weighted sum over the K kernel taps of one channel, so im2col plus a
matrix product per group would be thousands of tiny products. Two vectorised formulations
instead, chosen by the size of the spatial input:

* **Taps** (large inputs): a loop over the K kernel taps, each one multiply-add of a strided
  window view of the whole batch; channels are processed in blocks that fit in cache, so the
  running sum is not streamed through memory K times.
* **Dense** (small inputs, e.g. 8×8 or less): the convolution of one channel is a linear map of
  its Sin input pixels to its L output pixels, a (Sin, L) matrix ``T_c = Σ_t w_ct P_t`` built from
  0/1 tap patterns ``P_t``. Then y = x @ T, ∂x = gy @ Tᵀ and ∂T = xᵀ @ gy are batched BLAS
  products over channels, and ∂w_ct = ⟨∂T_c, P_t⟩ one more product.

With Numba, inputs too large for the dense form run on ``_depthwise_kernels.py`` instead of
the tap loop (one vectorised loop per tap over a padded, stride-phased layout, channels on
soma's threads); the tap loop stays the reference, and the fallback for 3-D, float16 and
non-finite weights. Layout and kernel signatures follow ``_im2col.py``; the output channel
``c·m + j`` (m = channel multiplier, out_channels / in_channels) reads input channel ``c``.
"""

import functools
import math

from soma.backend import active_backend, get_xp
from soma.functional.conv._geometry import (
    channel_major,
    channels_first,
    interior,
    same_weight,
    tap_regions,
)

_xp = get_xp()

# Cache-sized block of the tap loop, in elements of the output.
_BLOCK = 1 << 17
# Use the dense formulation when the input has at most this many pixels per kernel tap.
_DENSE_PIXELS_PER_TAP = 12


def use_dense(g) -> bool:
    """Whether the dense formulation is cheaper than the tap loop for this geometry (with
    Numba, ``_depthwise_kernels.dense_is_faster`` decides against the compiled kernels)."""
    return math.prod(g.in_size) <= _DENSE_PIXELS_PER_TAP * g.taps


def _regions(g):
    """For each kernel tap, the index of the input window it reads in a padded (C, N, *Sp)."""
    for region in tap_regions(g):
        yield (slice(None), slice(None)) + region


def _taps_matrix(w, c):
    """(O, 1, *k) → (C, m, K, 1, …) so that w[c, j, t] broadcasts against a (C, N, *out) block."""
    return w.reshape(c, w.shape[0] // c, -1)


def _expand(a, ndim):
    return a.reshape(a.shape + (1,) * ndim)


class Taps:
    """Tap loop over cache-sized channel blocks (a set of kernels, used like a module)."""

    prepare = staticmethod(channels_first)
    prepare_grad = staticmethod(channel_major)
    prepare_weight = staticmethod(same_weight)

    @staticmethod
    def forward(buf, w, b, g):
        c, n = buf.shape[:2]
        wt = _taps_matrix(w, c)
        m = wt.shape[1]
        y = _xp.empty((c, m, n) + g.out_size, dtype=buf.dtype)
        block = max(1, _BLOCK // max(1, m * n * g.positions))
        tmp = _xp.empty((min(block, c),) + y.shape[1:], dtype=buf.dtype)
        spatial = 1 + len(g.out_size)
        for c0 in range(0, c, block):
            c1 = min(c, c0 + block)
            yb, tb, xb = y[c0:c1], tmp[: c1 - c0], buf[c0:c1]
            for t, region in enumerate(_regions(g)):
                wv = _expand(wt[c0:c1, :, t], spatial)
                window = xb[region][:, None]
                if t == 0:
                    _xp.multiply(window, wv, out=yb)
                else:
                    _xp.multiply(window, wv, out=tb)
                    yb += tb
        y = y.reshape((c * m, n) + g.out_size)
        if b is not None:
            y += _expand(b, spatial)
        return y.swapaxes(0, 1)

    @staticmethod
    def grad_input(gy_cm, w, g, n):
        c = g.groups
        wt = _taps_matrix(w, c)
        m = wt.shape[1]
        gy = gy_cm.reshape((c, m, n) + g.out_size)
        gbuf = _xp.zeros((c, n) + g.padded_size, dtype=gy.dtype)
        block = max(1, _BLOCK // max(1, m * n * g.positions))
        spatial = 1 + len(g.out_size)
        tmp = _xp.empty((min(block, c),) + gy.shape[1:], dtype=gy.dtype)
        for c0 in range(0, c, block):
            c1 = min(c, c0 + block)
            gb, gyb, tb = gbuf[c0:c1], gy[c0:c1], tmp[: c1 - c0]
            for t, region in enumerate(_regions(g)):
                _xp.multiply(gyb, _expand(wt[c0:c1, :, t], spatial), out=tb)
                gb[region] += tb[:, 0] if m == 1 else tb.sum(axis=1)
        return gbuf[interior(g)].swapaxes(0, 1)

    @staticmethod
    def grad_weight(gy_cm, buf, g, w_shape):
        c, n = buf.shape[:2]
        gy = gy_cm.reshape((c, w_shape[0] // c, n, -1))
        gw = _xp.empty((c, gy.shape[1], g.taps), dtype=gy.dtype)
        for t, region in enumerate(_regions(g)):
            window = buf[region].reshape(c, n, -1)
            # ∂w[c, j, t] = Σ_{n, l} gy[c, j, n, l] · window_t[c, n, l]
            gw[:, :, t] = _xp.einsum("cjnl,cnl->cj", gy, window)
        return gw.reshape(w_shape)


def _patterns(g, dtype):
    """0/1 tensor P (K, Sin, L): P[t, i, l] = 1 when tap t reads input pixel i at output l.

    Cached per array backend: an array built under one backend is never handed to another.
    """
    return _cached_patterns(g, dtype, active_backend().name)


@functools.lru_cache(maxsize=64)
def _cached_patterns(g, dtype, backend_name):
    axes = []
    for s, k, st, d, (lo, _), o in zip(
        g.in_size, g.kernel, g.stride, g.dilation, g.pads, g.out_size
    ):
        pos = _xp.arange(o)[None, :] * st - lo + _xp.arange(k)[:, None] * d  # (k, o)
        axes.append((pos, s))
    p = _xp.ones((1, 1, 1), dtype=bool)
    for pos, s in axes:
        onehot = pos[:, None, :] == _xp.arange(s)[None, :, None]  # (k, s, o)
        p = (p[:, None, :, None, :, None] & onehot[None, :, None, :, None, :]).reshape(
            p.shape[0] * onehot.shape[0], p.shape[1] * s, p.shape[2] * onehot.shape[2]
        )
    p = p.astype(dtype)
    p.flags.writeable = False
    return p


class Dense:
    """Per-channel dense (Sin, L) matrices for small spatial inputs (a set of kernels)."""

    prepare_grad = staticmethod(channel_major)
    prepare_weight = staticmethod(same_weight)

    @staticmethod
    def prepare(x, g):
        n, c = x.shape[:2]
        return x.swapaxes(0, 1).reshape(c, 1, n, -1)

    @staticmethod
    def _matrices(w, g, c):
        p = _patterns(g, w.dtype)
        k, sin, l = p.shape
        return (w.reshape(-1, k) @ p.reshape(k, -1)).reshape(c, -1, sin, l)

    @staticmethod
    def forward(x_cm, w, b, g):
        c, _, n = x_cm.shape[:3]
        y = _xp.matmul(x_cm, Dense._matrices(w, g, c)).reshape(w.shape[0], n, -1)
        if b is not None:
            y += b[:, None, None]
        return y.reshape((w.shape[0], n) + g.out_size).swapaxes(0, 1)

    @staticmethod
    def grad_input(gy_cm, w, g, n):
        c = g.groups
        gy = gy_cm.reshape(c, -1, n, g.positions)
        gx = _xp.matmul(gy, Dense._matrices(w, g, c).swapaxes(2, 3))
        gx = gx[:, 0] if gx.shape[1] == 1 else gx.sum(axis=1)
        return gx.reshape((c, n) + g.in_size).swapaxes(0, 1)

    @staticmethod
    def grad_weight(gy_cm, x_cm, g, w_shape):
        c, _, n = x_cm.shape[:3]
        gy = gy_cm.reshape(c, -1, n, g.positions)
        gt = _xp.matmul(x_cm.swapaxes(2, 3), gy)  # ∂T: (C, m, Sin, L)
        p = _patterns(g, gy.dtype)
        return (gt.reshape(w_shape[0], -1) @ p.reshape(p.shape[0], -1).T).reshape(w_shape)
