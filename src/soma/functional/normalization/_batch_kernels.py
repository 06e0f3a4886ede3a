"""Compiled BatchNorm kernels (Numba, through ``soma.backend.compiled``).

The data is walked in memory order, in one of two layouts of an (N, C, *S) array:

* **rows** (channels-last, and every C-contiguous (N, C)): an (R, C) matrix, R = N·|S|, one
  row of C channels per position; the inner loop runs over channels.
* **planes** (C-contiguous NCHW): an (N, C, L) array, L = |S|; the inner loop runs over one
  plane of a channel.
* **cm** (channel-major memory, (C, N, *S), as depthwise and pointwise convolutions return
  it): seen as planes of one "sample", (1, C, N·L), each channel one contiguous plane; the
  planes kernels run on ranges of channels, one range per thread. The results keep that
  layout, so a MobileNet's depthwise → BatchNorm → ReLU → pointwise chain never changes it.

Any other strides take the NumPy path of ``batch.py``. Per channel c, with M values each:

Forward, one pass for the statistics (float64 accumulators, shifted by K_c, the channel's first
value, so that a large mean does not cancel the variance)::

    S1 = Σ (x − K),   S2 = Σ (x − K)²,   mean = K + S1/M,   var = (S2 − S1²/M) / M

then one pass ``y = (x − mean)·scale + β`` with ``scale = γ/√(var + ε)`` (also evaluation's
``y = x·scale + shift`` with ``mean = 0``).

Backward, one pass for the sums and one for the input gradient (x̂ = (x − mean)·invstd)::

    Σg,  Σg·(x − mean)            dL/dβ = Σg,   dL/dγ = invstd · Σg·(x − mean)
    dL/dx = k·g + a·(x − mean) + b,   k = γ·invstd,  a = −k·invstd²·Σg·(x − mean)/M,
                                      b = −k·Σg/M

Every sum is made of partial sums over fixed blocks (a sample for planes, ``ROW_BLOCK`` rows
for rows), combined in block order: the result is the same whatever the number of threads.
In the rows layout the four values of one channel in four consecutive runs are first added in
the array's dtype, then into the float64 partial sums (two conversions and float64 additions
per four values instead of per value), and the backward's x − mean is (x − high) − low, the
mean in two parts of the array's dtype; the variance stays within 4e-8 of float64's (measured
on (8, 16, 64, 64) and (8, 64, 16, 16), mean 5, spread 2). One thread, channels-last float32,
statistics / backward sums, µs: (8, 16, 64, 64) 430 / 545 → 277 / 368; (8, 32, 32, 32)
226 / 277 → 150 / 169; (8, 64, 16, 16) 137 / 142 → 101 / 108.
The blocks are shared among soma's threads (``parallel.ranges``).

Measured (CPU time on one thread, min of 20, a shared 2-core VM; BatchNorm2d fwd+bwd, float32;
NumPy form / compiled / PyTorch 2.13): (64, 32, 28, 28) NCHW 5.2 / 2.1 / 4.1 ms and
channels-last 9.5 / 3.6 / 4.1 ms; (32, 128, 16, 16) NCHW 2.5 / 1.3 / 2.8 ms, channels-last
4.5 / 1.9 / 2.8 ms. Per pass on (64, 32, 28, 28) NCHW: statistics 0.36 ms (0.95 before the
interleaved lanes of ``planes_stats``), y 0.17, sums 0.45, dL/dx 0.17.
"""

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import compiled, parallel
from soma.backend.compiled import np
from soma.functional.normalization import _lanes
from soma.functional.normalization._lanes import LANES

ROW_BLOCK = 512  # rows of C channels summed into one partial sum (rows layout)


