"""Compiled GroupNorm on channels-last memory (Numba, through ``soma.backend.compiled``).

``layer.RowNorm`` normalises rows of the (N·G, C/G·L) view of an NCHW array. A channels-last
array (what the convolutions return) has no such view: NumPy copied it to NCHW first and
returned NCHW, so the convolution after it copied back (a DDPM denoiser does this at every
GroupNorm). These kernels walk the channels-last memory itself, an (N, L, C) array with one
row of C channels per position, inner loops over channels (they vectorise), one sample after
another; soma's pool runs ranges of samples (``parallel.ranges``). The output keeps the layout.

For sample n and group g (channels c ∈ g, S = |g|·L values), in float64 accumulators::

    mean = Σ x / S,   var = Σ (x − mean)² / S,   invstd = 1/√(var + ε)
    x̂ = (x − mean)·invstd,   y = x̂·γ_c + β_c

and the backward pass (h = g·γ_c, g the upstream gradient)::

    dL/dx = (h − Σh/S − x̂·Σh·x̂/S)·invstd,   dL/dγ_c = Σ_{n,l} g·x̂,   dL/dβ_c = Σ_{n,l} g

The per-channel sums of dL/dγ and dL/dβ are kept per sample and added in sample order, so the
result does not depend on the number of threads. The statistics take one pass (each channel's
sums shifted by its first value, combined per group in float64), and the per-element passes
run in the array's dtype with per-channel coefficients (see the kernels). One thread, the
kernels through ``forward``/``backward``, (16, C, H, W) float32 with 8 groups, before → after
these two changes, µs forward / backward: C 32 at 16×16 272 / 314 → 213 / 197; 64 at 8×8
157 / 190 → 131 / 130; 96 at 16×16 848 / 920 → 597 / 506. The DDPM denoiser's step (two
threads, alternating processes, medians): 105.8 / 106.4 / 92.9 → 105.0 / 104.8 / 91.0 ms.
The sums then took four positions at a time (their terms added in x's dtype, then into the
float64 sums, which live in memory: loaded and stored once per four rows instead of each):
measured again before → after, 218 / 202 → 167 / 180 (C 32 at 16×16), 133 / 131 → 106 / 115
(64 at 8×8), 733 / 668 → 558 / 614 µs (96 at 16×16).

**Planes**: NCHW memory, and channel-major memory ((C, N, *S), as the depthwise and pointwise
convolutions return it), are (N, C, L) or (C, N, L) arrays whose planes of L values are
contiguous. There a group's values are whole planes, and its statistics take one pass, as
BatchNorm's do: S1 = Σ(x − K), S2 = Σ(x − K)², K the group's first value (so that a large mean
does not cancel the variance), var = (S2 − S1²/S)/S, in ``LANES`` interleaved float64 partial
sums (so that the loop vectorises). The backward pass needs per-channel sums only,
Σg and Σg·x̂ (dL/dβ, dL/dγ), since Σh = γ_c·Σg and Σh·x̂ = γ_c·Σg·x̂ within a channel.
The output and the input gradient keep the input's layout. Measured on a 2-core AVX2 Zen 1, one
thread, forward and backward of (16, 96, 16, 16) float32 NCHW with 8 groups (a DDPM decoder's
GroupNorm after a skip join), through autograd: NumPy rows 3.44 ms, planes kernels 2.28 ms
(the kernels alone 0.62–0.67 ms forward, 0.73–0.76 backward). The per-element passes then
moved to the array's dtype (the mean in two parts, as on the rows) and the statistics' lanes
to four runs at a time (``_lanes``): the kernels alone on (16, 32, 16, 16), forward /
backward, 215 / 256 → 126 / 189 µs; on (16, 64, 8, 8) 140 / 202 → 112 / 174 µs.
"""

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import compiled, get_xp, parallel
from soma.backend.compiled import np
from soma.functional.normalization import _lanes
from soma.functional.normalization._lanes import LANES

_xp = get_xp()


