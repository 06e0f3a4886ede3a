"""Large elementwise passes split across a small pool of threads.

NumPy's ufuncs run on the calling thread only, while PyTorch's elementwise kernels use every
intra-op thread. NumPy releases the GIL inside a ufunc loop, so a pass over a large array can be
cut into row blocks that run at the same time on plain Python threads. ``elementwise(fn, x,
out=y)`` does that: it calls ``fn(x_rows, out=y_rows)`` on consecutive blocks of rows (the
leading axis), one share of the blocks per thread, the calling thread taking the first share.
Every element is computed by the same ufunc calls as in ``fn(x, out=y)``, so the result is the
same bit for bit; ``fn`` must therefore treat the rows independently: row i of the result
depends on row i of the split inputs only. Operands that do not span that axis (per-channel
scales of shape ``(C, 1, 1)``, scalars) are passed whole. A reduction over the other axes
qualifies too (BatchNorm's per-channel sums, channels first): each row's sum is the same call
over the same values in the same order.

The pass stays one plain call ``fn(*inputs, out=out)`` when

* ``out.size * work`` is below ``min_elements()`` (one size check, the only cost small arrays
  pay; see Threshold below),
* soma runs on one thread (``soma.set_num_threads(1)``),
* the active array backend is not NumPy (a GPU library parallelises its own kernels), or
* the leading axis has one row.

Any strides work (a block of rows of a strided or broadcast view is a view with the same
strides); C-contiguous arrays split into contiguous blocks, which is what pays best.

Threads: ``get_num_threads()`` is soma's intra-op thread count, by default what the environment
gives BLAS (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, else the CPU
count); ``set_num_threads(n)`` changes soma's pool only, never BLAS's threads. The pool
(``n - 1`` workers) is created at the first large pass and again in a forked child.

Threshold: a pass is split when ``out.size * work >= min_elements()``, ``work`` being the
caller's estimate of the pass's cost per element in units of one float32 multiply of two arrays
(measured for each kernel that calls this: tanh 3, sigmoid 5, exact GELU 27, BatchNorm's
backward 11 ...). The default, 2^20 (``SOMA_PARALLEL_MIN_ELEMENTS`` or ``set_min_elements``),
is a pass of about 140 µs on one thread of the 2-core development machine (a multiply ran at
0.13 ns per float32 element). Handing blocks to the pool and collecting them costs about 25 µs
there (best of 60 samples; median 38 µs, while other processes ran), so at the threshold two
threads take about 70 + 25-38 µs instead of 140, and the share the handoff costs falls as the
pass grows; at a quarter of it the handoff would eat the gain.

Each block of a C-contiguous result has at most ``BLOCK_ELEMENTS`` (2^18) elements, so a ``fn``
of several in-place steps keeps its block in the core's cache between steps (the exact GELU on
1.6 M float32 values: 10.6 ms in one pass, 7.2-7.7 ms in blocks of 200-400 K, one thread); a
strided result is cut into one block per thread.
"""

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from soma.backend.array_module import active_backend

DEFAULT_MIN_ELEMENTS = 1 << 20
BLOCK_ELEMENTS = 1 << 18


def _env_min_elements():
    value = os.environ.get("SOMA_PARALLEL_MIN_ELEMENTS", "")
    return int(value) if value.isdigit() else DEFAULT_MIN_ELEMENTS


_min_elements = _env_min_elements()
_num_threads = None  # set by set_num_threads; None: from the environment
_pool = None
_pool_threads = None  # threads (workers + caller) of the live pool, or of the next one
_lock = threading.Lock()