# ---------------------------------------------------------------------------- statistics
@compiled.kernel
def rows_stats(x, shift, channels, start, stop, s1, s2):
    """Blocks [start, stop) of ``ROW_BLOCK`` rows of flat x (R·C,): s1[b] = Σ(x − K), s2[b] = Σ(x − K)².

    ``shift`` holds K (in x's dtype) tiled over a run of whole rows (see ``tile``); each block
    is summed in that run's interleaved float64 partial sums, four runs at a time (their four
    values added in x's dtype first: ``QUADS``), which are then folded row by row.
    """
    width = shift.shape[0]
    a1 = np.empty(width)
    a2 = np.empty(width)
    block = ROW_BLOCK * channels
    for b in range(start, stop):
        a1[:] = 0.0
        a2[:] = 0.0
        lo, end = b * block, min(b * block + block, x.shape[0])
        while lo + 4 * width <= end:
            r0, r1 = x[lo : lo + width], x[lo + width : lo + 2 * width]
            r2, r3 = x[lo + 2 * width : lo + 3 * width], x[lo + 3 * width : lo + 4 * width]
            for i in range(width):
                k = shift[i]
                d0, d1, d2, d3 = r0[i] - k, r1[i] - k, r2[i] - k, r3[i] - k
                a1[i] += np.float64((d0 + d1) + (d2 + d3))
                a2[i] += np.float64((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3))
            lo += 4 * width
        for rest in range(lo, end, width):  # the block's last runs, one at a time
            run = x[rest : rest + width]
            for i in range(run.shape[0]):
                d = run[i] - shift[i]
                a1[i] += np.float64(d)
                a2[i] += np.float64(d * d)
        for j in range(channels):
            t1 = 0.0
            t2 = 0.0
            for i in range(j, width, channels):
                t1 += a1[i]
                t2 += a2[i]
            s1[b, j] = t1
            s2[b, j] = t2


@compiled.kernel
def planes_stats(x, shift, start, stop, s1, s2):
    """Samples [start, stop) of x (N, C, L): s1[n, c] = Σ_l (x − K_c), s2[n, c] = Σ_l (x − K_c)²,
    each plane in ``_lanes``' interleaved partial sums."""
    _, channels, _ = x.shape
    acc = np.zeros((2, LANES))
    a1, a2 = acc[0], acc[1]
    for n in range(start, stop):
        for c in range(channels):
            acc[:] = 0.0
            t1, t2 = _lanes.accumulate(x[n, c], shift[c], a1, a2)
            s1[n, c] = t1 + _lanes.fold(a1)
            s2[n, c] = t2 + _lanes.fold(a2)


# ---------------------------------------------------------------------------- y = (x − mean)·scale + β
@compiled.kernel
def rows_affine(x, mean, scale, bias, start, stop, out):
    """Runs [start, stop) of flat x (R·C,): out = (x − mean)·scale + bias (coefficients tiled)."""
    width = mean.shape[0]
    for t in range(start, stop):
        lo = t * width
        run = x[lo : lo + width]
        dst = out[lo : lo + width]
        for i in range(run.shape[0]):
            dst[i] = (run[i] - mean[i]) * scale[i] + bias[i]


@compiled.kernel
def planes_affine(x, mean, scale, bias, start, stop, out):
    """Samples [start, stop) of x (N, C, L): out = (x − mean)·scale + bias, per channel."""
    _, channels, length = x.shape
    for n in range(start, stop):
        for c in range(channels):
            plane = x[n, c]
            dst = out[n, c]
            m, s, b = mean[c], scale[c], bias[c]
            for l in range(length):
                dst[l] = (plane[l] - m) * s + b


# ---------------------------------------------------------------------------- backward
@compiled.kernel
def rows_grad_sums(g, x, high, low, channels, start, stop, s1, s2):
    """Blocks [start, stop) of ``ROW_BLOCK`` rows (flat): Σ g, Σ g·(x − mean), the mean given
    as high + low in x's dtype (tiled), so that x − mean = (x − high) − low loses nothing to
    the mean's rounding; four runs at a time, as in ``rows_stats``."""
    width = high.shape[0]
    a1 = np.empty(width)
    a2 = np.empty(width)
    block = ROW_BLOCK * channels
    for b in range(start, stop):
        a1[:] = 0.0
        a2[:] = 0.0
        lo, end = b * block, min(b * block + block, x.shape[0])
        while lo + 4 * width <= end:
            x0, x1 = x[lo : lo + width], x[lo + width : lo + 2 * width]
            x2, x3 = x[lo + 2 * width : lo + 3 * width], x[lo + 3 * width : lo + 4 * width]
            g0, g1 = g[lo : lo + width], g[lo + width : lo + 2 * width]
            g2, g3 = g[lo + 2 * width : lo + 3 * width], g[lo + 3 * width : lo + 4 * width]
            for i in range(width):
                h, m = high[i], low[i]
                p0, p1 = g0[i] * ((x0[i] - h) - m), g1[i] * ((x1[i] - h) - m)
                p2, p3 = g2[i] * ((x2[i] - h) - m), g3[i] * ((x3[i] - h) - m)
                a1[i] += np.float64((g0[i] + g1[i]) + (g2[i] + g3[i]))
                a2[i] += np.float64((p0 + p1) + (p2 + p3))
            lo += 4 * width
        for rest in range(lo, end, width):
            grun = g[rest : rest + width]
            run = x[rest : rest + width]
            for i in range(run.shape[0]):
                a1[i] += np.float64(grun[i])
                a2[i] += np.float64(grun[i] * ((run[i] - high[i]) - low[i]))
        for j in range(channels):
            t1 = 0.0
            t2 = 0.0
            for i in range(j, width, channels):
                t1 += a1[i]
                t2 += a2[i]
            s1[b, j] = t1
            s2[b, j] = t2


