"""Compiled depthwise convolution (Numba): one long vectorised loop per kernel tap.

``_depthwise.Taps`` streams the whole batch through memory once per tap (nine multiply-add
passes for a 3×3 kernel) on one thread, and its weight gradient is one ``einsum`` per tap;
loops along single output rows (16 or 32 numbers) measured little better (2.1 against 2.6 ms
forward on 64 channels of 16×16). These kernels take one channel at a time, a few images of
it at once (``_CHUNK``), and lay them out so that each tap is one contiguous loop over all
those outputs:

* the images' planes are copied, zero-padded, into rows Wq wide (Wq ≥ Wo + the kernel's
  reach), split by stride phase: padded pixel (r, s) goes to phase (r mod sh, s mod sw), row
  r div sh, column s div sw;
* the outputs use the same wide rows, so output (p, q) reads tap (a, b) from phase
  (a·dh mod sh, b·dw mod sw) at (p + a·dh div sh, q + b·dw div sw): a fixed offset from its
  own position. ``y += w[a, b] · xs[offset(a, b) : offset(a, b) + length]`` is the whole tap.

The columns beyond Wo (and rows beyond Ho) of the wide rows are computed and dropped (the
output) or hold zeros (the gradients). Soma's pool runs blocks of channels on its threads
(``parallel.ranges``); no two share an output.

For output channel o = c·m + j (m = out_channels / in_channels) reading input channel c, tap
(a, b), stride (sh, sw), dilation (dh, dw) and padding (top, left)::

    y[o, n, p, q]  = Σ_{a, b} w[o, a, b] · x[c, n, p·sh + a·dh − top, q·sw + b·dw − left]  (+ bias)
    ∂x[c, n, r, s] = Σ_{j, a, b, p, q: same r, s} w[o, a, b] · ∂y[o, n, p, q]
    ∂w[o, a, b]    = Σ_{n, p, q} ∂y[o, n, p, q] · x[c, n, p·sh + a·dh − top, q·sw + b·dw − left]

Arrays are channel-major and C-contiguous: x, ∂x (C, N, H, W), y, ∂y (O, N, Ho, Wo), w (O,
kh·kw). One-dimensional convolutions run as two-dimensional ones of height 1. The weight
gradient keeps ``_BLOCK`` running sums per tap and adds them up at the end, because one
running sum would need reassociation to vectorise (``fastmath`` is off, see ``compiled``).

The output adds the taps in the tap loop's order and multiplies the padding as it does, so it
gives the tap loop's values (its NaN for inf · 0 included). In the gradients an inf weight
times the zeros of the unused columns, or their zero gradient times an inf input read there,
would make a NaN the tap loop does not have: an inf weight, or a non-finite weight gradient,
hands the call to the tap loop. Three-dimensional and float16 convolutions stay NumPy, and so
do small planes, where ``_depthwise.Dense``'s batched products were measured faster (in
MobileNet's step, its 4×4 layers: 0.43 ms against 2.5 ms here).

Measured on one thread (3×3, batch 32, forward / input gradient / weight gradient in ms, tap
loop → compiled): 16 channels of 32×32 1.86 / 3.04 / 1.92 → 0.79 / 0.77 / 1.01; 64 channels of
16×16 2.67 / 4.58 / 2.82 → 1.14 / 1.08 / 1.36. MobileNet v1 ×0.5's training step (two
threads, one process alternating both): 74 → 58 ms (best of 124), 90 → 75 ms (median).
"""

import functools
from typing import NamedTuple

from soma.backend import compiled, get_xp, parallel
from soma.functional.conv import _depthwise
from soma.functional.conv._geometry import channel_major, same_weight

_xp = get_xp()
_BLOCK = 128  # running sums per tap in the weight gradient
_CHUNK = 1 << 11  # elements of the phases scratch (8 KiB in float32); images per chunk fill it