@compiled.kernel
def _forward_samples(x, w, b, groups, eps, xhat, y, invstd, s1, s2, high, low, inv, n0, n1):
    """x̂, y and invstd (N, G) for samples n0 … n1 − 1; s1, s2 (C,) float64 scratch, high, low
    and inv (C,) scratch in x's dtype.

    One pass for the statistics: per channel S1 = Σ(x − K), S2 = Σ(x − K)², K the channel's
    first value; then per group, with k = K − mean, Σ(x − mean)² = S2 + 2k·S1 + L·k². The
    statistics are float64; x̂ = ((x − high) − low)·invstd and y are computed in x's dtype
    (in float64 the pass took twice as long: 132 against 62 µs on (16, 256, 32) float32), the
    mean split in two parts high + low of that dtype: x − high is exact near the mean, so a
    mean far larger than the spread (1e4 ± 0.01) loses nothing to its rounding."""
    positions, chans = x.shape[1], x.shape[2]
    per = chans // groups
    count = positions * per
    for n in range(n0, n1):
        first = x[n, 0]
        for c in range(chans):
            s1[c] = 0.0
            s2[c] = 0.0
        p = 0
        while p + 4 <= positions:  # four rows' terms added in x's dtype, then in float64
            r0, r1, r2, r3 = x[n, p], x[n, p + 1], x[n, p + 2], x[n, p + 3]
            for c in range(chans):
                k = first[c]
                d0, d1, d2, d3 = r0[c] - k, r1[c] - k, r2[c] - k, r3[c] - k
                s1[c] += np.float64((d0 + d1) + (d2 + d3))
                s2[c] += np.float64((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3))
            p += 4
        for q in range(p, positions):
            row = x[n, q]
            for c in range(chans):
                d = np.float64(row[c]) - first[c]
                s1[c] += d
                s2[c] += d * d
        for g in range(groups):  # mean[c], inv[c] ← the mean and invstd of c's group
            total = 0.0
            for c in range(g * per, (g + 1) * per):
                total += first[c] * positions + s1[c]
            group_mean = total / count
            squares = 0.0
            for c in range(g * per, (g + 1) * per):
                k = first[c] - group_mean
                squares += s2[c] + k * (2.0 * s1[c] + k * positions)
            group_inv = 1.0 / (max(squares / count, 0.0) + eps) ** 0.5
            invstd[n, g] = group_inv
            for c in range(g * per, (g + 1) * per):
                high[c] = group_mean
                low[c] = group_mean - high[c]
                inv[c] = group_inv
        for p in range(positions):
            row, h_row, y_row = x[n, p], xhat[n, p], y[n, p]
            for c in range(chans):
                h = ((row[c] - high[c]) - low[c]) * inv[c]
                h_row[c] = h
                y_row[c] = h * w[c] + b[c]


@compiled.kernel
def _backward_samples(gy, xhat, w, invstd, groups, gx, gw, gb, scale, shift, slope, n0, n1):
    """dL/dx for samples n0 … n1 − 1, and their per-sample sums gw, gb (N, C) float64; scale,
    shift, slope (C,) scratch in gy's dtype.

    Σh = γ_c·Σg and Σh·x̂ = γ_c·Σg·x̂ within a channel, so the one pass over the sample sums
    Σg and Σg·x̂ per channel (dL/dβ, dL/dγ) only; then per element, in gy's dtype,
    dL/dx = g·(γ_c·invstd) − Σh/S·invstd − x̂·(Σh·x̂/S·invstd)."""
    positions, chans = gy.shape[1], gy.shape[2]
    per = chans // groups
    count = positions * per
    for n in range(n0, n1):
        gw_n, gb_n = gw[n], gb[n]
        for c in range(chans):
            gw_n[c] = 0.0
            gb_n[c] = 0.0
        p = 0
        while p + 4 <= positions:  # as in the forward: four rows at a time
            g0, g1, g2, g3 = gy[n, p], gy[n, p + 1], gy[n, p + 2], gy[n, p + 3]
            h0, h1, h2, h3 = xhat[n, p], xhat[n, p + 1], xhat[n, p + 2], xhat[n, p + 3]
            for c in range(chans):
                gb_n[c] += np.float64((g0[c] + g1[c]) + (g2[c] + g3[c]))
                gw_n[c] += np.float64(
                    (g0[c] * h0[c] + g1[c] * h1[c]) + (g2[c] * h2[c] + g3[c] * h3[c])
                )
            p += 4
        for q in range(p, positions):
            g_row, h_row = gy[n, q], xhat[n, q]
            for c in range(chans):
                gv = np.float64(g_row[c])
                gb_n[c] += gv
                gw_n[c] += gv * h_row[c]
        for g in range(groups):
            sum_h, sum_hx = 0.0, 0.0
            for c in range(g * per, (g + 1) * per):
                sum_h += w[c] * gb_n[c]
                sum_hx += w[c] * gw_n[c]
            inv = invstd[n, g]
            for c in range(g * per, (g + 1) * per):
                scale[c] = w[c] * inv
                shift[c] = sum_h / count * inv
                slope[c] = sum_hx / count * inv
        for p in range(positions):
            g_row, h_row, out = gy[n, p], xhat[n, p], gx[n, p]
            for c in range(chans):
                out[c] = g_row[c] * scale[c] - shift[c] - h_row[c] * slope[c]


