"""The thread pool of ``soma.backend.parallel``: the chunked path equals the plain one bit for
bit, for the helper itself and for every kernel that uses it (forward and gradients), and
what falls back to one call.

The threshold is forced low (``set_min_elements(1)``) so that test-sized arrays take the pool,
on three threads, so that blocks end at odd rows.
"""

import os
import select
import signal
import threading

import numpy as np
import pytest

import soma
from soma.backend import parallel

F = soma.nn.functional


@pytest.fixture
def pooled(monkeypatch):
    """Three threads (three blocks, at odd rows), every array split."""
    previous_threads = parallel._num_threads
    parallel.set_num_threads(3)
    previous_min = parallel.set_min_elements(1)
    yield
    parallel.set_min_elements(previous_min)
    with parallel._lock:  # back to the thread count the session had (maybe from the environment)
        parallel._shutdown_pool()
        parallel._pool_threads, parallel._num_threads = None, previous_threads


def _plain(fn):
    """``fn()`` with the pool out of the way (threshold above any test array)."""
    previous = parallel.set_min_elements(10**15)
    try:
        return fn()
    finally:
        parallel.set_min_elements(previous)


def _recording(fn):
    """``fn`` that also records (thread id, rows) of every block it is called on."""
    calls = []

    def wrapped(*args, out):
        calls.append((threading.get_ident(), len(out) if getattr(out, "ndim", 0) else None))
        return fn(*args, out=out)

    return wrapped, calls


# ---------------------------------------------------------------------------- the helper
def test_blocks_run_on_both_threads_and_equal_the_plain_pass(pooled):
    x = np.random.default_rng(0).standard_normal((37, 13)).astype(np.float32)
    fn, calls = _recording(np.tanh)
    got = parallel.elementwise(fn, x, out=np.empty_like(x))
    assert np.array_equal(got, np.tanh(x))
    assert len(calls) > 2 and sum(rows for _, rows in calls) == 37
    assert {ident for ident, _ in calls} - {threading.get_ident()}, "no block ran on the pool"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: a.T,  # transposed: rows of the view are columns in memory
        lambda a: a[::2],  # strided rows
        lambda a: a[:, 1:],  # rows with a gap
        lambda a: np.broadcast_to(a[:1], a.shape),  # stride 0 along the split axis
    ],
    ids=["contiguous", "transposed", "strided", "offset", "broadcast"],
)
def test_any_strides_give_the_plain_result(pooled, dtype, make):
    a = make(np.random.default_rng(1).standard_normal((41, 23)).astype(dtype) * 30)
    b = make(np.random.default_rng(2).standard_normal((41, 23)).astype(dtype))

    def fn(a, b, out):
        with np.errstate(over="ignore"):
            np.exp(a, out=out)
        out *= b
        return np.add(out, np.tanh(b), out=out)

    expected = _plain(lambda: fn(a, b, out=np.empty(a.shape, dtype)))
    assert np.array_equal(parallel.elementwise(fn, a, b, out=np.empty(a.shape, dtype)), expected)


def test_whole_operands_and_tuple_outputs(pooled):
    x = np.random.default_rng(3).standard_normal((9, 4, 5))
    scale = np.arange(4.0).reshape(4, 1)  # spans no leading axis: passed whole

    def fn(x, scale, k, out):
        a, b = out
        np.multiply(x, scale, out=a)
        np.add(a, k, out=b)

    a, b = np.empty_like(x), np.empty_like(x)
    parallel.elementwise(fn, x, scale, 0.5, out=(a, b))
    assert np.array_equal(a, x * scale) and np.array_equal(b, x * scale + 0.5)


def test_same_length_operand_of_lower_rank_is_not_split(pooled):
    x = np.ones((6, 6))
    row = np.arange(6.0)  # as long as the leading axis, but broadcast along the last one
    got = parallel.elementwise(np.multiply, x, row, out=np.empty_like(x))
    assert np.array_equal(got, x * row)


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (1, 5), (3,)])
def test_0d_empty_and_single_row(pooled, shape):
    x = np.full(shape, 0.5)
    fn, calls = _recording(np.tanh)
    got = parallel.elementwise(fn, x, out=np.empty(shape))
    assert got.shape == shape and np.array_equal(got, np.tanh(x))
    if shape in [(), (0,), (0, 3), (1, 5)]:  # nothing to split: one plain call
        assert calls == [(threading.get_ident(), calls[0][1])]


def test_an_error_in_a_worker_block_propagates_after_all_blocks_finish(pooled):
    x = np.zeros((8, 3))
    done = []

    def fn(x, out):
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("bad block")
        out[...] = 1
        done.append(len(x))

    with pytest.raises(ValueError, match="bad block"):
        parallel.elementwise(fn, x, out=np.empty_like(x))
    assert done  # the caller's own blocks ran to the end