@compiled.kernel
def _forward_channels(x, w, bias, has_bias, y, xs, ys, offsets, geometry, m, c0, c1):
    """y for input channels c0 … c1 − 1 (all their m output channels)."""
    sh, sw, top, left, hq, wq, cap = geometry
    images, height, width = x.shape[1], x.shape[2], x.shape[3]
    out_h, out_w = y.shape[2], y.shape[3]
    phase_size = cap * hq * wq
    for c in range(c0, c1):
        for n0 in range(0, images, cap):
            n1 = min(images, n0 + cap)
            length = (n1 - n0) * hq * wq
            for i in range(xs.size):
                xs[i] = 0
            for n in range(n0, n1):  # the planes of channel c into their stride phases
                for r in range(height):
                    rp = r + top
                    row = (((rp % sh) * sw * cap + n - n0) * hq + rp // sh) * wq
                    x_row = x[c, n, r]
                    for phase in range(sw):  # the columns s with (s + left) % sw == phase
                        s0 = (phase - left) % sw
                        target = xs[row + phase * phase_size + (s0 + left) // sw :]
                        for k in range((width - s0 + sw - 1) // sw):
                            target[k] = x_row[s0 + k * sw]
            for j in range(m):
                o = c * m + j
                for i in range(length):
                    ys[i] = 0
                for t in range(offsets.size):
                    wv = w[o, t]
                    source = xs[offsets[t] : offsets[t] + length]
                    for i in range(length):
                        ys[i] += wv * source[i]
                for n in range(n0, n1):  # keep the first Ho rows and Wo columns of each plane
                    for p in range(out_h):
                        y_row = y[o, n, p]
                        wide_row = ys[((n - n0) * hq + p) * wq :]
                        for q in range(out_w):
                            y_row[q] = wide_row[q]
                        if has_bias:
                            bv = bias[o]
                            for q in range(out_w):
                                y_row[q] += bv


@compiled.kernel
def _grad_input_channels(gy, w, gx, xs, gys, offsets, geometry, m, c0, c1):
    """∂x for input channels c0 … c1 − 1: each tap adds w·∂y into its stride phase, then the
    phases are gathered back into the planes."""
    sh, sw, top, left, hq, wq, cap = geometry
    images, height, width = gx.shape[1], gx.shape[2], gx.shape[3]
    out_h, out_w = gy.shape[2], gy.shape[3]
    phase_size = cap * hq * wq
    for c in range(c0, c1):
        for n0 in range(0, images, cap):
            n1 = min(images, n0 + cap)
            length = (n1 - n0) * hq * wq
            for i in range(xs.size):
                xs[i] = 0
            for j in range(m):
                o = c * m + j
                for i in range(length):  # ∂y's planes in the wide layout, zero outside Ho × Wo
                    gys[i] = 0
                for n in range(n0, n1):
                    for p in range(out_h):
                        gy_row = gy[o, n, p]
                        wide_row = gys[((n - n0) * hq + p) * wq :]
                        for q in range(out_w):
                            wide_row[q] = gy_row[q]
                for t in range(offsets.size):
                    wv = w[o, t]
                    target = xs[offsets[t] : offsets[t] + length]
                    for i in range(length):
                        target[i] += wv * gys[i]
            for n in range(n0, n1):
                for r in range(height):
                    rp = r + top
                    row = (((rp % sh) * sw * cap + n - n0) * hq + rp // sh) * wq
                    gx_row = gx[c, n, r]
                    for phase in range(sw):
                        s0 = (phase - left) % sw
                        source = xs[row + phase * phase_size + (s0 + left) // sw :]
                        for k in range((width - s0 + sw - 1) // sw):
                            gx_row[s0 + k * sw] = source[k]


@compiled.kernel
def _grad_weight_channels(gy, x, gw, xs, gys, acc, offsets, geometry, m, c0, c1):
    """∂w for the output channels of input channels c0 … c1 − 1. ``acc`` (taps, B) keeps B
    running sums per tap (the wide layout is walked in blocks of B), added up at the end."""
    sh, sw, top, left, hq, wq, cap = geometry
    images, height, width = x.shape[1], x.shape[2], x.shape[3]
    out_h, out_w = gy.shape[2], gy.shape[3]
    phase_size, block = cap * hq * wq, acc.shape[1]
    for c in range(c0, c1):
        for j in range(m):
            o = c * m + j
            for t in range(offsets.size):
                for i in range(block):
                    acc[t, i] = 0
            for n0 in range(0, images, cap):
                n1 = min(images, n0 + cap)
                length = (n1 - n0) * hq * wq
                for i in range(xs.size):
                    xs[i] = 0
                for n in range(n0, n1):
                    for r in range(height):
                        rp = r + top
                        row = (((rp % sh) * sw * cap + n - n0) * hq + rp // sh) * wq
                        x_row = x[c, n, r]
                        for phase in range(sw):
                            s0 = (phase - left) % sw
                            target = xs[row + phase * phase_size + (s0 + left) // sw :]
                            for k in range((width - s0 + sw - 1) // sw):
                                target[k] = x_row[s0 + k * sw]
                for i in range(length):
                    gys[i] = 0
                for n in range(n0, n1):
                    for p in range(out_h):
                        gy_row = gy[o, n, p]
                        wide_row = gys[((n - n0) * hq + p) * wq :]
                        for q in range(out_w):
                            wide_row[q] = gy_row[q]
                for start in range(0, length, block):
                    size = min(block, length - start)
                    gy_part = gys[start : start + size]
                    for t in range(offsets.size):
                        source = xs[offsets[t] + start : offsets[t] + start + size]
                        acc_t = acc[t]
                        for i in range(size):
                            acc_t[i] += gy_part[i] * source[i]
            for t in range(offsets.size):
                total = 0.0  # NOTE: a float64 sum of the B running sums
                for i in range(block):
                    total += acc[t, i]
                gw[o, t] = total


def applies(g, dtype) -> bool:
    """Whether the compiled kernels run: Numba on, float32/float64, one or two spatial axes."""
    return compiled.enabled() and dtype in compiled.FLOAT_DTYPES and len(g.kernel) <= 2


class _Plan(NamedTuple):
    """Where everything lies in a thread's scratch ``xs`` (see the module docstring)."""

    geometry: tuple  # (sh, sw, top, left, Hq, Wq, images per chunk)
    offsets: object  # (taps,) int64: where tap (a, b) starts reading the phases
    in_size: tuple  # (H, W)
    out_size: tuple  # (Ho, Wo)
    length: int  # images per chunk · Hq · Wq: one chunk of a channel in the wide layout
    scratch: int  # length of xs


@functools.lru_cache(maxsize=256)
def _plan(g, images) -> _Plan:
    """The wide layout for geometry ``g`` and a batch of ``images`` (1-D as 2-D of height 1):
    phase rows Hq and width Wq, images per chunk, and each tap's offset into the phases."""
    lead = (1,) * (2 - len(g.kernel))
    kernel, stride, dilation = lead + g.kernel, lead + g.stride, lead + g.dilation
    in_size, out_size = lead + g.in_size, lead + g.out_size
    pads = ((0, 0),) * len(lead) + g.pads
    top, left = pads[0][0], pads[1][0]
    (sh, sw), (dh, dw) = stride, dilation
    hq = max(out_size[0] + (kernel[0] - 1) * dh // sh, (in_size[0] - 1 + top) // sh + 1)
    wq = max(out_size[1] + (kernel[1] - 1) * dw // sw, (in_size[1] - 1 + left) // sw + 1)
    cap = max(1, min(images, _CHUNK // (sh * sw * hq * wq)))
    offsets = []
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            ra, rb = a * dh, b * dw
            phase = (ra % sh) * sw + rb % sw
            offsets.append(phase * cap * hq * wq + (ra // sh) * wq + rb // sw)
    offsets = _xp.array(offsets, dtype=_xp.int64)
    offsets.flags.writeable = False
    length = cap * hq * wq
    scratch = max(sh * sw * length, int(offsets.max()) + length)
    geometry = (sh, sw, top, left, hq, wq, cap)
    return _Plan(geometry, offsets, in_size, out_size, length, scratch)


def _finite(a) -> bool:
    return bool(_xp.isfinite(a).all())


class Compiled:
    """The depthwise kernel set (see ``convolution._kernels``) on the compiled tap loops."""

    @staticmethod
    def prepare(x, g):
        return channel_major(x)

    prepare_grad = staticmethod(channel_major)
    prepare_weight = staticmethod(same_weight)

    @staticmethod
    def forward(x_cm, w, b, g):
        c, n, o = x_cm.shape[0], x_cm.shape[1], w.shape[0]
        plan = _plan(g, n)
        x4 = x_cm.reshape((c, n) + plan.in_size)
        w2 = _xp.ascontiguousarray(w.reshape(o, -1))
        y = _xp.empty((o, n) + plan.out_size, dtype=x_cm.dtype)
        bias = b if b is not None else _xp.zeros(1, dtype=x_cm.dtype)

        def run(c0, c1):
            xs, ys = _xp.empty(plan.scratch, x_cm.dtype), _xp.empty(plan.length, x_cm.dtype)
            _forward_channels(
                x4, w2, bias, b is not None, y, xs, ys, plan.offsets, plan.geometry, o // c, c0, c1
            )

        parallel.ranges(run, c, y.size * g.taps)
        return y.reshape((o, n) + g.out_size).swapaxes(0, 1)

    @staticmethod
    def grad_input(gy_cm, w, g, n):
        if not _finite(w):
            return _depthwise.Taps.grad_input(gy_cm, w, g, n)
        plan = _plan(g, n)
        c, o = g.groups, w.shape[0]
        gy4 = gy_cm.reshape((o, n) + plan.out_size)
        w2 = _xp.ascontiguousarray(w.reshape(o, -1))
        gx = _xp.empty((c, n) + plan.in_size, dtype=gy_cm.dtype)

        def run(c0, c1):
            xs, gys = _xp.empty(plan.scratch, gy_cm.dtype), _xp.empty(plan.length, gy_cm.dtype)
            _grad_input_channels(gy4, w2, gx, xs, gys, plan.offsets, plan.geometry, o // c, c0, c1)

        parallel.ranges(run, c, gy_cm.size * g.taps)
        return gx.reshape((c, n) + g.in_size).swapaxes(0, 1)

    @staticmethod
    def grad_weight(gy_cm, x_cm, g, w_shape):
        c, n, o = x_cm.shape[0], x_cm.shape[1], w_shape[0]
        plan = _plan(g, n)
        gy4 = gy_cm.reshape((o, n) + plan.out_size)
        x4 = x_cm.reshape((c, n) + plan.in_size)
        gw = _xp.empty((o, g.taps), dtype=gy_cm.dtype)

        def run(c0, c1):
            xs, gys = _xp.empty(plan.scratch, gy_cm.dtype), _xp.empty(plan.length, gy_cm.dtype)
            acc = _xp.empty((g.taps, min(plan.length, _BLOCK)), dtype=gy_cm.dtype)
            _grad_weight_channels(
                gy4, x4, gw, xs, gys, acc, plan.offsets, plan.geometry, o // c, c0, c1
            )

        parallel.ranges(run, c, gy_cm.size * g.taps)
        if not _finite(gw):
            padded = _depthwise.Taps.prepare(x_cm.swapaxes(0, 1), g)
            return _depthwise.Taps.grad_weight(gy_cm, padded, g, w_shape)
        return gw.reshape(w_shape)
