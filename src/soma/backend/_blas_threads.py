"""One set of threads for BLAS and soma: OpenBLAS's parallel jobs run on soma's spinning workers.

After every product OpenBLAS's own worker threads spin on the other cores, waiting for the next
one, so a compiled kernel that soma would split between the cores finds them taken, and soma's
passes stay on one core (``parallel``'s Threads). OpenBLAS 0.3.27 added
``openblas_set_threads_callback_function``: the caller's threads then run OpenBLAS's jobs.
Given soma's ``SpinPool``, OpenBLAS calls ``callback`` with the jobs of each threaded product;
job 0 runs on the calling thread and job j on worker j - 1, through the worker's ``blas``
cache line (``_spin._serve``), and the call returns when all are done. The worker that waits
between two products is then soma's own, free to take half of soma's next kernel.

Nothing about the arithmetic changes: the number of jobs, their ranges and the order of every
sum are OpenBLAS's own, so results are the same bits (``tests/test_blas_threads.py``); the
thread count is the user's (``OPENBLAS_NUM_THREADS``, or the CPUs), never changed.

Where it applies: NumPy's bundled OpenBLAS (``scipy_openblas64_``) with the callback, Linux (a
worker asleep on a futex can be woken from the callback, which may run without the GIL), and
a pool with a worker for every job beyond the caller's. ``SOMA_BLAS_THREADS=openblas`` keeps
OpenBLAS's own threads.

NOTE: the jobs of one threaded product wait for each other (each packs a panel the others
read), so they must run at the same time, each on its own thread: a product called from inside
a job of the pool would wait for itself (soma's pool runs compiled kernels only, whose products,
``blas.gemm``'s, are small enough for OpenBLAS to run on the calling thread:
``blas.SINGLE_THREAD_WORK``), and OpenBLAS's thread count must not rise above the pool's after
sharing began
(``openblas_set_num_threads``; lowering it, as ``threadpoolctl``'s limits do, is fine). Two
threads calling products at once take turns (a lock in the callback).

Measured on the 2-core Zen 4 VM, two threads, one process per variant, alternating: see
``benchmarks/README.md`` ("One set of threads").
"""

import ctypes
import functools
import os
import time

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from soma.backend import _spin, blas

_FUNCTIONS = [
    ("scipy_openblas_set_threads_callback_function64_", "scipy_openblas_get_num_threads64_")
]

_shared = None  # (pool, callback) while a pool runs OpenBLAS's jobs


@functools.cache
def _openblas():
    """NumPy's bundled OpenBLAS as (set the threads callback, get the thread count), or None
    where it has no callback (before 0.3.27, or another BLAS)."""
    library = blas.library()
    for setter, counter in _FUNCTIONS:
        if library is not None and hasattr(library, setter) and hasattr(library, counter):
            set_callback, threads = getattr(library, setter), getattr(library, counter)
            set_callback.argtypes, set_callback.restype = [ctypes.c_void_p], None
            threads.argtypes, threads.restype = [], ctypes.c_int
            return set_callback, threads
    return None


def available(workers) -> bool:
    """True when a pool of ``workers`` workers can run OpenBLAS's jobs: a job for each of
    OpenBLAS's threads (its count now) beyond the caller's, and a worker can be woken from
    the callback (Linux)."""
    if os.environ.get("SOMA_BLAS_THREADS", "").lower() == "openblas" or not _spin.FUTEX:
        return False
    openblas = _openblas()
    return openblas is not None and 2 <= openblas[1]() <= workers + 1


@intrinsic
def _pointer(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.int64), codegen


@intrinsic
def _integer(typingctx, pointer):
    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], ir.IntType(64))

    return types.int64(types.voidptr), codegen


@numba.njit(nogil=True, cache=True)
def _run_jobs(slots, workers, job, jobs, size, data, buffers):
    """OpenBLAS's ``jobs`` jobs (``job(j, data + j·size, buffers)``), at once: 0 here, j on
    worker j - 1; one product at a time (the lock in the pool's last line)."""
    lines, line = _spin._LINES, _spin._SLOT
    lock = lines * workers * line
    while _spin._compare_exchange(slots, lock, 0, 1) != 0:
        _spin._relax()
    slots[lock + 1] += 1
    helpers = min(jobs - 1, workers)
    for j in range(1, helpers + 1):
        blas = (lines * (j - 1) + _spin._BLAS) * line
        bell = (lines * (j - 1) + _spin._BELL) * line
        slots[blas + 2], slots[blas + 3] = job, j
        slots[blas + 4], slots[blas + 5] = data + j * size, buffers
        _spin._ring(slots, blas, slots[blas] + 1, bell)
    _spin._call_job(job, 0, data, buffers)
    for j in range(helpers + 1, jobs):  # NOTE: only if OpenBLAS's count rose after sharing
        _spin._call_job(job, j, data + j * size, buffers)
    for j in range(1, helpers + 1):
        blas = (lines * (j - 1) + _spin._BLAS) * line
        while _spin._load_acquire(slots, blas + 1) != slots[blas]:
            _spin._relax()
    _spin._store_release(slots, lock, 0)


def _callback(pool):
    """The C function OpenBLAS calls, bound to ``pool``'s hand-over array."""
    address, length, workers = pool._slots.ctypes.data, pool._slots.size, pool.workers
    signature = types.void(
        types.int32, types.voidptr, types.int32, types.uintp, types.voidptr, types.int32
    )

    @numba.cfunc(signature, nopython=True)
    def callback(sync, job, jobs, size, data, buffers):
        slots = numba.carray(_pointer(address), length, np.int64)
        _run_jobs(
            slots, workers, _integer(job), jobs, np.int64(size), _integer(data), np.int64(buffers)
        )

    return callback


def share(pool) -> bool:
    """Have OpenBLAS run its parallel jobs on ``pool``'s workers; False where it cannot."""
    global _shared
    if _shared is not None or not available(pool.workers):
        return False
    callback = _callback(pool)
    _shared = (pool, callback)  # NOTE: keeps the compiled callback alive
    pool.shares_blas = True
    _openblas()[0](callback.address)
    return True


def unshare(pool):
    """Give OpenBLAS its own threads back (before ``pool``'s workers stop)."""
    global _shared
    if _shared is None or _shared[0] is not pool:
        return
    _openblas()[0](None)
    lock = pool._lock()
    for _ in range(2):  # a product still on the workers (or about to start) finishes first
        while pool._slots[lock]:
            time.sleep(1e-5)
        time.sleep(1e-3)
    pool.shares_blas = False
    _shared = None


def calls() -> int:
    """Threaded products run through the callback so far (0 when not sharing)."""
    return 0 if _shared is None else int(_shared[0]._slots[_shared[0]._lock() + 1])


def _forget_after_fork():
    # NOTE: a forked child has none of the parent's workers: its products must not wait for
    # them (OpenBLAS restarts its own threads in the child)
    global _shared
    if _shared is not None:
        _openblas()[0](None)
        _shared[0].shares_blas = False
        _shared = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
