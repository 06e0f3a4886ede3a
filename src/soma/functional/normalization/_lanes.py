"""Vectorised float64 sums over contiguous planes, for the normalisation kernels.

A plain ``total += x[i]`` loop cannot vectorise without reordering the additions (compiled
kernels keep ``fastmath`` off). Summing instead into ``LANES`` interleaved partial sums, lane j
taking the values j, j + LANES, j + 2·LANES, …, gives LLVM independent additions it turns into
vector instructions; the lanes are folded once at the end, in a fixed order, so a result never
depends on how work was split among threads. ``LANES`` is a compile-time constant: the inner
loop unrolls into whole vector operations (a pass over (16, 96, 256) float32 took 0.27–0.29 ms
with it against 0.36 ms with a run-time lane count, on a 2-core AVX2 Zen 1).

The lanes live in memory (Numba keeps arrays there), so each step loads and stores them; four
runs of ``LANES`` values are therefore first added lane by lane in the planes' dtype, and
only their sum goes into the float64 lanes (statistics of (16, 32, 256) float32 planes: 109 →
77 µs on one thread of Zen 1; BatchNorm's on (64, 32, 784) 1248 → 1033 µs). A plane shorter
than four runs takes the one-run loop.

These are ``compiled.helper`` functions, inlined into the kernels of ``_batch_kernels`` and
``_group_kernels``; the caller owns the lane arrays (float64, ``LANES`` long, zeroed by it).
"""

from soma.backend import compiled
from soma.backend.compiled import np

LANES = 32


@compiled.helper
def accumulate(plane, shift, a1, a2):
    """a1 += (x − shift) and a2 += (x − shift)² lane by lane over the whole runs of ``LANES``
    values of one contiguous plane; returns the two sums over the tail (length % LANES).

    Four runs at a time, each lane's four terms are added in the plane's dtype first (d in
    float32 for float32 planes: x − shift is exact near the shift, the first value), then
    into the float64 lanes: the lanes are loaded and stored once per four runs."""
    length = plane.shape[0]
    full = length - length % LANES
    quads = length - length % (4 * LANES)
    k = plane.dtype.type(shift)  # in the plane's dtype (exact: the shift is a value of it)
    for l0 in range(0, quads, 4 * LANES):
        r0, r1 = plane[l0 : l0 + LANES], plane[l0 + LANES : l0 + 2 * LANES]
        r2, r3 = plane[l0 + 2 * LANES : l0 + 3 * LANES], plane[l0 + 3 * LANES : l0 + 4 * LANES]
        for j in range(LANES):
            d0, d1, d2, d3 = r0[j] - k, r1[j] - k, r2[j] - k, r3[j] - k
            a1[j] += np.float64((d0 + d1) + (d2 + d3))
            a2[j] += np.float64((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3))
    for l0 in range(quads, full, LANES):
        run = plane[l0 : l0 + LANES]
        for j in range(LANES):
            d = np.float64(run[j]) - shift
            a1[j] += d
            a2[j] += d * d
    t1 = 0.0
    t2 = 0.0
    for j in range(full, length):
        d = np.float64(plane[j]) - shift
        t1 += d
        t2 += d * d
    return t1, t2


@compiled.helper
def accumulate_products(g, x, shift, a1, a2):
    """a1 += g and a2 += g·(x − shift) lane by lane over two contiguous planes of one length;
    returns the two sums over the tail. (One run at a time: four, as in ``accumulate``, took
    longer here, 1.19 → 1.25 ms on (32, 128, 256) float32.)"""
    length = g.shape[0]
    full = length - length % LANES
    for l0 in range(0, full, LANES):
        grun = g[l0 : l0 + LANES]
        run = x[l0 : l0 + LANES]
        for j in range(LANES):
            gv = np.float64(grun[j])
            a1[j] += gv
            a2[j] += gv * (np.float64(run[j]) - shift)
    t1 = 0.0
    t2 = 0.0
    for j in range(full, length):
        gv = np.float64(g[j])
        t1 += gv
        t2 += gv * (np.float64(x[j]) - shift)
    return t1, t2


@compiled.helper
def fold(a):
    """Σ a over ``LANES`` lanes in a fixed pairwise order, by halving vectorised loops (a is
    overwritten). A sequential fold of 32 lanes cost as much as the sums of a 256-value plane."""
    half = LANES // 2
    while half > 0:
        for j in range(half):
            a[j] += a[j + half]
        half //= 2
    return a[0]