def get_num_threads() -> int:
    """soma's intra-op threads: ``set_num_threads``'s value, else BLAS's from the environment.

    Reads ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` and falls back to
    the number of CPUs.
    """
    if _num_threads is not None:
        return _num_threads
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for soma's large elementwise passes (BLAS's threads are unchanged)."""
    global _num_threads, _pool_threads
    if int(n) < 1:
        raise RuntimeError(f"set_num_threads: expected a positive number of threads, got {n}")
    with _lock:
        _num_threads = int(n)
        if _pool_threads != _num_threads:
            _shutdown_pool()
            _pool_threads = None


def min_elements() -> int:
    """The smallest output (in elements) that ``elementwise`` splits across threads."""
    return _min_elements


def set_min_elements(n: int) -> int:
    """Set the threshold of ``elementwise`` (tests force small ones); returns the old value."""
    global _min_elements
    if int(n) < 1:
        raise ValueError(f"set_min_elements: expected a positive number of elements, got {n}")
    previous, _min_elements = _min_elements, int(n)
    return previous


def _shutdown_pool():
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def _get_pool():
    """The pool and its thread count (caller included), created on first use."""
    global _pool, _pool_threads
    if _pool_threads is None:
        with _lock:
            if _pool_threads is None:
                _pool_threads = get_num_threads()
    if _pool_threads > 1 and _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(_pool_threads - 1, thread_name_prefix="soma-parallel")
    return _pool, _pool_threads


def _forget_pool_after_fork():
    # NOTE: a forked child has none of the parent's worker threads; its executor would queue
    # work that nobody runs, so the child builds its own pool at its first large pass
    global _pool, _pool_threads, _lock
    _pool, _pool_threads, _lock = None, None, threading.Lock()  # the lock may have been held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _splits(array, rows, ndim):
    """True when ``array`` spans the leading axis (so it is cut into blocks with ``out``).

    An array of lower rank than ``out`` broadcasts along its trailing axes and is passed whole;
    one of higher rank is a reduction's input whose leading axis is kept (BatchNorm's sums).
    """
    return getattr(array, "ndim", 0) >= ndim and array.shape[0] == rows


def _run_blocks(fn, inputs, split, out, bounds):
    for start, stop in bounds:
        chunk = [x[start:stop] if s else x for x, s in zip(inputs, split)]
        fn(
            *chunk,
            out=tuple(o[start:stop] for o in out) if type(out) is tuple else out[start:stop],
        )


def elementwise(fn, *inputs, out, work=1):
    """``fn(*inputs, out=out)``, run on blocks of rows across soma's threads when it pays.

    Args:
        fn: writes its result into ``out=``; elementwise along the leading axis.
        inputs: arrays with ``out``'s leading axis (split into blocks with it), or anything
            else (passed whole to every block: scalars, broadcast per-channel arrays).
        out: the preallocated result, or a tuple of results of one shape (each block of ``fn``
            then gets the tuple of their blocks).
        work: what one call of ``fn`` costs per element, in float32 multiplies of two arrays
            (a tanh costs about 3). The pass is split when ``out.size * work >= min_elements()``.

    Returns:
        ``out``. An exception in any block is raised here, after every block has finished.
    """
    first = out[0] if type(out) is tuple else out
    if first.size * work < _min_elements:
        fn(*inputs, out=out)
        return out
    pool, threads = _get_pool()
    rows = first.shape[0] if first.ndim else 0
    if pool is None or rows < 2 or active_backend().name != "numpy":
        fn(*inputs, out=out)
        return out
    split = [_splits(x, rows, first.ndim) for x in inputs]
    # NOTE: blocks of a strided result are one per thread: short runs of rows cost more
    # (max pooling's backward, split by planes: 2.4x the plain pass in blocks of 72 planes)
    block = BLOCK_ELEMENTS * rows // first.size if first.flags.c_contiguous else rows
    rows_per_block = max(1, min(-(-rows // threads), block))
    blocks = [(i, min(i + rows_per_block, rows)) for i in range(0, rows, rows_per_block)]
    shares = [blocks[t::threads] for t in range(min(threads, len(blocks)))]
    # NOTE: interleaved shares keep the threads' blocks equally many when rows do not divide
    # evenly; each worker runs in a copy of the caller's context, so np.errstate applies there
    futures, local = [], [shares[0]]
    for share in shares[1:]:
        context = contextvars.copy_context()
        try:
            futures.append(pool.submit(context.run, _run_blocks, fn, inputs, split, out, share))
        except RuntimeError:  # the interpreter is shutting down: the pool takes no more work
            local.append(share)
    try:
        for share in local:
            _run_blocks(fn, inputs, split, out, share)
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return out
