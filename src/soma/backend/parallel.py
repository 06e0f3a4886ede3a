"""Large elementwise passes and compiled kernels split across a small pool of threads.

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
* soma's passes run on one thread (``elementwise``'s default, or ``soma.set_num_threads(1)``;
  see Threads),
* the active array backend is not NumPy (a GPU library parallelises its own kernels), or
* the leading axis has one row.

Any strides work (a block of rows of a strided or broadcast view is a view with the same
strides); C-contiguous arrays split into contiguous blocks.

Threads: ``get_num_threads()`` is soma's intra-op thread count, by default what the environment
gives BLAS (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, else the CPU
count); ``set_num_threads(n)`` changes soma's threads only, never BLAS's. The two helpers use
them differently, because after each product OpenBLAS's worker threads keep spinning on the
other cores for a while, waiting for the next one, and in a network the next product is never
far: a block handed to another thread then shares a core with a spinning worker. Measured at
two threads (NumPy's BLAS on two, one process alternating the two settings step by step,
median step), splitting everything against nothing: U-Net 120.1 → 112.6 ms, the DDPM denoiser
49.5 → 46.0 ms, VGG-11 106.2 → 100.0 ms, MobileNet 75.8 → 71.7 ms (the compiled kernels'
split alone accounts for it); a 3×3 Winograd layer of the U-Net (8 × 64 channels at 16×16,
forward and gradients) took 7.4 ms split and 3.1 ms not.

* ``elementwise`` (chains of NumPy calls, which take the GIL back between calls) uses the pool
  only after ``set_num_threads(n)`` with ``n > 1``; until then every pass runs on the calling
  thread. Its pool (``n - 1`` workers) is created at the first large pass and again in a
  forked child.
* ``ranges`` (compiled kernels, no GIL for a whole call) hands its ranges to soma's spinning
  workers (``_spin.py``, a hand-off of a few µs instead of 50 µs for a sleeping thread) after
  ``set_num_threads(n > 1)``, and by default whenever the machine's other cores are idle
  (``machine_idle``: /proc/loadavg counts the runnable threads, less soma's own awake
  workers). The workers start at the first large pass or the first backward pass whenever
  more than one thread is allowed, and on Linux with NumPy's OpenBLAS they also run
  OpenBLAS's parallel jobs (``_blas_threads``): the thread left spinning between two
  products is then soma's, so inside a network the kernels split too. Before that (OpenBLAS's
  own workers spinning between products, counted as load) a network's kernels stayed on one
  thread, and only a pass with no product nearby took both cores: on the 2-core Zen 1 VM,
  BatchNorm2d forward and backward on (64, 32, 28, 28) 6.9-8.6 → 5.6-7.1 ms, on (32, 128,
  16, 16) 4.82 → 4.31 ms; the ``activations`` case about the same (6.6-7.4 against 6.5-7.0
  ms: only its exp-based forwards split, see ``WORK`` in the activations' kernels).

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
``ranges`` splits from ``size * 2 >= min_elements()`` (512 K by default): its hand-off costs
microseconds, but on the Zen 1 VM a pass that only moves memory ran no faster on two threads
below that (128 K float32 values: 48 µs on one thread, 57 on two; 512 K: 214 and 217), since
the second thread reads data that sit in the first one's cache; a kernel's ``work`` says how
much more than moving memory it does (sigmoid's forward 5: 259 → 156 µs on 128 K values).
"""

import contextvars
import functools
import os
import threading
import time
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
    return _num_threads if _num_threads is not None else blas_threads()


