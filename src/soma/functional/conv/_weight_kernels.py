"""Compiled form of im2col's weight matrix: the kernel rewritten taps outer, once per step.

im2col and the tap kernels read the kernel w (O, C, k…) as the matrix (O, K·C), taps outer
and channels inner like the columns (``_im2col._weight_matrix``): a copy of the whole kernel in
every forward pass, made in NumPy as a gather of runs of K numbers on one thread (1.2–1.4 ms
for a 512→512 3×3 kernel, 9.4 MB). This kernel makes the same copy on soma's threads, the
output channels split between them (``parallel.ranges``):

    matrix[o, t, c] = w[o, c, t]

Measured at two threads on the 2-core Zen 4 VM, one process alternating the two (median of
25, ms, NumPy → compiled): 512→512 1.28 → 0.73, 512→256 0.37 → 0.23, 256→256 0.18 → 0.13;
below 128 channels the two are even (0.024 ms), and the kernel stays off there
(``MIN_SIZE``). A copy, so the same bits as NumPy's.

(A compiled Winograd weight transform, U[s] = Σ_t GG[s, t] · w[…, t] on the same threads, was
measured too and dropped: 1.98 against BLAS's 2.13 ms for 512→512, the transposition of each
output channel's taps costing what the threads saved.)
"""

from soma.backend import compiled, get_xp, parallel

_xp = get_xp()

MIN_SIZE = 1 << 16  # kernel numbers from which the compiled copy runs


@compiled.kernel
def _taps_outer(w, out, o0, o1):
    """out[o, t, c] = w[o, c, t] for o0 ≤ o < o1; w (O, C, K), out (O, K, C)."""
    chans, taps = w.shape[1], w.shape[2]
    for o in range(o0, o1):
        for c in range(chans):
            for t in range(taps):
                out[o, t, c] = w[o, c, t]


def applies(w):
    """Whether the compiled copy runs: Numba on, float32/float64, a C-contiguous kernel of at
    least ``MIN_SIZE`` numbers."""
    return (
        compiled.enabled()
        and w.dtype in compiled.FLOAT_DTYPES
        and w.flags.c_contiguous
        and w.size >= MIN_SIZE
    )


def taps_outer(w):
    """(O, C, k…) → (O, K, C), contiguous: im2col's weight matrix with one group."""
    o, c = w.shape[:2]
    flat = w.reshape(o, c, -1)
    out = _xp.empty((o, flat.shape[2], c), dtype=w.dtype)
    parallel.ranges(lambda o0, o1: _taps_outer(flat, out, o0, o1), o, w.size)
    return out
