"""Worker threads that wait for work by spinning: the fast hand-off behind ``parallel.ranges``.

A compiled kernel on 128,000 float32 values runs 30-700 µs. Handing half of it to a
``ThreadPoolExecutor`` worker and collecting the result cost 52-65 µs on the 2-core Zen 1 VM
(the worker sleeps on a lock, and waking a sleeping thread there is slow), which ate most of
the gain. A worker of this pool instead waits in a compiled loop, without the GIL, reading its
slot of a shared array until the caller writes a new job number there. Measured on that
machine: an empty job handed over and collected in 14 µs (median; 4 µs of it is
``GRACE_CYCLES``), the exact GELU's forward kernel on 1000x128 float32 706 µs on one thread
and 395 µs on two. Inside a whole step less is left: in the ``activations`` case the worker
started its half 10-40 µs after the caller, and each half ran slower than alone (the second
thread reads and writes memory that sits in the first one's cache).

A worker waits for a job spinning for about ``SPIN_CYCLES`` processor cycles (8 ms at 2 GHz;
``SPIN_LIMIT`` loop turns where there is no cycle counter), then sleeps: on Linux on a futex
(the system call made by the compiled loop itself), which any thread can ring without the GIL
(``_ring``); elsewhere on a condition, which the caller notifies. With 1 ms the worker was
asleep at 29 % of the hand-overs of the ``activations`` case, and each such hand-over cost
about 150 µs more. The spin loop issues the
processor's spin-wait hint (``pause``): without it, a spinning worker slowed the caller's own
work on the other virtual CPU of the VM (autograd on a small batch, 10 → 17 ms).

A spinning worker holds a core, as OpenBLAS's workers do after every product (they spin for
their own timeout). ``parallel.ranges`` therefore hands work to this pool only while the
machine's other cores are idle. On Linux the workers also run OpenBLAS's parallel jobs
(``_blas_threads``): a worker's wait loop (``_serve``) runs the job handed to its ``blas``
cache line, so that the thread spinning between two products is this pool's, free for soma's
next kernel, and not OpenBLAS's.

This module imports Numba (the ``fast`` extra) and is imported only when a pool starts.
"""

import atexit
import contextvars
import platform
import threading
import time

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

# About 8 ms at 2 GHz: long enough to span the passes between two split kernels of a step.
SPIN_CYCLES = 1 << 24
# Loop turns before sleeping where the cycle counter reads 0 (LLVM gives 0 on some CPUs).
SPIN_LIMIT = 1 << 25

# A worker that sees a job spins this much longer before it takes the GIL (about 4 µs at
# 2 GHz): the caller holds the GIL until its own kernel starts, and a thread that finds the GIL
# taken sleeps (waking a sleeping thread cost about 50 µs on the 2-core VM). For the same
# reason a worker reports a finished job from compiled code, after it let go of the GIL.
GRACE_CYCLES = 8192
# The caller waits for its workers' results spinning this long, then polls every 0.1 ms.
DONE_SPIN_CYCLES = SPIN_CYCLES

_SLOT = 8  # int64s per slot: one 64-byte cache line each, so that two waiters share none
# each worker's cache lines in the pool's array (SpinPool's docstring): worker w's line k
# starts at (_LINES * w + k) * _SLOT; after all workers, one line for the BLAS callback
_LINES, _READY, _DONE, _BLAS, _BELL = 4, 0, 1, 2, 3


def _on_slot(name, access, values=0, result=types.int64):
    """An intrinsic ``name(slots, index, *values)`` (``values`` of them) on the int64 at
    ``slots[index]``: ``access(builder, pointer, values)`` emits the (atomic) access and gives
    its result. NOTE: one typing function per arity (Numba reads a ``*values`` as a tuple)."""

    def signature_of(slots, index, *values):
        if not (isinstance(slots, types.Array) and slots.dtype == types.int64):
            return None

        def codegen(context, builder, signature, args):
            array_type = signature.args[0]
            array = context.make_array(array_type)(context, builder, args[0])
            pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])
            value = access(builder, pointer, args[2:])
            return context.get_dummy_value() if value is None else value

        return result(slots, index, *values), codegen

    typers = [
        lambda typingctx, slots, index: signature_of(slots, index),
        lambda typingctx, slots, index, a: signature_of(slots, index, a),
        lambda typingctx, slots, index, a, b: signature_of(slots, index, a, b),
    ]
    typer = typers[values]
    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


