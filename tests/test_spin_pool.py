"""soma's spinning workers (``backend/_spin.py``) and when ``parallel.ranges`` uses them.

The pool hands a job over through a shared array: the tests check that jobs run on the
workers, that results and errors come back, that a worker that slept (after its spin window)
wakes for the next job, that one caller holds the pool at a time, and that by default
``ranges`` splits only while the machine's other cores are idle.
"""

import os
import select
import signal
import threading
import time

import numpy as np
import pytest

import soma
from soma.backend import compiled, parallel

pytestmark = pytest.mark.skipif(not compiled.installed(), reason="needs Numba (soma[fast])")


@pytest.fixture
def pool():
    from soma.backend import _spin

    p = _spin.SpinPool(2)
    yield p
    p.shutdown()


@pytest.fixture
def default_threads(monkeypatch):
    """The default mode (no set_num_threads), two threads from the environment, a fresh pool."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with parallel._lock:
        saved = parallel._num_threads, parallel._spin_pool, parallel._idle
        parallel._num_threads, parallel._spin_pool, parallel._idle = None, None, (-float("inf"), 1)
    yield
    with parallel._lock:
        if parallel._spin_pool is not None:
            parallel._spin_pool.shutdown()
        parallel._num_threads, parallel._spin_pool, parallel._idle = saved


def _idle(monkeypatch, answer):
    monkeypatch.setattr(parallel, "machine_idle", lambda threads, awake=0: answer)
    monkeypatch.setattr(parallel, "IDLE_RECHECK_SECONDS", 0.0)


def test_jobs_run_on_the_caller_and_the_workers(pool):
    threads = [None] * 3

    def job(i):
        return lambda: threads.__setitem__(i, threading.get_ident())

    assert pool.try_acquire()
    try:
        for _ in range(50):  # many hand-overs in a row: no job lost, none run twice
            threads[:] = [None] * 3
            pool.run([job(0), job(1), job(2)])
            assert threads[0] == threading.get_ident()
            assert None not in threads and len(set(threads)) == 3
    finally:
        pool.release()


def test_results_written_by_a_worker_are_seen_by_the_caller(pool):
    x = np.arange(1_000_000, dtype=np.float64)
    out = np.zeros_like(x)

    def half(lo, hi):
        return lambda: np.multiply(x[lo:hi], 2.0, out=out[lo:hi])

    assert pool.try_acquire()
    try:
        pool.run([half(0, 500_000), half(500_000, 1_000_000)])
    finally:
        pool.release()
    assert np.array_equal(out, 2.0 * x)


def test_an_error_in_a_worker_is_raised_after_every_job_finished(pool):
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append("caller")

    def failing():
        raise ZeroDivisionError("in a worker")

    assert pool.try_acquire()
    try:
        with pytest.raises(ZeroDivisionError, match="in a worker"):
            pool.run([slow, failing])
        assert finished == ["caller"]
        pool.run([lambda: None, lambda: finished.append("again")])  # the worker still serves
        assert finished == ["caller", "again"]
    finally:
        pool.release()


def test_a_worker_that_fell_asleep_wakes_for_the_next_job(pool, monkeypatch):
    from soma.backend import _spin

    monkeypatch.setattr(_spin, "SPIN_CYCLES", 1000)
    monkeypatch.setattr(_spin, "SPIN_LIMIT", 1000)
    assert pool.try_acquire()
    try:
        pool.run([lambda: None, lambda: None, lambda: None])  # the workers spin again briefly
        deadline = time.monotonic() + 10
        while pool.awake() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.awake() == 0  # both asleep on their conditions
        done = []
        pool.run([lambda: None, lambda: done.append(1), lambda: done.append(2)])
        assert sorted(done) == [1, 2]
    finally:
        pool.release()


def test_one_caller_at_a_time(pool):
    assert pool.try_acquire()
    assert not pool.try_acquire()
    pool.release()
    assert pool.try_acquire()
    pool.release()


def test_too_many_jobs_is_an_error(pool):
    with pytest.raises(ValueError, match="4 jobs for 2 workers"):
        pool.run([lambda: None] * 4)


def test_shutdown_stops_the_workers(pool):
    pool.shutdown()
    for thread in pool._threads:
        thread.join(10)
        assert not thread.is_alive()


# ---------------------------------------------------------------------------- when ranges splits
@pytest.mark.parametrize(
    "running, awake, threads, cores, idle",
    [
        (1, 0, 2, 2, True),  # only the caller runs
        (2, 1, 2, 2, True),  # the caller and soma's own spinning worker
        (2, 0, 2, 2, False),  # another thread runs (OpenBLAS's worker after a product)
        (3, 1, 2, 2, False),
        (3, 0, 2, 4, True),  # two others, but four cores
        (None, 0, 2, 2, False),  # no /proc/loadavg
    ],
)
def test_machine_idle_counts_the_other_runnable_threads(
    monkeypatch, running, awake, threads, cores, idle
):
    monkeypatch.setattr(parallel, "_runnable_threads", lambda: running)
    monkeypatch.setattr(parallel, "_usable_cores", lambda: cores)
    assert parallel.machine_idle(threads, awake) is idle


def test_the_default_thread_count_is_decided_at_most_once_a_recheck_period(monkeypatch):
    reads = []
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    monkeypatch.setattr(parallel, "_num_threads", None)  # another test may have set it
    monkeypatch.setattr(parallel, "_runnable_threads", lambda: reads.append(1) or 1)
    monkeypatch.setattr(parallel, "_usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "_idle", (-float("inf"), 1))
    monkeypatch.setattr(parallel, "IDLE_RECHECK_SECONDS", 3600.0)
    assert parallel._default_threads(None) == 2 and parallel._default_threads(None) == 2
    assert len(reads) == 1
    monkeypatch.setattr(parallel, "_idle", (-float("inf"), 1))
    monkeypatch.setattr(parallel, "_runnable_threads", lambda: 2)  # another thread runs
    assert parallel._default_threads(None) == 1


def test_the_runnable_count_is_read_from_proc_loadavg():
    if not os.path.exists("/proc/loadavg"):
        assert parallel._runnable_threads() is None
    else:
        assert parallel._runnable_threads() >= 1  # this test itself runs


def _record_ranges(n=20):
    seen = []
    parallel.ranges(lambda a, b: seen.append((threading.get_ident(), a, b)), n, 10**9)
    return seen


def test_by_default_ranges_splits_while_the_machine_is_idle(default_threads, monkeypatch):
    _idle(monkeypatch, True)
    seen = _record_ranges()
    assert sorted((a, b) for _, a, b in seen) == [(0, 10), (10, 20)]
    assert len({thread for thread, _, _ in seen}) == 2


def test_by_default_ranges_stays_on_the_caller_while_the_machine_is_busy(
    default_threads, monkeypatch
):
    _idle(monkeypatch, False)
    assert _record_ranges() == [(threading.get_ident(), 0, 20)]
    assert parallel._spin_pool is not None  # started all the same: it serves BLAS's jobs


def test_one_thread_from_the_environment_never_splits(default_threads, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    _idle(monkeypatch, True)
    assert _record_ranges() == [(threading.get_ident(), 0, 20)]


def test_set_num_threads_splits_whatever_the_load(default_threads, monkeypatch):
    _idle(monkeypatch, False)
    soma.set_num_threads(3)
    seen = _record_ranges(30)
    assert sorted((a, b) for _, a, b in seen) == [(0, 10), (10, 20), (20, 30)]
    assert parallel._spin_pool.workers == 2


def test_small_work_stays_on_the_caller(default_threads, monkeypatch):
    _idle(monkeypatch, True)
    seen = []
    parallel.ranges(lambda a, b: seen.append((a, b)), 20, parallel.min_elements() // 2 - 1)
    assert seen == [(0, 20)]


def test_a_range_that_splits_again_runs_alone(default_threads, monkeypatch):
    _idle(monkeypatch, True)
    inner = []

    def outer(a, b):
        parallel.ranges(lambda c, d: inner.append((threading.get_ident(), c, d)), 4, 10**9)

    parallel.ranges(outer, 2, 10**9)
    assert sorted((c, d) for _, c, d in inner) == [(0, 4), (0, 4)]  # each outer range alone


def test_two_threads_calling_ranges_at_once_both_finish(default_threads, monkeypatch):
    _idle(monkeypatch, True)
    results, errors = {}, []

    def caller(name):
        try:
            for _ in range(200):
                out = np.zeros(100)

                def fill(a, b, out=out):
                    out[a:b] = 1.0

                parallel.ranges(fill, 100, 10**9)
                assert out.sum() == 100
            results[name] = True
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and results == {0: True, 1: True}


def test_activation_kernels_split_by_default_equal_one_thread_bit_for_bit(
    default_threads, monkeypatch
):
    x = soma.randn(1000, 128, requires_grad=True)
    fns = [soma.nn.functional.gelu, soma.nn.functional.softplus, soma.sigmoid, soma.tanh]

    def run():
        x.grad = None
        ys = [f(x) for f in fns]
        sum(y.sum() for y in ys).backward()
        return [y.detach().numpy().copy() for y in ys] + [x.grad.numpy().copy()]

    _idle(monkeypatch, False)
    alone = run()
    _idle(monkeypatch, True)
    split = run()
    assert parallel._spin_pool is not None and parallel._spin_pool._sequence >= len(fns)
    for a, b in zip(alone, split):
        assert np.array_equal(a, b)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_spinning_pool(default_threads, monkeypatch):
    _idle(monkeypatch, True)
    _record_ranges()  # the parent's pool exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the parent's workers are gone; a split must still finish
        try:
            ok = sorted((a, b) for _, a, b in _record_ranges()) == [(0, 10), (10, 20)]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    ready = select.select([read], [], [], 30)[0]
    answer = os.read(read, 1) if ready else b"timeout"
    os.close(read)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"1"
