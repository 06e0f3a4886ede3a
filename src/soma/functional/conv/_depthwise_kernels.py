"""Compiled depthwise convolution (Numba): long vectorised loops over a wide, phased layout.

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
kh·kw). One-dimensional convolutions run as two-dimensional ones of height 1. How each pass
runs (``_sum_taps``, ``_dots``, the copies):

* the output adds three taps per pass over the chunk, ``y = ((y + w₀x₀) + w₁x₁) + w₂x₂``:
  one load and store of y per three taps instead of one per tap;
* the input gradient is the same sum read the other way: each stride phase of ∂x gathers the
  taps that write into it, from ∂y's wide planes placed after a margin of zeros, instead of
  scattering each tap into ∂x (a read-modify-write of ∂x per tap);
* the weight gradient is one dot product per tap and chunk, three taps per pass, its terms
  added in any order (``compiled.helper(reorder_sums=True)``, as a BLAS dot would) so that
  LLVM keeps vectors of running sums; the chunks' products are added in float64;
* the copies into and out of the phases run along contiguous rows; for stride 2 the even
  and odd values of a plane are first split (or joined) in one long loop, since loops over
  the few pairs of one row ran 2.2 times slower; the row starts come from the plan (two
  integer divisions per row cost more than copying the row).

The output adds the taps in the tap loop's order and multiplies the padding as it does, so it
gives the tap loop's values (its NaN for inf · 0 included). In the gradients an inf weight
times the zeros of the unused columns, or their zero gradient times an inf input read there,
would make a NaN the tap loop does not have: an inf weight, or a non-finite weight gradient,
hands the call to the tap loop. Three-dimensional and float16 convolutions stay NumPy, and so
do small planes, where ``_depthwise.Dense``'s batched products were measured faster (in
MobileNet's step, its 4×4 layers: 0.43 ms against 2.5 ms here).

Measured on the 2-core Zen 1 VM, one thread, 3×3, batch 32, forward / input gradient / weight
gradient in ms (tap per pass, scatter, running-sum blocks → the passes above): 16 channels of
32×32 1.92 / 2.08 / 2.38 → 1.04 / 1.04 / 0.94; 64 of 16×16 2.72 / 2.76 / 3.16 → 1.48 / 1.30 /
1.24; 32 of 32×32, stride 2: 2.56 / 2.52 / 2.72 → 1.82 / 2.36 / 1.54; 64 of 16×16, stride 2:
2.00 / 1.98 / 2.14 → 1.16 / 1.30 / 0.98. MobileNet v1 ×0.5's training step (two threads, the
two versions in alternating processes, median of 60 steps): 141.8 / 152.2 / 138.7 → 140.6 /
143.5 / 129.8 ms with the first two changes, 137.2 / 145.8 / 142.4 → 120.0 / 133.3 / 128.5 ms
with all. (The tap loop → the first compiled form, earlier: 16 of 32×32 1.86 / 3.04 / 1.92 →
0.79 / 0.77 / 1.01 ms on a quieter day; MobileNet 90 → 75 ms median.)
"""

import functools
import math
from typing import NamedTuple

from soma.backend import compiled, get_xp, parallel
from soma.functional.conv import _depthwise
from soma.functional.conv._geometry import channel_major, same_weight

_xp = get_xp()
_CHUNK = 1 << 11  # elements of the phases scratch (8 KiB in float32); images per chunk fill it