# slots[index] read with an atomic (acquire) load: read again at every turn of a loop, never
# hoisted out of it by the compiler, and it sees what the writer stored before.
_load_acquire = _on_slot(
    "_load_acquire", lambda b, pointer, _: b.load_atomic(pointer, "acquire", 8)
)

# slots[index] = value with an atomic (release) store: a reader that sees it also sees
# everything this thread wrote before (the job's results).
_store_release = _on_slot(
    "_store_release",
    lambda b, pointer, values: b.store_atomic(values[0], pointer, "release", 8),
    1,
    types.none,
)

# slots[index] = value, in sequential order with every other atomic access (a full barrier on
# x86): the store before a check of the other side's flag. Gives the old value.
_exchange = _on_slot(
    "_exchange", lambda b, pointer, values: b.atomic_rmw("xchg", pointer, values[0], "seq_cst"), 1
)

# slots[index] += value, atomically (a full barrier, as _exchange). Gives the old value.
_add = _on_slot(
    "_add", lambda b, pointer, values: b.atomic_rmw("add", pointer, values[0], "seq_cst"), 1
)

# slots[index] = value if it holds expected, atomically. Gives what it held.
_compare_exchange = _on_slot(
    "_compare_exchange",
    lambda b, pointer, values: b.extract_value(
        b.cmpxchg(pointer, values[0], values[1], "seq_cst", "seq_cst"), 0
    ),
    2,
)


# The spin-wait hint of the processor: it tells a core that shares its execution units with
# another thread (SMT, or a host's sibling of this virtual CPU) to favour that thread.
_RELAX = {"x86_64": "llvm.x86.sse2.pause", "amd64": "llvm.x86.sse2.pause"}.get(
    platform.machine().lower(), ""
)


@intrinsic
def _relax(typingctx):
    """The processor's spin-wait hint (x86 ``pause``); nothing elsewhere."""

    def codegen(context, builder, signature, args):
        if _RELAX:
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), _RELAX
            )
            builder.call(hint, [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def _cycles(typingctx):
    """The processor's cycle counter (x86: rdtsc); 0 where LLVM has none."""

    def codegen(context, builder, signature, args):
        counter = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), []), "llvm.readcyclecounter"
        )
        return builder.call(counter, [])

    return types.uint64(), codegen


@intrinsic
def _call_job(typingctx, function, position, data, buffers):
    """A BLAS library's job function ``void f(int position, void *data, int buffers)``, called
    through its address (see ``_blas_threads``)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        kind = ir.FunctionType(ir.VoidType(), [i32, cgutils.voidptr_t, i32])
        job = builder.inttoptr(args[0], kind.as_pointer())
        position, buffers = builder.trunc(args[1], i32), builder.trunc(args[3], i32)
        builder.call(job, [position, builder.inttoptr(args[2], cgutils.voidptr_t), buffers])
        return context.get_dummy_value()

    return types.none(types.int64, types.int64, types.int64, types.int64), codegen


# The futex system call, made by the compiled code itself (no libc, so the worker's loop stays
# cacheable): Linux's call number and the instruction's register conventions per machine.
_FUTEX_ABI = {
    "x86_64": (202, "syscall", "={rax},{rax},{rdi},{rsi},{rdx},{r10},~{rcx},~{r11},~{memory}"),
    "aarch64": (98, "svc #0", "={x0},{x8},{x0},{x1},{x2},{x3},~{memory}"),
}
_FUTEX_ABI["amd64"] = _FUTEX_ABI["x86_64"]
_ABI = _FUTEX_ABI.get(platform.machine().lower()) if platform.system() == "Linux" else None
FUTEX = _ABI is not None
if FUTEX:
    import llvmlite.binding

    llvmlite.binding.initialize_native_asmparser()  # NOTE: Numba sets up no inline assembly
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129  # FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE


@intrinsic
def _futex(typingctx, slots, index, operation, value):
    """futex(&slots[index], operation, value, no timeout): wait while the word's low 32 bits
    equal ``value``, or wake ``value`` waiters. Returns the call's result."""
    if _ABI is None or not (isinstance(slots, types.Array) and slots.dtype == types.int64):
        return None
    number, instruction, constraints = _ABI

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])
        i64 = ir.IntType(64)
        call = ir.InlineAsm(
            ir.FunctionType(i64, [i64] * 5), instruction, constraints, side_effect=True
        )
        word = builder.ptrtoint(pointer, i64)
        low = builder.and_(args[3], ir.Constant(i64, 0xFFFFFFFF))
        no_timeout = ir.Constant(i64, 0)
        return builder.call(call, [ir.Constant(i64, number), word, args[2], low, no_timeout])

    return types.int64(slots, index, types.int64, types.int64), codegen


