"""Compiled max pooling (``pooling/_max_kernels.py``) against the NumPy path and PyTorch."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.autograd.gradcheck import gradcheck
from soma.backend import compiled, parallel
from tests.conftest import needs_compiled
from tests.torch_oracle import torch

CASES = [
    ((2, 3, 11, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((3, 5, 8, 8), dict(kernel_size=2)),
    ((2, 4, 9, 7), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1))),
    ((1, 6, 10, 10), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((4, 7, 6), dict(kernel_size=3, stride=1, padding=1)),  # unbatched
]


def _channels_last(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)).transpose(0, 3, 1, 2) if x.ndim == 4 else x


def _pool(x_np, kw, g_np, layout):
    x = soma.tensor(_channels_last(x_np) if layout == "cl" else x_np, requires_grad=True)
    y, idx = F.max_pool2d(x, **kw, return_indices=True)
    y.backward(soma.tensor(g_np))
    return y.detach().numpy(), idx.numpy(), x.grad.numpy()


def _data(shape, kw, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[::5] = x.flat[1::5][: x.flat[::5].size]  # ties: the first maximum must win
    with soma.no_grad():
        out = F.max_pool2d(soma.tensor(x), **kw)
    return x, rng.standard_normal(out.shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["planes", "cl"])
@pytest.mark.parametrize("shape,kw", CASES, ids=lambda v: str(v))
def test_compiled_matches_numpy_path_and_torch(shape, kw, layout, dtype):
    needs_compiled()
    x, g = _data(shape, kw, dtype)
    y, idx, gx = _pool(x, kw, g, layout)
    with compiled.disabled():
        y0, idx0, gx0 = _pool(x, kw, g, layout)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(idx, idx0)
    np.testing.assert_allclose(gx, gx0, rtol=1e-6, atol=1e-6)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, **kw, return_indices=True)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(idx, it.numpy())
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_channels_last_input_gives_channels_last_output():
    needs_compiled()
    x = soma.tensor(_channels_last(np.random.default_rng(1).standard_normal((2, 8, 6, 6))))
    y = F.max_pool2d(x, 3, 2, 1)
    assert np.argmin(y.numpy().strides) == 1  # C innermost, as PyTorch's channels_last


@pytest.mark.parametrize("layout", ["planes", "cl"])
def test_nan_gives_nan_indexed_at_the_last_nan_of_the_window(layout):
    # PyTorch's CPU kernel replaces its running maximum when v > m or v is NaN; its values at
    # NaN are not asserted (CPU dependent), the rule is: the window's value is NaN
    needs_compiled()
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4)
    x[0, 1, 0, 1] = np.nan
    x[0, 1, 1, 0] = np.nan
    g = np.ones((2, 3, 2, 2))
    y, idx, gx = _pool(x, dict(kernel_size=2), g, layout)
    assert np.isnan(y[0, 1, 0, 0]) and idx[0, 1, 0, 0] == 4  # (1, 0), the last NaN
    assert gx[0, 1, 1, 0] == 1 and gx[0, 1, 0, 1] == 0
    assert not np.isnan(np.delete(y.ravel(), 4)).any()


def test_all_minus_inf_window_is_indexed_at_its_first_element_inside_the_input():
    needs_compiled()
    x = np.full((1, 1, 3, 3), -np.inf)
    _, idx, _ = _pool(x, dict(kernel_size=2, stride=2, padding=1), np.ones((1, 1, 2, 2)), "p")
    np.testing.assert_array_equal(idx[0, 0], [[0, 1], [3, 4]])


def test_1d_pooling_through_the_kernel_matches_torch():
    needs_compiled()
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((3, 4, 13))
    x = soma.tensor(x_np, requires_grad=True)
    y, idx = F.max_pool1d(x, 3, 2, 1, return_indices=True)
    g = rng.standard_normal(y.shape)
    y.backward(soma.tensor(g))
    xt = torch.tensor(x_np, requires_grad=True)
    yt, it = torch.nn.functional.max_pool1d(xt, 3, 2, 1, return_indices=True)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_split_across_threads_gives_the_same_result():
    needs_compiled()
    x, g = _data((6, 5, 9, 9), dict(kernel_size=3, stride=2), np.float32, seed=3)
    one = _pool(x, dict(kernel_size=3, stride=2), g, "cl")
    previous, threads = parallel.set_min_elements(1), parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        two = _pool(x, dict(kernel_size=3, stride=2), g, "cl")
        two_planes = _pool(x, dict(kernel_size=3, stride=2), g, "planes")
    finally:
        parallel.set_min_elements(previous)
        parallel.set_num_threads(threads)
    for a, b in zip(one, two_planes):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["planes", "cl"])
def test_gradcheck_float64(layout):
    x_np = np.random.default_rng(4).permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) / 7.0
    x = soma.tensor(_channels_last(x_np) if layout == "cl" else x_np, requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), [x])


def test_float16_input_takes_the_numpy_path():
    # Numba has no float16 arithmetic: the kernels must not be handed float16 arrays
    x = soma.tensor(np.random.default_rng(7).standard_normal((2, 3, 8, 8)).astype(np.float16))
    y = F.max_pool2d(x, 3, 2, 1)
    with compiled.disabled():
        y0 = F.max_pool2d(x, 3, 2, 1)
    assert y.dtype == soma.float16
    np.testing.assert_array_equal(y.numpy(), y0.numpy())


def test_strided_slice_input_matches_torch():
    # neither layout: every other channel and column of a bigger array
    needs_compiled()
    rng = np.random.default_rng(9)
    big = rng.standard_normal((3, 8, 9, 14))
    x_np = big[:, ::2, :, 1::2]
    x = soma.tensor(x_np, requires_grad=True)
    y, idx = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    g = rng.standard_normal(y.shape)
    y.backward(soma.tensor(g))
    xt = torch.tensor(np.ascontiguousarray(x_np), requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, 3, 2, 1, ceil_mode=True, return_indices=True)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