def test_the_callers_errstate_applies_in_worker_threads(pooled):
    x = np.zeros((16, 3))
    x[-1] = 1000.0  # overflows in exp, in the last block (a worker's)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            parallel.elementwise(np.exp, x, out=np.empty_like(x))
    with np.errstate(over="ignore"):
        assert np.isinf(parallel.elementwise(np.exp, x, out=np.empty_like(x))[-1]).all()


def test_one_thread_runs_nothing_on_the_pool(pooled):
    soma.set_num_threads(1)
    assert soma.get_num_threads() == 1
    x = np.ones((50, 3))
    fn, calls = _recording(np.tanh)
    parallel.elementwise(fn, x, out=np.empty_like(x))
    assert calls == [(threading.get_ident(), 50)]
    y = soma.randn(50, 3, requires_grad=True)
    soma.tanh(y).sum().backward()
    assert parallel._pool is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_builds_its_own_pool(pooled):
    x = np.random.default_rng(7).standard_normal((30, 4))
    parallel.elementwise(np.tanh, x, out=np.empty_like(x))  # the parent's pool exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: a pool-sized pass must finish (the parent's workers are gone)
        ok = np.array_equal(parallel.elementwise(np.tanh, x, out=np.empty_like(x)), np.tanh(x))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    ready = select.select([read], [], [], 20)[0]
    answer = os.read(read, 1) if ready else b"timeout"
    os.close(read)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"1"


def test_small_arrays_take_one_plain_call():
    x = np.ones((4, 3))
    fn, calls = _recording(np.tanh)
    assert x.size < parallel.min_elements()
    parallel.elementwise(fn, x, out=np.empty_like(x))
    assert calls == [(threading.get_ident(), 4)]


def test_another_backend_takes_one_plain_call(pooled):
    soma.backend.register_backend("numpy-alias", np, np.ndarray)
    x = np.ones((10, 3))
    fn, calls = _recording(np.tanh)
    with soma.backend.use_backend("numpy-alias"):
        parallel.elementwise(fn, x, out=np.empty_like(x))
    assert len(calls) == 1


def test_set_num_threads_sets_soma_threads_not_blas(monkeypatch):
    monkeypatch.setattr(parallel, "_num_threads", None)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert soma.get_num_threads() == 3  # by default what the environment gives BLAS
    soma.set_num_threads(1)
    assert soma.get_num_threads() == 1
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


def test_without_set_num_threads_every_block_runs_on_the_calling_thread(monkeypatch):
    # BLAS's spinning workers hold the other cores between products (see the module's Threads):
    # elementwise waits for an explicit set_num_threads, whatever the environment gives BLAS,
    # and ranges splits only while the machine is idle (tests/test_spin_pool.py), here busy
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.setattr(parallel, "machine_idle", lambda threads, awake=0: False)
    previous_min = parallel.set_min_elements(1)
    with parallel._lock:
        saved = parallel._pool, parallel._pool_threads, parallel._num_threads
        parallel._pool, parallel._pool_threads, parallel._num_threads = None, None, None
    try:
        x = np.arange(60, dtype=np.float32).reshape(20, 3)
        fn, calls = _recording(np.negative)
        assert np.array_equal(parallel.elementwise(fn, x, out=np.empty_like(x)), -x)
        ranges = []
        parallel.ranges(lambda start, stop: ranges.append((start, stop)), 20, 10**9)
        assert calls == [(threading.get_ident(), 20)] and ranges == [(0, 20)]
        assert parallel._pool is None
        assert soma.get_num_threads() == 3 and parallel.pool_threads() == 1
    finally:
        parallel.set_min_elements(previous_min)
        with parallel._lock:
            parallel._pool, parallel._pool_threads, parallel._num_threads = saved


def test_settings_are_checked():
    with pytest.raises(ValueError, match="set_min_elements"):
        parallel.set_min_elements(0)
    with pytest.raises(RuntimeError, match="set_num_threads"):
        soma.set_num_threads(0)


# ---------------------------------------------------------------------------- the kernels
KERNELS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 1.7),
    "softplus": F.softplus,
    "softplus_beta": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "sigmoid": soma.sigmoid,
    "tanh": soma.tanh,
    "batch_norm_train": lambda x: F.batch_norm(
        x, None, None, soma.linspace(0.5, 2, x.shape[1]), soma.linspace(-1, 1, x.shape[1]),
        training=True,
    ),
    "batch_norm_eval": lambda x: F.batch_norm(
        x, soma.linspace(-1, 1, x.shape[1]), soma.linspace(0.5, 2, x.shape[1]),
        soma.linspace(0.5, 2, x.shape[1]), None,
    ),
}  # fmt: skip