if FUTEX:

    @numba.njit(nogil=True, cache=True)
    def _futex_wait(slots, index, expected):
        """Sleep while the low 32 bits of slots[index] equal ``expected`` (or until woken)."""
        _futex(slots, index, _FUTEX_WAIT, expected)

    @numba.njit(nogil=True, cache=True)
    def _futex_wake(slots, index):
        _futex(slots, index, _FUTEX_WAKE, 1)

    @numba.njit(nogil=True, cache=True)
    def _ring(slots, index, value, bell):
        """slots[index] = value (a job number), then wake the worker whose bell is ``bell``
        if it sleeps. The doorbell's increment orders the two: a worker about to sleep either
        sees the job or the doorbell changed, or is seen asleep here."""
        _store_release(slots, index, value)
        _add(slots, bell, 1)
        if _load_acquire(slots, bell + 1):
            _futex_wake(slots, bell)

    @numba.njit(nogil=True, cache=True)
    def _serve(slots, report, value, ready, old, blas, bell, max_cycles, max_turns, grace):
        """A worker's wait: report a finished job (``report >= 0``), then wait until
        ``slots[ready]`` changes from ``old``, running every BLAS job handed over at
        ``slots[blas:]`` meanwhile; spinning for ``max_cycles`` after the last job, then
        asleep on the futex of ``slots[bell]``. Holds no GIL."""
        if report >= 0:
            _store_release(slots, report, value)
        served = _load_acquire(slots, blas + 1)
        start = _cycles()
        turns = 0
        while _load_acquire(slots, ready) == old:
            request = _load_acquire(slots, blas)
            if request != served:
                _call_job(slots[blas + 2], slots[blas + 3], slots[blas + 4], slots[blas + 5])
                _store_release(slots, blas + 1, request)
                served = request
                start = _cycles()
                turns = 0
                continue
            _relax()
            turns += 1
            if turns & 255 or (_cycles() - start <= max_cycles and turns <= max_turns):
                continue
            ring = _load_acquire(slots, bell)
            _exchange(slots, bell + 1, 1)  # asleep, before the last look
            if _load_acquire(slots, ready) == old and _load_acquire(slots, blas) == served:
                _futex_wait(slots, bell, ring)
            _exchange(slots, bell + 1, 0)
            start = _cycles()
            turns = 0
        seen = _cycles()
        while _cycles() - seen < grace:
            turns += 1


@numba.njit(nogil=True, cache=True)
def _report_then_wait(slots, report, value, index, old, max_cycles, max_turns, grace_cycles):
    """Store ``value`` in ``slots[report]`` (if ``report >= 0``), then spin while
    ``slots[index] == old``: True once it changed (``grace_cycles`` later), False after
    ``max_cycles`` cycles (or ``max_turns`` turns) without a change. Holds no GIL."""
    if report >= 0:
        _store_release(slots, report, value)
    start = _cycles()
    turns = 0
    while _load_acquire(slots, index) == old:
        _relax()
        turns += 1
        if turns & 255 == 0 and (_cycles() - start > max_cycles or turns > max_turns):
            return False
    seen = _cycles()
    while _cycles() - seen < grace_cycles:
        turns += 1
    return True