@compiled.kernel
def planes_grad_sums(g, x, mean, start, stop, s1, s2):
    """Samples [start, stop): s1[n, c] = Σ_l g, s2[n, c] = Σ_l g·(x − mean_c) (in lanes)."""
    _, channels, _ = x.shape
    acc = np.zeros((2, LANES))
    a1, a2 = acc[0], acc[1]
    for n in range(start, stop):
        for c in range(channels):
            acc[:] = 0.0
            t1, t2 = _lanes.accumulate_products(g[n, c], x[n, c], mean[c], a1, a2)
            s1[n, c] = t1 + _lanes.fold(a1)
            s2[n, c] = t2 + _lanes.fold(a2)


@compiled.kernel
def rows_grad_input(g, x, mean, k, a, b, start, stop, out):
    """Runs [start, stop) of flat g, x: out = k·g + a·(x − mean) + b (coefficients tiled)."""
    width = mean.shape[0]
    for t in range(start, stop):
        lo = t * width
        grun = g[lo : lo + width]
        run = x[lo : lo + width]
        dst = out[lo : lo + width]
        for i in range(run.shape[0]):
            dst[i] = k[i] * grun[i] + a[i] * (run[i] - mean[i]) + b[i]


@compiled.kernel
def planes_grad_input(g, x, mean, k, a, b, start, stop, out):
    """Samples [start, stop): out = k·g + a·(x − mean) + b, per channel."""
    _, channels, length = x.shape
    for n in range(start, stop):
        for c in range(channels):
            gp = g[n, c]
            plane = x[n, c]
            dst = out[n, c]
            m, kc, ac, bc = mean[c], k[c], a[c], b[c]
            for l in range(length):
                dst[l] = kc * gp[l] + ac * (plane[l] - m) + bc


# ---------------------------------------------------------------------------- drivers
def layout(x):
    """The layout a compiled kernel walks x (N, C, *) in: "rows", "planes", or None (NumPy)."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0 or x.ndim < 2:
        return None
    planes = x.ndim > 2 and x.flags.c_contiguous
    if planes and x[0, 0].size >= x.shape[1]:
        return "planes"
    if channels_to_end(x).flags.c_contiguous:
        return "rows"
    if planes:
        return "planes"
    return "cm" if x.ndim > 2 and x.swapaxes(0, 1).flags.c_contiguous else None


def view(x, kind):
    """x (N, C, *) as the kind's matrix: (R, C) rows or (N, C, L) planes (copied if needed)."""
    n, c = x.shape[:2]
    if kind == "rows":
        return np.ascontiguousarray(channels_to_end(x)).reshape(-1, c)
    if kind == "cm":
        return np.ascontiguousarray(x.swapaxes(0, 1)).reshape(1, c, -1)
    return np.ascontiguousarray(x).reshape(n, c, -1)


def empty(shape, dtype, kind):
    """(an empty (N, C, *) array laid out as kind, its kind view)."""
    if kind == "rows":
        buf = np.empty((shape[0],) + tuple(shape[2:]) + (shape[1],), dtype)
        return channels_to_front(buf), buf.reshape(-1, shape[1])
    if kind == "cm":
        buf = np.empty((shape[1], shape[0]) + tuple(shape[2:]), dtype)
        return buf.swapaxes(0, 1), buf.reshape(1, shape[1], -1)
    buf = np.empty(shape, dtype)
    return buf, buf.reshape(shape[0], shape[1], -1)


def tile(channels):
    """Rows per run of the rows layout: a power of two with at least 256 values, within a block."""
    rows = 1
    while rows * channels < 256 and rows < ROW_BLOCK:
        rows *= 2
    return rows


