"""Compiled tiled sum/average pooling (``pooling/_tile_kernels.py``) against the NumPy path
(bit for bit: same additions in the same order) and PyTorch."""

import contextlib

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.autograd.gradcheck import gradcheck
from soma.backend import compiled, parallel
from soma.functional.pooling import _tile_kernels
from tests.conftest import needs_compiled

# (input shape, kernel): 2-D and 1-D tiles, square and not, the 2x2 loop and the general one
CASES = [
    ((4, 3, 8, 8), 2),
    ((2, 5, 9, 12), 3),
    ((3, 4, 6, 10), (2, 5)),
    ((2, 3, 8, 8), 4),
    ((5, 2, 4), (1, 2)),  # unbatched 2-D
    ((3, 4, 12), 3),  # 1-D
    ((4, 6), 2),  # unbatched 1-D
]


def _pool(x, k):
    spatial = 1 if x.ndim == 3 and not isinstance(k, tuple) or x.ndim == 2 else 2
    return (F.avg_pool1d if spatial == 1 else F.avg_pool2d)(x, k)


def _run(x_np, g_np, k, fast, pool=_pool):
    x = soma.tensor(x_np, requires_grad=True)
    with contextlib.nullcontext() if fast else compiled.disabled():
        y = pool(x, k)
        y.backward(soma.tensor(g_np))
    return y.detach().numpy(), x.grad.numpy()


def _data(shape, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:4] = [np.nan, np.inf, -0.0, -np.inf]
    with soma.no_grad():
        out = _pool(soma.tensor(x), k)
    return x, rng.standard_normal(out.shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k", CASES, ids=str)
def test_compiled_equals_numpy_path_bit_for_bit(shape, k, dtype, monkeypatch):
    needs_compiled()
    x, g = _data(shape, k, dtype)
    calls = []
    forward = _tile_kernels.forward
    monkeypatch.setattr(_tile_kernels, "forward", lambda *a: calls.append(1) or forward(*a))
    fast = _run(x, g, k, True)
    assert calls, "the compiled path did not run"
    slow = _run(x, g, k, False)
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_channel_major_planes_run_in_place_and_keep_their_layout(monkeypatch):
    """(C, N, H, W) memory (a convolution's output in soma) has dense planes too: the kernels
    read it where it lies, and y and dL/dx come back in that layout."""
    needs_compiled()
    x_np, g = _data((3, 4, 8, 6), 2, np.float32, seed=7)
    calls = []
    forward = _tile_kernels.forward
    monkeypatch.setattr(_tile_kernels, "forward", lambda *a: calls.append(1) or forward(*a))
    x_cm = np.ascontiguousarray(x_np.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    results = []
    for fast in (True, False):
        x = soma.Tensor(x_cm)  # NOTE: soma.Tensor keeps the memory order
        x.requires_grad = True
        seen = []
        x.register_hook(lambda grad, seen=seen: seen.append(grad.numpy()))
        with contextlib.nullcontext() if fast else compiled.disabled():
            y = F.avg_pool2d(x, 2)
            y.backward(soma.tensor(g))
        results.append((y.detach().numpy(), seen[0]))
    assert calls == [1]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    y, gx = results[0]
    assert np.argsort(y.strides)[::-1].tolist() == [1, 0, 2, 3]
    assert gx.strides == x_cm.strides


@pytest.mark.parametrize("shape,k", CASES[:4], ids=str)
def test_matches_torch(shape, k):
    torch = pytest.importorskip("torch")
    x, g = _data(shape, k, np.float32, seed=1)
    x = np.nan_to_num(x)  # NOTE: the values PyTorch and soma agree on; NaN/inf: bit test above
    y, gx = _run(x, g, k, True)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.avg_pool2d(xt, k)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_sum_pool_and_divisor_override_scale_as_the_numpy_path():
    needs_compiled()
    x, g = _data((2, 3, 6, 6), 3, np.float32, seed=2)

    def override(t, k):
        return F.avg_pool2d(t, k, divisor_override=5)

    for pool in (override, lambda t, k: soma.nn.functional.lp_pool2d(t, 1, k)):
        fast, slow = _run(x, g, 3, True, pool), _run(x, g, 3, False, pool)
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)


def test_split_across_threads_gives_the_same_result():
    needs_compiled()
    x, g = _data((6, 5, 12, 12), 2, np.float32, seed=3)
    one = _run(x, g, 2, True)
    previous, threads = parallel.set_min_elements(1), parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        two = _run(x, g, 2, True)
    finally:
        parallel.set_min_elements(previous)
        parallel.set_num_threads(threads)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_gradient_of_a_strided_upstream_gradient():
    needs_compiled()
    x, _ = _data((2, 3, 8, 8), 2, np.float32, seed=4)
    x = soma.tensor(x, requires_grad=True)
    y = F.avg_pool2d(x, 2)
    g = np.random.default_rng(5).standard_normal((2, 3, 4, 8)).astype(np.float32)[..., ::2]
    y.backward(soma.tensor(g))
    expected = np.repeat(np.repeat(g * np.float32(0.25), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_gradcheck_float64():
    x = soma.tensor(np.random.default_rng(6).standard_normal((2, 3, 6, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.avg_pool2d(t, (3, 2)), [x])


def test_other_windows_take_the_numpy_path():
    from soma.functional.pooling._windows import Windows

    x = np.zeros((2, 3, 8, 8), np.float32)
    tiles = Windows("avg_pool2d", (8, 8), 2, None, 0)
    assert (_tile_kernels.tile_order(tiles, x, 4) is not None) == compiled.enabled()
    overlapping = Windows("avg_pool2d", (8, 8), 3, 1, 0)
    assert _tile_kernels.tile_order(overlapping, x, 9) is None
    assert _tile_kernels.tile_order(tiles, x[..., ::1, :].transpose(0, 1, 3, 2), 4) is None
    assert _tile_kernels.tile_order(tiles, x.astype(np.float16), 4) is None
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert _tile_kernels.tile_order(tiles, channels_last, 4) is None
    assert _tile_kernels.planes_order(x[..., ::2], 2) is None  # rows with gaps
    large = Windows("avg_pool2d", (8, 8), 8, None, 0)  # one 64-element window per plane
    assert _tile_kernels.tile_order(large, x, 64) is None
