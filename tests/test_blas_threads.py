"""OpenBLAS's parallel jobs on soma's workers (``backend/_blas_threads.py``).

The callback changes which threads run a product's jobs, never the jobs: every product keeps
its bits. Each scenario runs in a fresh process (the callback is process-wide, and a hang must
end in a timeout, not a stuck suite) with two BLAS threads.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from soma.backend import compiled

pytestmark = pytest.mark.skipif(not compiled.installed(), reason="needs Numba (soma[fast])")

_PRELUDE = """
import json, os, sys, threading, time
import numpy as np
from soma.backend import parallel

def products(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(300, 300, 300), (1000, 784, 512), (32, 128, 512), (512, 1600, 128)]
    pairs = [(rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32))
             for m, k, n in shapes]
    pairs.append((rng.standard_normal((3, 400, 500)), rng.standard_normal((3, 500, 300))))
    return pairs

def multiply(pairs):
    return [a @ b for a, b in pairs]

def same(xs, ys):
    return all(np.array_equal(x, y) for x, y in zip(xs, ys))

def start():
    from soma.backend import _blas_threads
    parallel._spinning_pool()  # starts the pool (None back when the machine is busy)
    return parallel._spin_pool, _blas_threads
"""

_SCENARIOS = {
    "bits": """
        pairs = products()
        before = multiply(pairs)
        pool, blas = start()
        after = multiply(pairs)
        report(shares=pool.shares_blas, same=same(before, after), calls=blas.calls())
    """,
    "asleep": """
        from soma.backend import _spin
        _spin.SPIN_CYCLES = _spin.SPIN_LIMIT = 1000
        pairs = products()
        before = multiply(pairs)
        pool, blas = start()
        deadline = time.monotonic() + 10
        while pool.awake() and time.monotonic() < deadline:
            time.sleep(0.01)
        asleep = pool.awake() == 0
        calls = blas.calls()
        after = multiply(pairs)  # the callback wakes the worker
        report(shares=pool.shares_blas, asleep=asleep, same=same(before, after),
               woken=blas.calls() > calls)
    """,
    "two_threads": """
        pairs = products()
        before = multiply(pairs)
        pool, blas = start()
        failures = []
        def caller():
            for _ in range(20):
                if not same(before, multiply(pairs)):
                    failures.append(1)
        threads = [threading.Thread(target=caller) for _ in range(2)]
        for t in threads: t.start()
        for t in threads: t.join()
        report(shares=pool.shares_blas, failures=len(failures), calls=blas.calls())
    """,
    "fork": """
        pairs = products()
        before = multiply(pairs)
        pool, blas = start()
        child = os.fork()
        if child == 0:  # the parent's worker is not here: OpenBLAS's own threads serve
            os._exit(0 if same(before, multiply(pairs)) else 3)
        _, status = os.waitpid(child, 0)
        report(shares=pool.shares_blas, child=os.waitstatus_to_exitcode(status),
               same=same(before, multiply(pairs)))
    """,
    "new_pool": """
        import soma
        pairs = products()
        before = multiply(pairs)
        pool, blas = start()
        shared = pool.shares_blas
        soma.set_num_threads(3)
        bigger = parallel._spinning_pool()  # a pool of two workers replaces the first
        moved = bigger is not pool and bigger.shares_blas and not pool.shares_blas
        same_bigger = same(before, multiply(pairs))
        bigger.shutdown()  # OpenBLAS gets its own threads back before the workers stop
        count = lambda: int(bigger._slots[bigger._lock() + 1])  # the callback's count
        calls = count()
        report(shares=shared, moved=moved, same=same_bigger and same(before, multiply(pairs)),
               after_shutdown=bigger.shares_blas, calls=calls, calls_after=count() - calls)
    """,
    "first_backward": """
        import soma
        before = parallel._spin_pool
        x = soma.ones(3, requires_grad=True)
        (x * 2).sum().backward()  # small: no pass of it splits, yet the workers start
        pool = parallel._spin_pool
        report(before=before is not None, shares=bool(pool and pool.shares_blas))
    """,
    "training": """
        import hashlib, soma
        soma.manual_seed(0)
        net = soma.nn.Sequential(
            soma.nn.Conv2d(3, 64, 3, padding=1), soma.nn.BatchNorm2d(64), soma.nn.ReLU(),
            soma.nn.Conv2d(64, 128, 3, padding=1), soma.nn.ReLU(), soma.nn.Flatten(),
            soma.nn.Linear(128 * 16 * 16, 10))
        x, t = soma.randn(16, 3, 16, 16), soma.randint(0, 10, (16,))
        optimizer = soma.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        for _ in range(3):
            optimizer.zero_grad()
            soma.nn.functional.cross_entropy(net(x), t).backward()
            optimizer.step()
        digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters()))
        pool = parallel._spin_pool
        report(shares=bool(pool and pool.shares_blas), digest=digest.hexdigest())
    """,
    "single_thread_rule": """
        from soma.backend import blas
        pool, shared = start()
        rng = np.random.default_rng(1)
        def through_callback(m, k, n):
            a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
            calls = shared.calls()
            a @ b
            return shared.calls() - calls
        small = [(4, 128, 512), (16, 128, 128), (64, 64, 64), (8, 32, 1024), (1, 512, 512)]
        assert all(m * k * n <= blas.SINGLE_THREAD_WORK for m, k, n in small)
        report(shares=pool.shares_blas, small=[through_callback(*s) for s in small],
               large=through_callback(32, 128, 512))
    """,
    "lstm_rows_shared": """
        import soma
        from soma.backend import _spin, compiled
        runs = []
        original = _spin.SpinPool.run
        def counted(self, jobs):
            runs.append(len(jobs))
            return original(self, jobs)
        _spin.SpinPool.run = counted
        pool, shared = start()
        soma.set_num_threads(2)  # split whatever the machine's load
        soma.manual_seed(0)
        lstm = soma.nn.LSTM(16, 64, num_layers=2, bidirectional=True)
        rng = np.random.default_rng(2)
        x = rng.standard_normal((30, 40, 16)).astype(np.float32)
        lengths = rng.integers(1, 31, 40)
        lengths[0] = 30
        weights = rng.standard_normal((30, 40, 128)).astype(np.float32)
        def run():
            xt = soma.tensor(x, requires_grad=True)
            packed = soma.nn.utils.rnn.pack_padded_sequence(
                xt, soma.tensor(lengths), enforce_sorted=False)
            out, (h, c) = lstm(packed)
            out, _ = soma.nn.utils.rnn.pad_packed_sequence(out, total_length=30)
            ((out * soma.tensor(weights)).sum() + h.sum() + 2 * c.sum()).backward()
            values = [out, h, c, xt.grad] + [p.grad for p in lstm.parameters()]
            lstm.zero_grad()
            return [v.detach().numpy() for v in values]
        with compiled.disabled():
            numpy_path = run()
        from soma.backend import blas
        split, worst = [], []
        for unpacked in (True, False):  # runs of rows, or blocks of rows and columns
            blas.small_products_unpacked = lambda: unpacked
            del runs[:]
            shared_rows = run()
            split.append(sum(1 for n in runs if n == 2))
            worst.append(max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-30))
                             for a, b in zip(shared_rows, numpy_path)))
        report(shares=pool.shares_blas, split=split, worst=worst)
    """,
}


def _run(scenario, **env):
    script = _PRELUDE + textwrap.dedent(
        """
        def report(**values):
            print(json.dumps(values))
        """
    )
    script += textwrap.dedent(_SCENARIOS[scenario])
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="2", **env)
    environment.pop("OMP_NUM_THREADS", None)
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def _shared_or_skip(result):
    if not result["shares"]:
        pytest.skip("no OpenBLAS threads callback here (another BLAS, or not Linux)")
    return result


@pytest.fixture(scope="module")
def two_cpus():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: OpenBLAS splits no product")


def test_products_keep_their_bits_on_somas_worker(two_cpus):
    result = _shared_or_skip(_run("bits"))
    assert result["same"]
    assert result["calls"] > 0  # the products did go through the callback


def test_the_callback_wakes_a_sleeping_worker(two_cpus):
    result = _shared_or_skip(_run("asleep"))
    assert result["asleep"] and result["woken"] and result["same"]


def test_two_threads_multiplying_at_once_take_turns(two_cpus):
    result = _shared_or_skip(_run("two_threads"))
    assert result["failures"] == 0
    assert result["calls"] >= 2 * 20 * 4


def test_a_forked_child_multiplies_without_the_parents_worker(two_cpus):
    result = _shared_or_skip(_run("fork"))
    assert result["child"] == 0 and result["same"]


def test_a_new_pool_takes_over_and_shutdown_gives_openblas_its_threads_back(two_cpus):
    result = _shared_or_skip(_run("new_pool"))
    assert result["moved"] and result["same"]
    assert result["calls"] > 0  # the bigger pool served products
    assert not result["after_shutdown"] and result["calls_after"] == 0


def test_the_first_backward_pass_starts_the_workers(two_cpus):
    result = _shared_or_skip(_run("first_backward"))
    assert not result["before"]


def test_soma_blas_threads_openblas_keeps_openblas_threads(two_cpus):
    assert not _run("bits", SOMA_BLAS_THREADS="openblas")["shares"]


def test_training_gives_the_same_bits_on_either_threads(two_cpus):
    shared = _run("training")
    own = _run("training", SOMA_BLAS_THREADS="openblas")
    assert not own["shares"]
    if not shared["shares"]:
        pytest.skip("no OpenBLAS threads callback here")
    assert shared["digest"] == own["digest"]


def test_sharing_needs_a_worker_for_every_blas_thread_beyond_the_callers(monkeypatch):
    from soma.backend import _blas_threads, _spin

    if not _spin.FUTEX:
        pytest.skip("no futex here")
    threads = {"count": 2}
    monkeypatch.setattr(_blas_threads, "_openblas", lambda: (None, lambda: threads["count"]))
    monkeypatch.delenv("SOMA_BLAS_THREADS", raising=False)
    assert _blas_threads.available(1)
    threads["count"] = 4
    assert not _blas_threads.available(1) and _blas_threads.available(3)
    threads["count"] = 1  # OpenBLAS on one thread splits nothing
    assert not _blas_threads.available(3)
    threads["count"] = 2
    monkeypatch.setenv("SOMA_BLAS_THREADS", "openblas")
    assert not _blas_threads.available(1)


def test_openblas_runs_small_products_on_the_calling_thread(two_cpus):
    """``blas.SINGLE_THREAD_WORK``: the recurrent kernels call products this small from soma's
    workers, which must never reach the callback (it would hand jobs to those busy workers)."""
    result = _shared_or_skip(_run("single_thread_rule"))
    assert result["small"] == [0] * 5
    assert result["large"] == 1  # a larger product does go through the callback


def test_lstm_rows_shared_among_somas_threads_match_the_numpy_path(two_cpus):
    """Packed, bidirectional, two layers: each thread runs the whole sequence for its share of
    the batch's rows (``_lstm_kernels._run_sequence``), forward and backward, in products of
    runs of rows and of blocks of rows and columns (``_lstm_kernels._blocks``)."""
    result = _shared_or_skip(_run("lstm_rows_shared"))
    assert min(result["split"]) >= 8  # 2 layers x 2 directions, forward and backward
    assert max(result["worst"]) < 1e-5
