"""Weight-gradient products on soma's threads (compiled, through ``backend.blas``).

A weight gradient is a stack of products with a long reduction axis K (every position of the
batch) and a small output, (S, M, K) @ (S, K, N): Winograd's 16 transformed positions of
dMᵀ V, or one gyᵀ @ x of a pointwise convolution. OpenBLAS splits such a product over its
threads along M and N, which are small, and ran them at 35-70 GFLOP/s on two threads of the
2-core Zen 4 VM. Cut along K into runs small enough for OpenBLAS to keep each product on the
calling thread (``blas.SINGLE_THREAD_WORK``), the same products ran at 75-110 GFLOP/s on ONE
thread. Here those runs are called from a compiled kernel, and the stack's products are spread
over soma's threads (``parallel.ranges``), each thread summing its runs into its own outputs
with BLAS's beta = 1:

    partial[s, j] = Σ_{runs r of chunk j}  a[s, :, r] @ b[s, r, :],    out[s] = Σ_j partial[s, j]

A stack of fewer than ``ITEMS`` products is also cut into chunks of K (``ITEMS`` work items in
all), so that a single product (a pointwise layer's) has work for every thread. Which items
and chunks there are depends on the shapes only, never on the thread count, and each item is
summed in one order by one thread: the result has the same bits on any number of threads.

Measured on the 2-core Zen 4 VM against the NumPy runs it replaces (``_geometry``): Winograd's
(16, 32, 2048) @ (16, 2048, 128) 4.2–4.4 → 1.5–1.9 ms, (16, 32, 1024) @ (16, 1024, 32) 0.32 →
0.21 ms; training steps, one process alternating the two (paired median, old / new): ResNet-18
1.082, SimpleCNN 1.042, LeNet-5 1.031, the U-Net 1.025 (more in ``benchmarks/README.md``,
"Weight gradients on both cores").
"""

from soma.backend import blas, compiled, get_xp, parallel

_xp = get_xp()

ITEMS = 8  # work items a short stack is cut into (two per thread at four threads)
MIN_RUN = 32  # shortest run of K worth a BLAS call: below it the call costs more than it does


@compiled.kernel
def _chunk_sums(address, a, b, partial, run, per_chunk, chunks, i0, i1):
    """partial[s, j] for items i = s·chunks + j in [i0, i1): chunk j of K is
    [j·per_chunk, (j + 1)·per_chunk), summed in runs of ``run`` with one BLAS call each."""
    k = a.shape[2]
    for i in range(i0, i1):
        s = i // chunks
        start = (i - s * chunks) * per_chunk
        stop = min(k, start + per_chunk)
        out = partial[s, i - s * chunks]
        beta = 0.0
        for r in range(start, stop, run):
            blas.product(
                address, a[s, :, r : min(r + run, stop)], b[s, r : min(r + run, stop)], out, beta
            )
            beta = 1.0


def run_length(m, n, work=None, shortest=1):
    """The longest run of K (a power of two, at most 4096, at least ``shortest``) for which an
    (m, run) @ (run, n) product does at most ``work`` multiply-adds (default: what OpenBLAS
    keeps on the calling thread, ``blas.SINGLE_THREAD_WORK``)."""
    work = blas.SINGLE_THREAD_WORK if work is None else work
    run = 4096
    while run > shortest and m * n * run > work:
        run //= 2
    return run


def _blas_readable(x):
    """True when every 2-D slice of the stack x is a matrix BLAS reads in place: contiguous rows
    or contiguous columns, the other axis' stride at least a whole row or column (so no
    broadcast or overlapping rows, which BLAS would read wrong)."""
    item, (_, rows, columns), (_, row_stride, column_stride) = x.itemsize, x.shape, x.strides
    by_rows = column_stride == item and row_stride >= columns * item
    return by_rows or (row_stride == item and column_stride >= rows * item)


def applies(a, b) -> bool:
    """Whether ``reduce`` runs: kernels on, float32/float64, NumPy's bundled OpenBLAS, slices
    BLAS reads in place, and a K long enough for two runs of at least ``MIN_RUN``."""
    m, k, n = a.shape[1], a.shape[2], b.shape[2]
    run = run_length(m, n)
    return (
        compiled.enabled()
        and a.dtype == b.dtype
        and a.dtype in compiled.FLOAT_DTYPES
        and run >= MIN_RUN
        and k >= 2 * run
        and _blas_readable(a)
        and _blas_readable(b)
        and blas.gemm_address(a.dtype) != 0
    )


def reduce(a, b):
    """``a @ b`` for stacks (S, M, K) @ (S, K, N) (``applies``), as (S, M, N)."""
    stack, m, k = a.shape
    n = b.shape[2]
    run = run_length(m, n)
    runs = -(-k // run)
    chunks = max(1, min(runs, ITEMS // stack))
    per_chunk = -(-runs // chunks) * run
    chunks = -(-k // per_chunk)  # every chunk holds at least one run
    partial = _xp.empty((stack, chunks, m, n), dtype=a.dtype)
    address = blas.gemm_address(a.dtype)

    def part(i0, i1):
        _chunk_sums(address, a, b, partial, run, per_chunk, chunks, i0, i1)

    parallel.ranges(part, stack * chunks, stack * m * n * k)
    return partial[:, 0] if chunks == 1 else partial.sum(axis=1)