# ---------------------------------------------------------------------------- helpers
@compiled.helper
def _to_phases(x, c, n0, n1, xs, geometry, rows, spare):
    """xs ← the planes of channel c, images n0 … n1 − 1, zero-padded into their stride phases.
    Input row r of the first image starts at ``rows[r]`` (the plan works it out once: two
    integer divisions per row cost more than copying the row). ``spare`` holds a plane."""
    sh, sw, top, left, hq, wq, cap = geometry
    height, width = x.shape[2], x.shape[3]
    for i in range(xs.size):
        xs[i] = 0
    phase_size = cap * hq * wq
    half = width // 2
    paired = sw == 2 and width % 2 == 0
    even_start = (left % 2) * phase_size + left // 2  # paired: where columns 0, 2, … go
    odd_start = (1 - left % 2) * phase_size + (left + 1) // 2  # and columns 1, 3, …
    for n in range(n0, n1):
        base = (n - n0) * hq * wq
        if paired:
            # NOTE: the plane's even and odd values first, in two long loops, then contiguous
            # row copies: per-row loops of a few pairs ran at 1.55 against 0.70 ns a value
            _split_pairs(x[c, n].reshape(-1), spare)
            for r in range(height):
                row = rows[r] + base
                _copy(spare[r * half : (r + 1) * half], xs[row + even_start :])
                _copy(spare[(height + r) * half : (height + r + 1) * half], xs[row + odd_start :])
            continue
        for r in range(height):
            row = rows[r] + base
            x_row = x[c, n, r]
            if sw == 1:  # NOTE: one contiguous copy, which vectorises
                _copy(x_row, xs[row + left :])
                continue
            for phase in range(sw):  # the columns s with (s + left) % sw == phase
                s0 = (phase - left) % sw
                target = xs[row + phase * phase_size + (s0 + left) // sw :]
                for k in range((width - s0 + sw - 1) // sw):
                    target[k] = x_row[s0 + k * sw]


@compiled.helper
def _from_phases(xs, gx, c, n0, n1, geometry, rows, spare):
    """The planes of channel c, images n0 … n1 − 1, ← their pixels in the stride phases xs."""
    sh, sw, top, left, hq, wq, cap = geometry
    height, width = gx.shape[2], gx.shape[3]
    phase_size = cap * hq * wq
    half = width // 2
    paired = sw == 2 and width % 2 == 0
    even_start = (left % 2) * phase_size + left // 2
    odd_start = (1 - left % 2) * phase_size + (left + 1) // 2
    for n in range(n0, n1):
        base = (n - n0) * hq * wq
        if paired:
            for r in range(height):
                row = rows[r] + base
                _copy(xs[row + even_start : row + even_start + half], spare[r * half :])
                _copy(xs[row + odd_start : row + odd_start + half], spare[(height + r) * half :])
            _join_pairs(spare, gx[c, n].reshape(-1))
            continue
        for r in range(height):
            row = rows[r] + base
            gx_row = gx[c, n, r]
            if sw == 1:
                _copy(xs[row + left : row + left + width], gx_row)
                continue
            for phase in range(sw):
                s0 = (phase - left) % sw
                source = xs[row + phase * phase_size + (s0 + left) // sw :]
                for k in range((width - s0 + sw - 1) // sw):
                    gx_row[s0 + k * sw] = source[k]


@compiled.helper
def _copy(source, target):
    """target[:len(source)] ← source."""
    for k in range(source.shape[0]):
        target[k] = source[k]


@compiled.helper
def _split_pairs(values, halves):
    """halves ← values[0::2] followed by values[1::2] (values of even length)."""
    half = values.shape[0] // 2
    even, odd = halves[:half], halves[half : 2 * half]
    for k in range(half):
        even[k] = values[2 * k]
        odd[k] = values[2 * k + 1]


@compiled.helper
def _join_pairs(halves, values):
    """values[0::2] ← the first half of ``halves``, values[1::2] ← the second."""
    half = values.shape[0] // 2
    even, odd = halves[:half], halves[half : 2 * half]
    for k in range(half):
        values[2 * k] = even[k]
        values[2 * k + 1] = odd[k]


@compiled.helper
def _to_wide(gy, o, n0, n1, wide, hq, wq):
    """wide ← the planes of output channel o, images n0 … n1 − 1, in rows Wq wide (zeros in
    the columns beyond Wo and the rows beyond Ho)."""
    out_h, out_w = gy.shape[2], gy.shape[3]
    for i in range(wide.size):
        wide[i] = 0
    for n in range(n0, n1):
        for p in range(out_h):
            gy_row = gy[o, n, p]
            wide_row = wide[((n - n0) * hq + p) * wq :]
            for q in range(out_w):
                wide_row[q] = gy_row[q]


@compiled.helper(exact=True)
def _sum_taps(source, w_row, taps, starts, out, accumulate):
    """out[i] = (out[i] if accumulate else 0) + Σ_k w_row[taps[k]]·source[starts[k] + i], the
    taps added one after another in their order. Three taps share one pass over ``out`` (each
    output is read and written once per three taps, not once per tap: 0.79 against 1.55 ns an
    output for 3×3 taps, in cache, on the Zen 1 VM); with ``accumulate`` off the first pass
    starts from the first product, as the NumPy tap loop does."""
    length, count = out.shape[0], taps.shape[0]
    fresh = not accumulate
    k = 0
    while k + 3 <= count:
        w0, w1, w2 = w_row[taps[k]], w_row[taps[k + 1]], w_row[taps[k + 2]]
        s0 = source[starts[k] : starts[k] + length]
        s1 = source[starts[k + 1] : starts[k + 1] + length]
        s2 = source[starts[k + 2] : starts[k + 2] + length]
        if fresh:
            for i in range(length):
                out[i] = (w0 * s0[i] + w1 * s1[i]) + w2 * s2[i]
        else:
            for i in range(length):
                out[i] = ((out[i] + w0 * s0[i]) + w1 * s1[i]) + w2 * s2[i]
        fresh = False
        k += 3
    while k < count:
        w0 = w_row[taps[k]]
        s0 = source[starts[k] : starts[k] + length]
        if fresh:
            for i in range(length):
                out[i] = w0 * s0[i]
        else:
            for i in range(length):
                out[i] += w0 * s0[i]
        fresh = False
        k += 1
    if fresh:  # no taps
        for i in range(length):
            out[i] = 0


# ---------------------------------------------------------------------------- kernels
@compiled.kernel
def _forward_channels(
    x, w, bias, has_bias, y, xs, ys, spare, taps, offsets, geometry, rows, m, c0, c1
):
    """y for input channels c0 … c1 − 1 (all their m output channels)."""
    sh, sw, top, left, hq, wq, cap = geometry
    images = x.shape[1]
    out_h, out_w = y.shape[2], y.shape[3]
    for c in range(c0, c1):
        for n0 in range(0, images, cap):
            n1 = min(images, n0 + cap)
            length = (n1 - n0) * hq * wq
            _to_phases(x, c, n0, n1, xs, geometry, rows, spare)
            for j in range(m):
                o = c * m + j
                _sum_taps(xs, w[o], taps, offsets, ys[:length], False)
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
def _grad_input_channels(
    gy, w, gx, xs, gys, spare, phase_taps, phase_starts, phase_bounds, geometry, rows, m, c0, c1
):
    """∂x for input channels c0 … c1 − 1. Each stride phase of the wide layout gathers its
    taps: ∂xs[k] = Σ_t w[t]·∂y_wide[k − offset_t] over the taps t that read this phase, with
    ∂y's planes in wide rows after ``margin`` zeros (``gys``, so that k − offset_t ≥ −margin
    reads a zero); the phases are then gathered back into the planes."""
    sh, sw, top, left, hq, wq, cap = geometry
    images = gx.shape[1]
    phase_size = cap * hq * wq
    margin = gys.size - phase_size
    for i in range(margin):
        gys[i] = 0
    for c in range(c0, c1):
        for n0 in range(0, images, cap):
            n1 = min(images, n0 + cap)
            length = (n1 - n0) * hq * wq
            for j in range(m):
                o = c * m + j
                _to_wide(gy, o, n0, n1, gys[margin:], hq, wq)
                for phase in range(sh * sw):
                    a, b = phase_bounds[phase], phase_bounds[phase + 1]
                    target = xs[phase * phase_size : phase * phase_size + length]
                    _sum_taps(gys, w[o], phase_taps[a:b], phase_starts[a:b], target, j > 0)
            _from_phases(xs, gx, c, n0, n1, geometry, rows, spare)


@compiled.helper(reorder_sums=True)
def _dots(a, b0, b1, b2, zero):
    """(a·b0, a·b1, a·b2) of four arrays of one length, in the arrays' dtype (its terms added
    in any order: 0.83 against 3.3 ns a position for nine taps, on the Zen 1 VM)."""
    s0, s1, s2 = zero, zero, zero
    for i in range(a.shape[0]):
        v = a[i]
        s0 += v * b0[i]
        s1 += v * b1[i]
        s2 += v * b2[i]
    return s0, s1, s2


@compiled.kernel
def _grad_weight_channels(
    gy, x, gw, xs, gys, spare, totals, offsets, geometry, rows, m, zero, c0, c1
):
    """∂w for the output channels of input channels c0 … c1 − 1: per chunk of images, each
    tap's dot product of ∂y's wide planes with its window of the phases, three taps to a pass;
    the chunks' dot products are added up in float64 (``totals``, one per tap)."""
    sh, sw, top, left, hq, wq, cap = geometry
    images = x.shape[1]
    count = offsets.size
    for c in range(c0, c1):
        for j in range(m):
            o = c * m + j
            for t in range(count):
                totals[t] = 0.0
            for n0 in range(0, images, cap):
                n1 = min(images, n0 + cap)
                length = (n1 - n0) * hq * wq
                _to_phases(x, c, n0, n1, xs, geometry, rows, spare)
                wide = gys[:length]
                _to_wide(gy, o, n0, n1, wide, hq, wq)
                for k in range(0, count, 3):  # NOTE: a last group of one or two repeats a tap
                    k1, k2 = min(k + 1, count - 1), min(k + 2, count - 1)
                    s0, s1, s2 = _dots(
                        wide,
                        xs[offsets[k] : offsets[k] + length],
                        xs[offsets[k1] : offsets[k1] + length],
                        xs[offsets[k2] : offsets[k2] + length],
                        zero,
                    )
                    totals[k] += s0
                    if k1 > k:
                        totals[k1] += s1
                    if k2 > k1:
                        totals[k2] += s2
            for t in range(count):
                gw[o, t] = totals[t]


def applies(g, dtype) -> bool:
    """Whether the compiled kernels run: Numba on, float32/float64, one or two spatial axes."""
    return compiled.enabled() and dtype in compiled.FLOAT_DTYPES and len(g.kernel) <= 2


# ``_depthwise.Dense`` multiplies by a (Sin, L) matrix per channel, so its cost grows with
# Sin·L while these kernels' grows with L·taps (and a fixed cost per chunk). Measured on one
# thread, batch 32, fwd + both gradients (dense / compiled ms): 3×3, stride 1: 5×5 1.03 / 1.33,
# 6×6 1.79 / 1.75, 7×7 3.52 / 2.53, 8×8 6.95 / 2.82; stride 2: 8×8 1.60 / 2.89, 10×10
# 3.97 / 3.91; 5×5 kernels: 6×6 2.30 / 4.40, 8×8 7.28 / 6.24, 8×8 stride 2 2.00 / 4.14.
_DENSE_SIZE_PER_TAP = 160


def dense_is_faster(g) -> bool:
    """Whether ``_depthwise.Dense`` beats these kernels: Sin·L at most 160 per tap."""
    return math.prod(g.in_size) * math.prod(g.out_size) <= _DENSE_SIZE_PER_TAP * g.taps


class _Plan(NamedTuple):
    """Where everything lies in a thread's scratch ``xs`` (see the module docstring)."""

    geometry: tuple  # (sh, sw, top, left, Hq, Wq, images per chunk)
    offsets: object  # (taps,) int64: where tap (a, b) starts reading the phases
    taps: object  # (taps,) int64: 0, 1, …: every tap, in order
    phase_bounds: object  # (phases + 1,) int64: phase_taps[bounds[p]:bounds[p + 1]] read phase p
    phase_taps: object  # (taps,) int64: the taps grouped by the phase they read, each in order
    phase_starts: object  # (taps,) int64: margin − (offset of that tap within its phase)
    margin: int  # zeros before ∂y's wide planes in the input gradient's scratch
    rows: object  # (H,) int64: where input row r of a chunk's first image starts in the phases
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
    length = cap * hq * wq
    scratch = max(sh * sw * length, max(offsets) + length)
    # the input gradient gathers each phase from the taps that read it
    by_phase = sorted(range(len(offsets)), key=lambda t: (offsets[t] // length, t))
    local = [offsets[t] % length for t in by_phase]
    margin = max(local)
    bounds = [sum(offsets[t] // length < p for t in by_phase) for p in range(sh * sw + 1)]
    geometry = (sh, sw, top, left, hq, wq, cap)
    arrays = [_constant(a) for a in (offsets, range(len(offsets)), bounds, by_phase)]
    starts = _constant([margin - d for d in local])
    rows = _constant(
        (r + top) % sh * sw * length + (r + top) // sh * wq for r in range(in_size[0])
    )
    return _Plan(geometry, *arrays, starts, margin, rows, in_size, out_size, length, scratch)


def _constant(values):
    array = _xp.array(list(values), dtype=_xp.int64)
    array.flags.writeable = False
    return array


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
            spare = _xp.empty(math.prod(plan.in_size), x_cm.dtype)
            _forward_channels(
                x4,
                w2,
                bias,
                b is not None,
                y,
                xs,
                ys,
                spare,
                plan.taps,
                plan.offsets,
                plan.geometry,
                plan.rows,
                o // c,
                c0,
                c1,
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
            xs = _xp.empty(plan.scratch, gy_cm.dtype)
            gys = _xp.empty(plan.margin + plan.length, gy_cm.dtype)
            spare = _xp.empty(math.prod(plan.in_size), gy_cm.dtype)
            _grad_input_channels(
                gy4,
                w2,
                gx,
                xs,
                gys,
                spare,
                plan.phase_taps,
                plan.phase_starts,
                plan.phase_bounds,
                plan.geometry,
                plan.rows,
                o // c,
                c0,
                c1,
            )

        parallel.ranges(run, c, gy_cm.size * g.taps)
        return gx.reshape((c, n) + g.in_size).swapaxes(0, 1)

    @staticmethod
    def grad_weight(gy_cm, x_cm, g, w_shape):
        c, n, o = x_cm.shape[0], x_cm.shape[1], w_shape[0]
        plan = _plan(g, n)
        gy4 = gy_cm.reshape((o, n) + plan.out_size)
        x4 = x_cm.reshape((c, n) + plan.in_size)
        gw = _xp.empty((o, g.taps), dtype=gy_cm.dtype)
        zero = gy_cm.dtype.type(0)

        def run(c0, c1):
            xs, gys = _xp.empty(plan.scratch, gy_cm.dtype), _xp.empty(plan.length, gy_cm.dtype)
            spare = _xp.empty(math.prod(plan.in_size), gy_cm.dtype)
            totals = _xp.empty(g.taps, dtype=_xp.float64)
            _grad_weight_channels(
                gy4,
                x4,
                gw,
                xs,
                gys,
                spare,
                totals,
                plan.offsets,
                plan.geometry,
                plan.rows,
                o // c,
                zero,
                c0,
                c1,
            )

        parallel.ranges(run, c, gy_cm.size * g.taps)
        if not _finite(gw):
            padded = _depthwise.Taps.prepare(x_cm.swapaxes(0, 1), g)
            return _depthwise.Taps.grad_weight(gy_cm, padded, g, w_shape)
        return gw.reshape(w_shape)