# ---------------------------------------------------------------------------- planes
@compiled.kernel
def _forward_planes(x, w, b, groups, eps, channel_major, xhat, y, invstd, acc, n0, n1):
    """x̂, y and invstd (N, G) for samples n0 … n1 − 1 of x (N, C, L), or (C, N, L) when
    ``channel_major``; acc (2, LANES) float64 scratch.

    x̂ = ((x − high) − low)·invstd and y in x's dtype, the mean split in two parts of it
    (as ``_forward_samples`` does)."""
    chans = x.shape[0] if channel_major else x.shape[1]
    per = chans // groups
    count = per * x.shape[2]
    a1, a2 = acc[0], acc[1]
    for n in range(n0, n1):
        for g in range(groups):
            acc[:] = 0.0
            shift = np.float64(x[g * per, n, 0] if channel_major else x[n, g * per, 0])
            s1 = 0.0
            s2 = 0.0
            for c in range(g * per, (g + 1) * per):
                t1, t2 = _lanes.accumulate(x[c, n] if channel_major else x[n, c], shift, a1, a2)
                s1 += t1
                s2 += t2
            s1 += _lanes.fold(a1)
            s2 += _lanes.fold(a2)
            mean = shift + s1 / count
            var = max((s2 - s1 * s1 / count) / count, 0.0)
            inv = 1.0 / (var + eps) ** 0.5
            invstd[n, g] = inv
            high = x.dtype.type(mean)
            low = x.dtype.type(mean - high)
            inv_x = x.dtype.type(inv)
            for c in range(g * per, (g + 1) * per):
                plane = x[c, n] if channel_major else x[n, c]
                hp = xhat[c, n] if channel_major else xhat[n, c]
                yp = y[c, n] if channel_major else y[n, c]
                wc, bc = w[c], b[c]
                for l in range(plane.shape[0]):
                    h = ((plane[l] - high) - low) * inv_x
                    hp[l] = h
                    yp[l] = h * wc + bc


@compiled.kernel
def _backward_planes(gy, xhat, w, invstd, channel_major, gx, gw, gb, acc, n0, n1):
    """dL/dx for samples n0 … n1 − 1 (layouts as ``_forward_planes``), and their per-sample
    sums gw, gb (N, C) float64; acc (2, LANES) float64 scratch. dL/dx = g·(γ_c·invstd) −
    Σh/S·invstd − x̂·(Σh·x̂/S·invstd), in gy's dtype."""
    chans = gy.shape[0] if channel_major else gy.shape[1]
    groups = invstd.shape[1]
    per = chans // groups
    length = gy.shape[2]
    count = per * length
    a1, a2 = acc[0], acc[1]
    for n in range(n0, n1):
        for g in range(groups):
            sum_h = 0.0
            sum_hx = 0.0
            for c in range(g * per, (g + 1) * per):
                gp = gy[c, n] if channel_major else gy[n, c]
                hp = xhat[c, n] if channel_major else xhat[n, c]
                acc[:] = 0.0
                t1, t2 = _lanes.accumulate_products(gp, hp, 0.0, a1, a2)
                t1 += _lanes.fold(a1)
                t2 += _lanes.fold(a2)
                gb[n, c] = t1
                gw[n, c] = t2
                sum_h += w[c] * t1
                sum_hx += w[c] * t2
            inv = invstd[n, g]
            shift = gy.dtype.type(sum_h / count * inv)
            slope = gy.dtype.type(sum_hx / count * inv)
            for c in range(g * per, (g + 1) * per):
                gp = gy[c, n] if channel_major else gy[n, c]
                hp = xhat[c, n] if channel_major else xhat[n, c]
                out = gx[c, n] if channel_major else gx[n, c]
                scale = gy.dtype.type(w[c] * inv)
                for l in range(length):
                    out[l] = gp[l] * scale - shift - hp[l] * slope


def planes_layout(x):
    """ "nchw" or "cm" (channel-major) when the planes kernels can walk x, else None."""
    if not (compiled.enabled() and x.dtype in compiled.FLOAT_DTYPES and x.ndim > 2 and x.size):
        return None
    if x.flags.c_contiguous:
        return "nchw"
    return "cm" if x.swapaxes(0, 1).flags.c_contiguous else None


def _planes(a, channel_major):
    """(N, C, *S) → the C-contiguous (N, C, L) or (C, N, L) view (a copy if a is not so)."""
    if channel_major:
        return _xp.ascontiguousarray(a.swapaxes(0, 1)).reshape(a.shape[1], a.shape[0], -1)
    return _xp.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def _from_planes(p, shape, channel_major):
    if channel_major:
        return p.reshape((shape[1], shape[0]) + shape[2:]).swapaxes(0, 1)
    return p.reshape(shape)


