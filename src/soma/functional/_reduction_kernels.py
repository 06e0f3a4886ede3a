"""A compiled sum of every element of a float32 array (Numba, through ``soma.backend.compiled``).

NumPy sums float32 pairwise, in float32, and on this project's AVX2 Zen 1 VM took 43 µs for
128,000 values (0.33 ns a value). Here the
array is cut into blocks of ``BLOCK`` values; each block is summed in float32 with its terms
added in any order (``compiled.helper(reorder_sums=True)``: LLVM keeps several vectors of
running sums, as a BLAS dot product does), and the blocks' sums are added in float64::

    Σ x = Σ_blocks fl32(Σ_{i in block} x_i)        (the outer sum in float64)

11.5 µs for the same 128,000 values, and as accurate as NumPy's pairwise sum or more: over
20 arrays of 128,000 normal values (offsets 0 to 2) the rounded result was off the exact sum
by 0.0010 on average (largest 0.0064) against NumPy's 0.0020 (0.015). A sum in another order
gives other last bits: the same values in another memory layout, or split otherwise, may sum
to a neighbouring float32; and a total that overflows float32 only part of the way
(3e38 + 3e38 − 3e38) may come out as inf, NaN or the finite value, where NumPy's order gives
one of them.

The ``activations`` benchmark step (eight such sums) went from 5.04 / 4.84 / 4.87 to
4.62 / 4.59 / 4.53 ms (median steps, the two versions in alternating processes).

Used by ``reduction.Sum`` and ``reduction.Mean`` for full reductions of dense float32 arrays
of ``SMALL`` elements or more; the rest stays NumPy, as does everything without Numba.

``plane_sums`` sums each row of a C-ordered float32 matrix the same way (every block, the last
short one included, summed in float32, the blocks in float64), rows split across soma's
threads: global average pooling of NCHW planes (``pooling.adaptive.GlobalAvg``). Forward of
(64, 32, 28, 28) through autograd, two threads, Zen 1: NumPy's ``mean`` over the planes 630
µs, these sums 206-260 µs; the benchmark steps (forward and backward, alternating processes,
medians) ``gap_64x32x28`` 1.44-1.54 → 1.31-1.33 ms, ``gap_32x128x16`` 0.92-1.02 → 0.63-0.82.
"""

from soma.backend import compiled, parallel
from soma.backend.compiled import np
from soma.functional._utils import flat

BLOCK = 512  # values per float32 block sum (256-4096: 10-12 µs on 128,000; 64: 20 µs)

# Below this many elements NumPy's sum costs about as much as a kernel call.
SMALL = 8192


@compiled.helper(reorder_sums=True)
def _block_sum(values, zero):
    """Σ values in the arrays' dtype, the terms in any order."""
    total = zero
    for i in range(values.shape[0]):
        total += values[i]
    return total


@compiled.kernel
def _total(values, zero):
    """Σ values in float64 over float32 block sums."""
    size = values.shape[0]
    full = size - size % BLOCK
    total = 0.0
    for start in range(0, full, BLOCK):
        total += _block_sum(values[start : start + BLOCK], zero)
    for i in range(full, size):
        total += values[i]
    return total


def total(x):
    """Σ x of float32 x as a Python float (float64; the caller rounds it once), or None where
    the compiled sum does not apply (not float32, fewer than ``SMALL`` elements, gaps in
    memory, Numba absent or turned off)."""
    if x.dtype != np.float32 or x.size < SMALL or not compiled.enabled():
        return None
    values = flat(x)
    if values is None:
        return None
    return float(_total(values, _ZERO32))


@compiled.kernel
def _plane_sums(planes, zero, sums, p0, p1):
    """sums[p] = Σ planes[p] (float64 over float32 block sums) for rows p0 … p1 − 1."""
    size = planes.shape[1]
    for p in range(p0, p1):
        row = planes[p]
        total = 0.0
        for start in range(0, size, BLOCK):
            total += _block_sum(row[start : min(start + BLOCK, size)], zero)
        sums[p] = total


def plane_sums(planes):
    """Σ of each row of the C-ordered float32 matrix ``planes`` as float64 (rows,), or None
    where it does not apply (as ``total``: not float32, fewer than ``SMALL`` elements, Numba
    absent or turned off; or not C-ordered)."""
    if (
        planes.dtype != np.float32
        or planes.size < SMALL
        or not compiled.enabled()
        or not planes.flags.c_contiguous
    ):
        return None
    sums = np.empty(planes.shape[0])

    def run(p0, p1):
        _plane_sums(planes, _ZERO32, sums, p0, p1)

    parallel.ranges(run, planes.shape[0], planes.size)
    return sums


_ZERO32 = np.float32(0)
