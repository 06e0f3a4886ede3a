"""Large elementwise passes split across a small pool of threads.

NumPy's ufuncs run on the calling thread only, while PyTorch's elementwise kernels use every
intra-op thread. NumPy releases the GIL inside a ufunc loop, so a pass over a large array can be
cut into row blocks that run at the same time on plain Python threads. ``elementwise(fn, x,
out=y)`` does that: it calls ``fn(x_rows, out=y_rows)`` on consecutive blocks of rows (the
leading axis), one block per thread, the calling thread taking the first.
Every element is computed by the same ufunc calls as in ``fn(x, out=y)``, so the result is the
same bit for bit; ``fn`` must therefore treat the rows independently: row i of the result
depends on row i of the split inputs only. Operands that do not span that axis (per-channel
scales of shape ``(C, 1, 1)``, scalars) are passed whole. Reductions are left alone: NumPy
may sum a block in another order than the same values inside the whole array (BatchNorm's
per-channel sums over a block of one channel differed in the last bit).

The pass stays one plain call ``fn(*inputs, out=out)`` when

* ``out.size * work`` is below ``min_elements()`` (one size check, the only cost small arrays
  pay; see Threshold below),
* soma's passes run on one thread (the default, or ``soma.set_num_threads(1)``; see Threads),
* the active array backend is not NumPy (a GPU library parallelises its own kernels), or
* the leading axis has one row.

Any strides work (a block of rows of a strided or broadcast view is a view with the same
strides); C-contiguous arrays split into contiguous blocks.

Threads: ``get_num_threads()`` is soma's intra-op thread count, by default what the environment
gives BLAS (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, else the CPU
count). The pool is used only after ``set_num_threads(n)`` with ``n > 1`` (which changes soma's
pool only, never BLAS's threads); until then every pass runs on the calling thread. The reason
is BLAS: after each product OpenBLAS's worker threads keep spinning on the other cores, waiting
for the next one, and in a network the next product is never far. A block handed to the pool
then shares a core with a spinning worker. Measured at two threads (NumPy's BLAS on two, one
process alternating the two settings step by step, median step), the pool against no pool:
U-Net 120.1 → 112.6 ms, the DDPM denoiser 49.5 → 46.0 ms, VGG-11 106.2 → 100.0 ms, MobileNet
75.8 → 71.7 ms (the compiled kernels' split alone accounts for it); a 3×3 Winograd layer of the U-Net (8 × 64 channels at 16×16, forward and gradients) took
7.4 ms with the pool and 3.1 ms without it. Alone, with no product nearby, the pool does pay:
3×3 max pooling forward and backward on (64, 32, 28, 28) 3.19 → 1.97 ms, BatchNorm 2.24 → 1.90
ms. The pool (``n - 1`` workers) is created at the first large pass and again in a forked child.

Threshold: a pass is split when ``out.size * work >= min_elements()``. ``work`` is how long
one ufunc call of ``fn`` takes per element, against a float32 multiply of two arrays (tanh 3,
a strided maximum 2, a broadcast multiply 2, plain arithmetic 1): a thread re-takes the GIL
after every ufunc call, and on the 2-core development VM each such handoff between threads
costs tens of µs, so what must be long is each call on a thread's block, not the whole ``fn``.
Measured there, two threads each running ten float32 multiplies in a loop were slower than
one thread (0.85x) at 64 K elements per thread (6 µs per call), and 1.4-1.6x faster at
512 K-1 M per thread (48-108 µs per call); handing a block to the pool and collecting it cost
25-40 µs (best and median of 60 samples). The default, 2^20 (``SOMA_PARALLEL_MIN_ELEMENTS``
or ``set_min_elements``), gives each of two threads calls of about 50 µs or more. The
``activations`` benchmark's 1000x128 batch stays on one thread: its kernels are chains of
short calls that two threads ran slower, not faster (the exact GELU's forward: 435 µs on one
thread, 564 µs on two). Above the threshold, on the idle machine: BatchNorm's forward pass
``x·scale + shift`` on (64, 32, 28, 28) float32 went from 0.65 to 0.39 ms, its input gradient
from 1.82 to 1.24 ms, and max pooling's gradient routing (3x3, stride 2) from 2.4 to 1.8 ms.

"""

import contextvars
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from soma.backend.array_module import active_backend

DEFAULT_MIN_ELEMENTS = 1 << 20


def _env_min_elements():
    value = os.environ.get("SOMA_PARALLEL_MIN_ELEMENTS", "")
    return int(value) if value.isdigit() else DEFAULT_MIN_ELEMENTS


_min_elements = _env_min_elements()
_num_threads = None  # set by set_num_threads; None: from the environment, and no pool
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
    """Use ``n`` threads for soma's large passes (BLAS's threads are unchanged).

    Without this call soma's passes run on the calling thread (see the module's Threads).
    """
    global _num_threads, _pool_threads
    if int(n) < 1:
        raise RuntimeError(f"set_num_threads: expected a positive number of threads, got {n}")
    with _lock:
        _num_threads = int(n)
        if _pool_threads != _num_threads:
            _shutdown_pool()
            _pool_threads = None


def pool_threads() -> int:
    """Threads for soma's own passes: ``set_num_threads``'s value, else 1 (no pool)."""
    return _num_threads or 1


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
                _pool_threads = pool_threads()
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

    An array of lower rank than ``out`` broadcasts along its trailing axes and is passed whole.
    """
    return getattr(array, "ndim", 0) == ndim and array.shape[0] == rows


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
        work: how long one ufunc call of ``fn`` takes per element, in float32 multiplies of
            two arrays (a tanh about 3); the pass is split when
            ``out.size * work >= min_elements()`` (see the module's Threshold).

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
    # NOTE: one block of rows per thread: each ufunc call must be long against the GIL
    # handoffs between calls (see Threshold); the calling thread takes the first block
    step = -(-rows // threads)
    _spread(
        [
            functools.partial(_run_blocks, fn, inputs, split, out, [(i, min(i + step, rows))])
            for i in range(0, rows, step)
        ]
    )
    return out


def ranges(fn, n, size):
    """``fn(start, stop)`` on consecutive ranges of ``[0, n)``, one per thread when it pays.

    For compiled kernels (``backend.compiled``), which hold no GIL for a whole call: each
    thread gets one contiguous range of the ``n`` items (samples, blocks of rows) and writes
    its own part of the result. ``size`` is the work in elements; below a quarter of
    ``min_elements()`` (a kernel call has no GIL handoffs inside, so smaller passes pay), on
    one thread, or with ``n < 2``, it is the single call ``fn(0, n)``. An exception in any range
    is raised here, after every range has finished.
    """
    if size * 4 < _min_elements or n < 2:
        fn(0, n)
        return
    pool, threads = _get_pool()
    if pool is None:
        fn(0, n)
        return
    step = -(-n // min(threads, n))
    _spread([functools.partial(fn, i, min(i + step, n)) for i in range(0, n, step)])


def _spread(jobs):
    """Run ``jobs`` (calls without arguments) at once: the first on the calling thread, the rest
    on the pool. An exception in any job is raised here, after every job has finished."""
    pool, _ = _get_pool()
    futures, local = [], [jobs[0]]
    for job in jobs[1:]:
        context = contextvars.copy_context()
        try:
            futures.append(pool.submit(context.run, job))
        except RuntimeError:  # the interpreter is shutting down: the pool takes no more work
            local.append(job)
    try:
        for job in local:
            job()
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
