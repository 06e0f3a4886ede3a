"""Weight-gradient products on soma's threads (``conv/_reduce_kernels.py``): against float64
products over stack sizes, layouts (transposed views read in place) and ragged lengths, the
same bits on one thread and on two, where it stays off, and convolutions through it against
PyTorch and finite differences."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.backend import blas, compiled, parallel
from soma.functional.conv import _geometry, _reduce_kernels
from tests.conftest import needs_compiled, to_torch


def _stacks(stack, m, k, n, dtype, a_by_columns, b_by_columns, seed=0):
    """(S, M, K) and (S, K, N) operands, each stored row-major or as a transposed view."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((stack, k, m) if a_by_columns else (stack, m, k)).astype(dtype)
    b = rng.standard_normal((stack, n, k) if b_by_columns else (stack, k, n)).astype(dtype)
    return (a.swapaxes(1, 2) if a_by_columns else a), (b.swapaxes(1, 2) if b_by_columns else b)


def _with_threads(threads, fn):
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        return fn()
    finally:
        parallel.set_num_threads(previous)


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("a_by_columns", [False, True])
@pytest.mark.parametrize("b_by_columns", [False, True])
@pytest.mark.parametrize(
    "stack, m, k, n",
    [
        (16, 32, 2048, 128),
        (16, 32, 1000, 32),
        (1, 128, 3001, 32),
        (3, 7, 9001, 5),
        (2, 1, 9000, 3),
    ],
)
def test_products_match_float64(stack, m, k, n, dtype, tolerance, a_by_columns, b_by_columns):
    needs_compiled()
    a, b = _stacks(stack, m, k, n, dtype, a_by_columns, b_by_columns)
    assert _reduce_kernels.applies(a, b)
    ours = _reduce_kernels.reduce(a, b)
    reference = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert ours.shape == (stack, m, n) and ours.dtype == dtype
    scale = np.abs(reference).max()
    assert np.abs(ours - reference).max() <= tolerance * scale * np.sqrt(k)


@pytest.mark.parametrize(
    "stack, m, k, n", [(16, 32, 2048, 64), (1, 64, 5000, 32), (3, 8, 9001, 9)]
)
def test_same_bits_on_one_thread_and_two(stack, m, k, n):
    """The work items and each item's order of sums depend on the shapes only."""
    needs_compiled()
    a, b = _stacks(stack, m, k, n, np.float32, True, False, seed=3)
    assert _reduce_kernels.applies(a, b)
    one = _with_threads(1, lambda: _reduce_kernels.reduce(a, b))
    two = _with_threads(2, lambda: _reduce_kernels.reduce(a, b))
    np.testing.assert_array_equal(one, two)


def test_run_length_keeps_every_product_on_one_blas_thread():
    for m, n in [(1, 1), (32, 32), (32, 128), (128, 64), (7, 5)]:
        run = _reduce_kernels.run_length(m, n)
        assert m * n * run <= blas.SINGLE_THREAD_WORK
        assert run == 4096 or m * n * run * 2 > blas.SINGLE_THREAD_WORK
    assert _reduce_kernels.run_length(32, 128) == 64


def test_stays_off_where_it_does_not_pay_or_cannot_run():
    needs_compiled()
    a, b = _stacks(4, 32, 2048, 32, np.float32, False, False)
    assert _reduce_kernels.applies(a, b)
    assert not _reduce_kernels.applies(a[:, :, :200], b[:, :200])  # K under two runs
    wide = _stacks(2, 128, 4096, 128, np.float32, False, False)  # runs of 16: too short
    assert not _reduce_kernels.applies(*wide)
    assert not _reduce_kernels.applies(a.astype(np.float16), b.astype(np.float16))
    assert not _reduce_kernels.applies(a[:, :, ::2], b[:, ::2])  # no unit stride
    rows_broadcast = np.broadcast_to(a[:, :1], a.shape)  # rows that overlap in memory
    assert not _reduce_kernels.applies(rows_broadcast, b)
    assert not _reduce_kernels.applies(a, np.broadcast_to(b[:, :, :1], b.shape))
    with compiled.disabled():
        assert not _reduce_kernels.applies(a, b)


def test_reduce_positions_takes_it_and_agrees_with_the_numpy_runs(monkeypatch):
    needs_compiled()
    a, b = _stacks(16, 32, 1024, 32, np.float32, True, False, seed=5)
    calls = []
    original = _reduce_kernels.reduce
    monkeypatch.setattr(_reduce_kernels, "reduce", lambda *x: calls.append(1) or original(*x))
    ours = _geometry.reduce_positions(a, b)
    assert calls
    monkeypatch.setattr(_geometry, "COMPILED_REDUCTION", False)
    np.testing.assert_allclose(ours, _geometry.reduce_positions(a, b), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "n, c, size, o, k, padding",
    [(16, 32, 16, 32, 3, 1), (8, 64, 8, 32, 1, 0), (4, 3, 20, 16, 5, 2)],
)
def test_convolution_weight_gradients_match_torch(torch_or_skip, n, c, size, o, k, padding):
    """Winograd (3×3), pointwise (1×1) and narrow im2col (3 channels) weight gradients, whose
    position sums run here, against PyTorch."""
    needs_compiled()
    torch = torch_or_skip
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    w = (rng.standard_normal((o, c, k, k)) * 0.2).astype(np.float32)
    ws, wt = soma.tensor(w, requires_grad=True), to_torch(w, requires_grad=True)
    ys = F.conv2d(soma.tensor(x), ws, padding=padding)
    yt = torch.nn.functional.conv2d(to_torch(x), wt, padding=padding)
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    ys.backward(soma.tensor(gy))
    yt.backward(to_torch(gy))
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=2e-3)


def test_weight_gradient_passes_gradcheck_float64():
    needs_compiled()
    rng = np.random.default_rng(11)
    x = soma.tensor(rng.standard_normal((4, 8, 6, 6)))
    w = soma.tensor(rng.standard_normal((8, 8, 1, 1)), requires_grad=True)
    assert soma.autograd.gradcheck(lambda w: F.conv2d(x, w), (w,))
