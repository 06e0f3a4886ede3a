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
``SPIN_LIMIT`` loop turns where there is no cycle counter), then sleeps on a condition, and
the caller wakes it. With 1 ms the worker was asleep at 29 % of the hand-overs of the
``activations`` case, and each such hand-over cost about 150 µs more. The spin loop issues the
processor's spin-wait hint (``pause``): without it, a spinning worker slowed the caller's own
work on the other virtual CPU of the VM (autograd on a small batch, 10 → 17 ms).

A spinning worker holds a core, as OpenBLAS's workers do after every product (they spin for
their own timeout). ``parallel.ranges`` therefore hands work to this pool only while the
machine's other cores are idle.

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


@intrinsic
def _load_acquire(typingctx, slots, index):
    """slots[index] read with an atomic (acquire) load: read again at every turn of a loop,
    never hoisted out of it by the compiler, and it sees what the writer stored before."""
    if not (isinstance(slots, types.Array) and slots.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array_type, _ = signature.args
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(slots, index), codegen


@intrinsic
def _store_release(typingctx, slots, index, value):
    """slots[index] = value with an atomic (release) store: a reader that sees it also sees
    everything this thread wrote before (the job's results)."""
    if not (isinstance(slots, types.Array) and slots.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])
        builder.store_atomic(args[2], pointer, "release", 8)
        return context.get_dummy_value()

    return types.none(slots, index, value), codegen


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

    Worker ``w`` owns two counters, each alone in a cache line of ``_slots``: ``ready`` (the
    caller raises it to hand over a job) and ``done`` (the worker raises it to the same number
    when the job is finished). A worker waits for ``ready`` spinning, then asleep on its
    condition; the caller wakes it when it is marked asleep. Under the GIL the marking and the
    check are ordered: a worker about to sleep either sees the new number or is marked asleep
    before the caller looks.
    """

    def __init__(self, workers):
        self.workers = workers
        self._slots = np.zeros(2 * workers * _SLOT, dtype=np.int64)
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
        return 2 * w * _SLOT

    @staticmethod
    def _done(w):
        return (2 * w + 1) * _SLOT

    def try_acquire(self) -> bool:
        return self._busy.acquire(blocking=False)

    def release(self):
        self._busy.release()

    def awake(self) -> int:
        """How many workers are spinning or working now (not asleep)."""
        return self.workers - sum(self._asleep)

    def _hand_over(self, w, number):
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
            if not _report_then_wait(
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
        """Stop the workers (each finishes a job in hand first)."""
        for w in range(self.workers):
            self._hand_over(w, -1)