class SpinPool:
    """``workers`` threads that each run one job at a time, handed over in a shared array.

    ``run(jobs)`` runs ``jobs[0]`` on the calling thread and ``jobs[1:]`` on the workers, and
    returns once all have finished, raising the first exception any of them raised. One caller
    at a time: ``try_acquire`` first (a second caller, or a job that itself splits work, runs
    its work alone instead of waiting).

    Worker ``w`` owns four cache lines of ``_slots``: ``ready`` (the caller raises it to hand
    over a job), ``done`` (the worker raises it to the same number when the job is finished),
    ``blas`` (a BLAS library's job, see ``_blas_threads``: its number, the number done, and the
    call) and ``bell`` (a doorbell counter and an asleep flag). A worker waits spinning, then,
    on Linux, asleep on the futex of its doorbell, which any thread rings without the GIL
    (``_ring``); elsewhere asleep on its condition, which the caller notifies when it is marked
    asleep (under the GIL the marking and the check are ordered). The last line holds the BLAS
    callback's lock and its count of calls.
    """

    def __init__(self, workers):
        self.workers = workers
        self._slots = np.zeros((_LINES * workers + 1) * _SLOT, dtype=np.int64)
        self.shares_blas = False  # set by _blas_threads.share
        self._conditions = [threading.Condition(threading.Lock()) for _ in range(workers)]
        self._asleep = [False] * workers
        self._jobs = [None] * workers
        self._errors = [None] * workers
        self._sequence = 0
        self._busy = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(w,), name=f"soma-spin-{w}", daemon=True)
            for w in range(workers)
        ]
        for thread in self._threads:
            thread.start()
        atexit.register(self.shutdown)

    @staticmethod
    def _ready(w):
        return (_LINES * w + _READY) * _SLOT

    @staticmethod
    def _done(w):
        return (_LINES * w + _DONE) * _SLOT

    @staticmethod
    def _blas(w):
        return (_LINES * w + _BLAS) * _SLOT

    @staticmethod
    def _bell(w):
        return (_LINES * w + _BELL) * _SLOT

    def _lock(self):
        return _LINES * self.workers * _SLOT

    def try_acquire(self) -> bool:
        return self._busy.acquire(blocking=False)

    def release(self):
        self._busy.release()

    def awake(self) -> int:
        """How many workers are spinning or working now (not asleep)."""
        if FUTEX:
            return self.workers - sum(
                int(self._slots[self._bell(w) + 1]) for w in range(self.workers)
            )
        return self.workers - sum(self._asleep)

    def _hand_over(self, w, number):
        if FUTEX:
            _ring(self._slots, self._ready(w), number, self._bell(w))
            return
        self._slots[self._ready(w)] = number
        if self._asleep[w]:
            with self._conditions[w]:
                self._conditions[w].notify()

    def run(self, jobs):
        """Run the jobs at once (the caller holds the pool: ``try_acquire``)."""
        if len(jobs) - 1 > self.workers:
            raise ValueError(f"SpinPool: {len(jobs)} jobs for {self.workers} workers + caller")
        self._sequence += 1
        helpers = range(len(jobs) - 1)
        finished = [int(self._slots[self._done(w)]) for w in helpers]
        for w in helpers:
            self._jobs[w] = contextvars.copy_context().run, jobs[w + 1]
            self._hand_over(w, self._sequence)
        try:
            jobs[0]()
        finally:
            for w in helpers:
                self._wait_done(w, finished[w])
        errors = [self._errors[w] for w in helpers]
        for w in helpers:
            self._jobs[w] = self._errors[w] = None
        for error in errors:
            if error is not None:
                raise error

    def _wait_done(self, w, old):
        slots, index = self._slots, self._done(w)
        if not _report_then_wait(slots, -1, 0, index, old, DONE_SPIN_CYCLES, SPIN_LIMIT, 0):
            while slots[index] == old:  # NOTE: a long job, or a worker the OS set aside
                time.sleep(1e-4)

    def _work(self, w):
        slots, ready, done = self._slots, self._ready(w), self._done(w)
        seen, report = 0, -1
        while True:
            if FUTEX:
                blas, bell = self._blas(w), self._bell(w)
                _serve(
                    slots,
                    report,
                    seen,
                    ready,
                    seen,
                    blas,
                    bell,
                    SPIN_CYCLES,
                    SPIN_LIMIT,
                    GRACE_CYCLES,
                )
            elif not _report_then_wait(
                slots, report, seen, ready, seen, SPIN_CYCLES, SPIN_LIMIT, GRACE_CYCLES
            ):
                with self._conditions[w]:
                    self._asleep[w] = True
                    try:
                        while slots[ready] == seen:
                            self._conditions[w].wait()
                    finally:
                        self._asleep[w] = False
            seen, report = int(slots[ready]), done
            if seen < 0:
                return
            run, job = self._jobs[w]
            try:
                run(job)
            except BaseException as error:  # NOTE: raised again in the caller's thread
                self._errors[w] = error

    def shutdown(self):
        """Stop the workers (each finishes a job in hand first); BLAS gets its own threads
        back first."""
        if self.shares_blas:
            from soma.backend import _blas_threads  # NOTE: it imports this module

            _blas_threads.unshare(self)
        for w in range(self.workers):
            self._hand_over(w, -1)