def _blocks(kind, v):
    return -(-v.shape[0] // ROW_BLOCK) if kind == "rows" else v.shape[0]


def stats(kind, v):
    """Per-channel mean and biased variance (float64) of the kind view v."""
    c = v.shape[1]
    m = v.size // c
    nb = _blocks(kind, v)
    s1, s2 = np.empty((nb, c)), np.empty((nb, c))
    if kind == "rows":
        shift = v[0].astype(np.float64)
        k, flat = np.tile(v[0], tile(c)), v.reshape(-1)
        parallel.ranges(
            lambda start, stop: rows_stats(flat, k, c, start, stop, s1, s2), nb, v.size
        )
    elif kind == "cm":
        shift = v[0, :, 0].astype(np.float64)
        _channel_ranges(planes_stats, [v], [shift], [s1, s2], v.size)
    else:
        shift = v[0, :, 0].astype(np.float64)
        parallel.ranges(
            lambda start, stop: planes_stats(v, shift, start, stop, s1, s2), nb, v.size
        )
    s1, s2 = s1.sum(axis=0), s2.sum(axis=0)
    mean = shift + s1 / m
    var = np.maximum((s2 - s1 * s1 / m) / m, 0.0)
    return mean, var


def _channel_ranges(kernel, arrays, per_channel, results, size):
    """A planes kernel on a "cm" view (1, C, L): kernel(*arrays, *per_channel, 0, 1, *results)
    on ranges [c0, c1) of channels, one per thread; arrays and results are sliced on axis 1,
    per-channel arrays (1-D) on axis 0, numbers passed whole."""

    def part(c0, c1):
        kernel(
            *[a[:, c0:c1] for a in arrays],
            *[q[c0:c1] if getattr(q, "ndim", 0) == 1 else q for q in per_channel],
            0,
            1,
            *[r[:, c0:c1] for r in results],
        )

    parallel.ranges(part, arrays[0].shape[1], size)


def _elementwise(kind, fn, arrays, coefficients, shape, work):
    """out (N, C, *) in kind's layout from fn(*arrays, *coefficients, start, stop, out view)."""
    t = arrays[0].dtype
    c = shape[1]
    out, ov = empty(shape, t, kind)
    if kind == "cm":
        coefficients = [q.astype(t) for q in coefficients]
        _channel_ranges(fn, arrays, coefficients, [ov], arrays[0].size * work)
        return out
    if kind == "rows":
        rows = tile(c)
        coefficients = [np.tile(q.astype(t), rows) for q in coefficients]
        arrays, ov = [a.reshape(-1) for a in arrays], ov.reshape(-1)
        n = -(-arrays[0].size // (rows * c))
    else:
        coefficients = [q.astype(t) for q in coefficients]
        n = arrays[0].shape[0]
    parallel.ranges(
        lambda start, stop: fn(*arrays, *coefficients, start, stop, ov), n, arrays[0].size * work
    )
    return out


def affine(kind, v, mean, scale, bias, shape):
    """y (N, C, *) in kind's layout: (x − mean)·scale + bias per channel (in v's dtype)."""
    fn = rows_affine if kind == "rows" else planes_affine
    return _elementwise(kind, fn, [v], [mean, scale, bias], shape, 1)


def grad_sums(kind, gv, v, mean):
    """Per channel (float64): Σ g and Σ g·(x − mean), both kind views."""
    c = v.shape[1]
    nb = _blocks(kind, v)
    s1, s2 = np.empty((nb, c)), np.empty((nb, c))
    if kind == "rows":
        high = mean.astype(v.dtype)
        low = (mean - high).astype(v.dtype)
        high, low = np.tile(high, tile(c)), np.tile(low, tile(c))
        g, x = gv.reshape(-1), v.reshape(-1)
        parallel.ranges(
            lambda start, stop: rows_grad_sums(g, x, high, low, c, start, stop, s1, s2),
            nb,
            v.size,
        )
    elif kind == "cm":
        _channel_ranges(planes_grad_sums, [gv, v], [mean], [s1, s2], v.size)
    else:
        parallel.ranges(
            lambda start, stop: planes_grad_sums(gv, v, mean, start, stop, s1, s2),
            nb,
            v.size,
        )
    return s1.sum(axis=0), s2.sum(axis=0)


def grad_input(kind, gv, v, mean, k, a, b, shape):
    """dL/dx (N, C, *) in kind's layout: k·g + a·(x − mean) + b per channel."""
    fn = rows_grad_input if kind == "rows" else planes_grad_input
    return _elementwise(kind, fn, [gv, v], [mean, k, a, b], shape, 2)