def blas_threads() -> int:
    """The threads NumPy's BLAS runs a large product on: its environment variables' count,
    else the number of CPUs (soma never changes it; ``set_num_threads`` does not either)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return _cpu_count()


@functools.lru_cache(maxsize=1)
def _cpu_count() -> int:
    return os.cpu_count() or 1  # NOTE: 5 µs a call on the Zen 1 VM (it reads /sys); asked often


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for soma's large passes (BLAS's threads are unchanged).

    Without this call ``elementwise`` runs on the calling thread and ``ranges`` splits only
    while the machine's other cores are idle (see the module's Threads).
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
    """Threads for ``elementwise``: ``set_num_threads``'s value, else 1 (no pool)."""
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
    global _pool, _pool_threads, _lock, _spin_pool, _idle, _allowed
    _pool, _pool_threads, _lock = None, None, threading.Lock()  # the lock may have been held
    _spin_pool, _idle, _allowed = None, (-float("inf"), 1), (-float("inf"), 1)


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
    its own part of the result. ``size`` is the work in elements. The ranges go to soma's
    spinning workers (``_spin.py``; a hand-off costs microseconds, so passes from
    ``min_elements() / 16`` up pay) when

    * ``set_num_threads(n)`` asked for ``n > 1`` threads, or, by default, when the machine's
      other cores are idle (``machine_idle``) and the environment allows more than one thread
      (``get_num_threads``);
    * ``n >= 2``, and no other call holds the pool (a second thread, or a range that splits
      again, runs its work alone).

    Otherwise it is the single call ``fn(0, n)``. An exception in any range is raised here,
    after every range has finished.
    """
    if size * 2 < _min_elements or n < 2:
        fn(0, n)
        return
    pool = _spinning_pool()
    if pool is None:
        if _num_threads is not None and _num_threads > 1:  # NOTE: Numba absent: plain threads
            step = -(-n // min(_num_threads, n))
            _spread([functools.partial(fn, i, min(i + step, n)) for i in range(0, n, step)])
        else:
            fn(0, n)
        return
    if not pool.try_acquire():
        fn(0, n)
        return
    try:
        step = -(-n // min(pool.workers + 1, n))
        pool.run([functools.partial(fn, i, min(i + step, n)) for i in range(0, n, step)])
    finally:
        pool.release()


# ---------------------------------------------------------------------------- memory passes
# A pass that only moves memory (a gradient summed into another, a concatenation's copies) is
# split by leading rows from this many elements: measured on the 2-core Zen 4 VM, adding a
# channel slice of a channels-last gradient into a (16, 32, 32, 32) float32 one, 181 → 96 µs;
# (16, 64, 32, 32) 291 → 180 µs; (16, 32, 16, 16) 56 → 48 µs; and (16, 32, 8, 8) 9.9 → 15.5
# µs (slower: the hand-off costs more than the half it saves). DenseNet-121's training step
# (its gradients summed over up to 24 concatenations each, the concatenations themselves),
# one process alternating split and unsplit steps: 1.047× slower unsplit (median of 14 pairs).
MEMORY_SPLIT = 1 << 17


def _split_rows(rows, size):
    return size >= MEMORY_SPLIT and rows >= 2


def add(a, b, out):
    """``out = a + b`` (NumPy's add, so the same bits) for a, b and out of one shape, its rows
    split across soma's threads (``ranges``) from ``MEMORY_SPLIT`` elements."""
    xp = active_backend().module
    whole = a.shape == out.shape and getattr(b, "shape", None) == out.shape
    if not (whole and out.ndim and _split_rows(out.shape[0], out.size)):
        return xp.add(a, b, out=out)

    def part(start, stop):
        xp.add(a[start:stop], b[start:stop], out=out[start:stop])

    ranges(part, out.shape[0], out.size * 4)
    return out


def concatenate(arrays, axis, out):
    """``arrays`` joined along ``axis`` (not the leading one) into ``out``, each thread copying
    a block of leading rows of every array from ``MEMORY_SPLIT`` elements."""
    xp = active_backend().module
    if axis == 0 or not _split_rows(out.shape[0], out.size):
        return xp.concatenate(arrays, axis=axis, out=out)
    bounds, start = [], 0
    for a in arrays:
        bounds.append((start, start + a.shape[axis]))
        start += a.shape[axis]
    lead = (slice(None),) * axis

    def part(first, last):
        rows = slice(first, last)
        for a, (lo, hi) in zip(arrays, bounds):
            out[(rows,) + lead[1:] + (slice(lo, hi),)] = a[rows]

    ranges(part, out.shape[0], out.size * 4)
    return out


# ---------------------------------------------------------------------------- spinning pool
_spin_pool = None  # the live SpinPool, if any
_spin_failed = False  # True once Numba could not start one (then ranges runs alone)
_idle = (-float("inf"), 1)  # (when it was decided, _default_threads's answer)
IDLE_RECHECK_SECONDS = 0.001


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return _cpu_count()


_loadavg = None  # an open descriptor of /proc/loadavg (False where it cannot be opened)


def _runnable_threads():
    """Threads runnable on the machine right now (/proc/loadavg's fourth field), or None.

    Read with ``pread`` on a descriptor kept open: 3 µs, against 61 µs to open the file again
    each time on the Zen 1 VM."""
    global _loadavg
    if _loadavg is None:
        try:
            _loadavg = os.open("/proc/loadavg", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            _loadavg = False
    if _loadavg is False:
        return None
    try:
        return int(os.pread(_loadavg, 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def machine_idle(threads, awake_workers=0) -> bool:
    """True when ``threads`` threads of soma find idle cores: the runnable threads on the
    machine, less this caller and soma's ``awake_workers``, leave that many cores free.

    OpenBLAS's workers spin for a while after every product and count as runnable, so in a
    network this is False and soma's passes stay on one thread (see the module's Threads).
    False where /proc/loadavg is missing.
    """
    running = _runnable_threads()
    return running is not None and (running - 1 - awake_workers) + threads <= _usable_cores()


def _default_threads(pool):
    """Threads for ``ranges`` without ``set_num_threads``: the environment's count while the
    machine is idle, else 1; decided at most once per ``IDLE_RECHECK_SECONDS`` (reading the
    environment and /proc/loadavg takes about 15 µs on the Zen 1 VM)."""
    global _idle
    now = time.perf_counter()
    checked, threads = _idle
    if now - checked >= IDLE_RECHECK_SECONDS:
        threads = get_num_threads()
        awake = 0 if pool is None else pool.awake()
        if threads > 1 and not machine_idle(threads, awake):
            threads = 1
        _idle = (now, threads)
    return threads


_allowed = (-float("inf"), 1)  # (when it was read, get_num_threads's answer)


def _allowed_threads():
    """``get_num_threads()`` read at most once per ``IDLE_RECHECK_SECONDS`` (reading the
    environment takes 2.4 µs, and ``ranges`` asks on every large pass)."""
    global _allowed
    now = time.perf_counter()
    checked, threads = _allowed
    if now - checked >= IDLE_RECHECK_SECONDS:
        threads = get_num_threads()
        _allowed = (now, threads)
    return threads


def _spinning_pool():
    """The spinning pool for this call of ``ranges``, or None to run on the calling thread.

    The pool starts at the first large pass whenever more than one thread is allowed (and
    then runs OpenBLAS's parallel jobs too, ``_blas_threads``); whether this call splits is
    decided after: ``set_num_threads``, or by default while the machine's other cores are idle.
    """
    global _spin_pool, _spin_failed
    if _spin_failed or active_backend().name != "numpy":
        return None
    allowed = _num_threads if _num_threads is not None else _allowed_threads()
    if allowed < 2:
        return None
    pool = _spin_pool
    if pool is None or pool.workers != allowed - 1:
        with _lock:
            if _spin_pool is None or _spin_pool.workers != allowed - 1:
                if _spin_pool is not None:
                    _spin_pool.shutdown()
                    _spin_pool = None
                try:
                    from soma.backend import _blas_threads, _spin  # NOTE: imports Numba
                except ImportError:
                    _spin_failed = True
                    return None
                _spin_pool = _spin.SpinPool(allowed - 1)
                _blas_threads.share(_spin_pool)
            pool = _spin_pool
    threads = _num_threads if _num_threads is not None else _default_threads(pool)
    return pool if threads >= 2 else None


_started = False  # start_workers has run


def start_workers():
    """Start the spinning pool once (the first backward pass calls this): with it OpenBLAS's
    parallel jobs run on soma's workers (``_blas_threads``) from the first step on, also in
    networks whose own passes are too small to split (an LSTM's hundred products a step).
    Later calls return at once."""
    global _started
    if not _started:
        _started = True
        _spinning_pool()


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