def _forward_backward(fn, x_array, g_array, transpose):
    x = soma.tensor(x_array, requires_grad=True)
    y = fn(x.transpose(0, 1) if transpose else x)
    y.backward(soma.tensor(g_array.reshape(y.shape)))
    return y.detach().numpy().copy(), x.grad.numpy().copy()


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(37, 13), (7, 5, 3, 3), (4, 6, 40, 40)], ids=["2d", "nchw", "long-planes"]
)
@pytest.mark.parametrize("transpose", [False, True], ids=["contiguous", "transposed"])
def test_kernels_equal_their_plain_path_bit_for_bit(pooled, name, dtype, shape, transpose):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    specials = [-1e4, 1e4, 0.0, -30.0, 30.0, 3.0]  # far tails, the kinks, softplus' threshold
    x.flat[::17] = np.resize(np.array(specials, dtype), len(x.flat[::17]))
    g = rng.standard_normal(shape).astype(dtype)
    fn = KERNELS[name]
    expected = _plain(lambda: _forward_backward(fn, x, g, transpose))
    got = _forward_backward(fn, x, g, transpose)
    for e, r in zip(expected, got):
        assert r.dtype == e.dtype
        np.testing.assert_array_equal(r, e, strict=True)


@pytest.mark.parametrize("name", [n for n in KERNELS if not n.startswith("batch_norm")])
def test_kernels_on_0d_and_empty_inputs(pooled, name):
    for shape in [(), (0, 4)]:
        x = soma.full(shape, 0.7, requires_grad=True)
        y = KERNELS[name](x)
        y.sum().backward()
        expected = _plain(lambda shape=shape: KERNELS[name](soma.full(shape, 0.7)))
        assert y.shape == shape and np.array_equal(y.detach().numpy(), expected.numpy())
        assert x.grad.shape == shape


def test_kernel_blocks_really_run_on_the_pool(pooled, monkeypatch):
    threads = set()
    original = parallel._run_blocks

    def spy(*args):
        threads.add(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(parallel, "_run_blocks", spy)
    x = soma.randn(40, 8, requires_grad=True)
    soma.tanh(x).sum().backward()
    assert len(threads) >= 2  # the caller and at least one worker (which may take both)


def _channels_last(shape, seed):
    a = np.random.default_rng(seed).standard_normal((shape[0], *shape[2:], shape[1]))
    return a.astype(np.float32).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_memory_passes_split_by_rows_give_numpys_bits(monkeypatch, threads):
    """``add`` and ``concatenate`` from ``MEMORY_SPLIT`` elements: the same values and layout
    as NumPy's add and concatenate, for channel slices of channels-last memory (a dense block's
    gradients) and in place."""
    monkeypatch.setattr(parallel, "MEMORY_SPLIT", 64)
    previous = parallel._num_threads
    parallel.set_num_threads(threads)
    try:
        a = _channels_last((5, 6, 4, 3), 0)
        wide = _channels_last((5, 10, 4, 3), 1)
        g = wide[:, 2:8]  # a channel slice: runs of 6 numbers, 10 apart
        out = parallel.add(a, g, np.empty_like(a))
        np.testing.assert_array_equal(out, a + g)
        assert out.strides == a.strides
        inplace = a.copy(order="K")
        assert parallel.add(inplace, g, inplace) is inplace
        np.testing.assert_array_equal(inplace, a + g)
        parts = [a, wide, g]
        for axis in (1, 2, 3):
            joined = [p if axis == 1 else p[:, :6] for p in parts]
            expected = np.concatenate(joined, axis=axis)
            out = np.empty_like(expected)
            np.testing.assert_array_equal(parallel.concatenate(joined, axis, out), expected)
    finally:
        parallel._num_threads = previous


def test_cat_of_channels_last_inputs_keeps_the_layout_and_sums_gradients(monkeypatch):
    """soma.cat of channels-last tensors above ``MEMORY_SPLIT`` (copied on soma's threads) is
    NumPy's concatenation, channels-last; a tensor joined twice gets both gradients summed."""
    monkeypatch.setattr(parallel, "MEMORY_SPLIT", 64)
    x = soma.Tensor(_channels_last((4, 3, 5, 6), 2), requires_grad=True)
    y = soma.Tensor(_channels_last((4, 2, 5, 6), 3), requires_grad=True)
    joined = soma.cat([x, y, x], 1)
    values = joined.detach().numpy()
    np.testing.assert_array_equal(
        values, np.concatenate([x.detach().numpy(), y.detach().numpy(), x.detach().numpy()], 1)
    )
    assert np.moveaxis(values, 1, -1).flags.c_contiguous
    weights = _channels_last((4, 8, 5, 6), 4)
    (joined * soma.Tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), weights[:, :3] + weights[:, 5:])
    np.testing.assert_array_equal(y.grad.numpy(), weights[:, 3:5])