def forward_planes(x, w, b, groups, eps):
    """(y, x̂ planes, invstd (N, G)) for NCHW or channel-major x; w, b (C,) or None."""
    channel_major = planes_layout(x) == "cm"
    xp = _planes(x, channel_major)
    c = x.shape[1]
    one = _xp.ones(c, dtype=x.dtype) if w is None else w
    zero = _xp.zeros(c, dtype=x.dtype) if b is None else b
    xhat, y = _xp.empty_like(xp), _xp.empty_like(xp)
    invstd = _xp.empty((x.shape[0], groups))

    def run(n0, n1):
        acc = _xp.empty((2, LANES))
        _forward_planes(
            xp, one, zero, groups, float(eps), channel_major, xhat, y, invstd, acc, n0, n1
        )

    parallel.ranges(run, x.shape[0], x.size * 3)
    return _from_planes(y, x.shape, channel_major), xhat, invstd


def backward_planes(gy, xhat, w, invstd, channel_major):
    """(dL/dx, dL/dγ, dL/dβ) from gy (any layout; copied to x̂'s if it differs)."""
    n, c = gy.shape[:2]
    gp = _planes(gy, channel_major)
    one = _xp.ones(c, dtype=gy.dtype) if w is None else w
    gx = _xp.empty_like(gp)
    gw, gb = _xp.empty((n, c)), _xp.empty((n, c))

    def run(n0, n1):
        acc = _xp.empty((2, LANES))
        _backward_planes(gp, xhat, one, invstd, channel_major, gx, gw, gb, acc, n0, n1)

    parallel.ranges(run, n, gy.size * 3)
    dtype = gy.dtype
    gx = _from_planes(gx, gy.shape, channel_major)
    return gx, gw.sum(axis=0).astype(dtype), gb.sum(axis=0).astype(dtype)


def applies(x) -> bool:
    """Whether the compiled kernels run: Numba on, float32/float64, channels-last memory with
    spatial positions (an (N, C) array is NCHW too and stays on the NumPy rows)."""
    return (
        compiled.enabled()
        and x.dtype in compiled.FLOAT_DTYPES
        and x.ndim > 2
        and x.size > 0
        and not x.flags.c_contiguous
        and channels_to_end(x).flags.c_contiguous
    )


def _rows(a):
    """(N, C, *S) → (N, L, C) view of channels-last memory."""
    return channels_to_end(a).reshape(a.shape[0], -1, a.shape[1])


def _from_rows(rows, shape):
    """(N, L, C) → (N, C, *S) view."""
    return channels_to_front(rows.reshape((shape[0],) + shape[2:] + (shape[1],)))


def forward(x, w, b, groups, eps):
    """(y, x̂ rows, invstd (N, G)) for channels-last x; w, b (C,) or None."""
    xr = _rows(x)
    n, _, c = xr.shape
    one = _xp.ones(c, dtype=x.dtype) if w is None else w
    zero = _xp.zeros(c, dtype=x.dtype) if b is None else b
    xhat, y = _xp.empty_like(xr), _xp.empty_like(xr)
    invstd = _xp.empty((n, groups))

    def run(n0, n1):
        s1, s2 = _xp.empty(c), _xp.empty(c)
        high, low, inv = (_xp.empty(c, dtype=x.dtype) for _ in range(3))
        _forward_samples(
            xr, one, zero, groups, float(eps), xhat, y, invstd, s1, s2, high, low, inv, n0, n1
        )

    parallel.ranges(run, n, xr.size * 3)
    return _from_rows(y, x.shape), xhat, invstd


def backward(gy, xhat, w, invstd):
    """(dL/dx, dL/dγ, dL/dβ) from the upstream gradient gy (N, C, *S), any layout."""
    gr = _rows(gy)
    if not gr.flags.c_contiguous:
        gr = _xp.ascontiguousarray(gr)
    n, _, c = gr.shape
    one = _xp.ones(c, dtype=gy.dtype) if w is None else w
    gx = _xp.empty_like(gr)
    gw, gb = _xp.empty((n, c)), _xp.empty((n, c))
    groups = invstd.shape[1]

    def run(n0, n1):
        scale, shift, slope = (_xp.empty(c, dtype=gy.dtype) for _ in range(3))
        _backward_samples(gr, xhat, one, invstd, groups, gx, gw, gb, scale, shift, slope, n0, n1)

    parallel.ranges(run, n, gr.size * 3)
    dtype = gy.dtype
    return _from_rows(gx, gy.shape), gw.sum(axis=0).astype(dtype), gb.sum(axis=0).astype(dtype)
