"""Compiled col2im for channels-last columns (``conv/_im2col_kernels.py``).

Every input position sums its taps in the NumPy form's order, so the tests ask for the NumPy
form's bits over strides, dilations, paddings (asymmetric included), float32 and float64, one
and two threads; and a strided convolution's input gradient, which runs through it, against
PyTorch and finite differences.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import soma
from soma.backend import compiled, parallel
from soma.functional.conv import _im2col, _im2col_kernels
from soma.functional.conv._args import conv_geometry
from tests.conftest import needs_compiled

# (batch, channels, size, out channels, kernel, stride, padding, dilation)
GRID = [
    (4, 16, (16, 16), 32, (3, 3), 2, 1, 1),  # ResNet's downsampling layer, in small
    (2, 8, (11, 12), 6, (3, 3), 2, 1, 1),
    (2, 5, (13, 13), 4, (3, 3), (2, 3), (1, 2), (2, 1)),
    (1, 3, (9, 9), 2, (2, 3), 1, (0, 1), 1),
    (5, 2, (7, 10), 3, (3, 3), 3, 2, 1),
    (3, 4, (8, 8), 5, (5, 5), 1, 2, 1),
    (16, 32, (16, 16), 64, (3, 3), 2, 1, 1),  # large enough for two threads to split it
]


def _geometry(n, c, size, o, k, stride, padding, dilation):
    return conv_geometry((n, c) + size, (o, c) + k, stride, padding, dilation, 1, 2, "conv")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, size, o, k, stride, padding, dilation", GRID)
def test_col2im_gives_the_numpy_bits(n, c, size, o, k, stride, padding, dilation, dtype, threads):
    needs_compiled()
    g = _geometry(n, c, size, o, k, stride, padding, dilation)
    gcol = np.random.default_rng(0).standard_normal((1, n * g.positions, g.taps * c)).astype(dtype)
    assert _im2col_kernels.applies(g, gcol)
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        ours = _im2col.col2im(gcol, g, n, c)
    finally:
        parallel.set_num_threads(previous)
    with compiled.disabled():
        reference = _im2col.col2im(gcol, g, n, c)
    assert ours.shape == reference.shape == (n, c) + size
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, reference)


def test_grouped_columns_keep_the_numpy_form():
    """The kernel reads one group's columns; grouped ones take the NumPy form."""
    g = conv_geometry((2, 4, 6, 6), (4, 2, 3, 3), 2, 1, 1, 2, 2, "conv")
    gcol = np.zeros((2, 2 * g.positions, g.taps * 2), np.float32)
    assert not _im2col_kernels.applies(g, gcol)


@settings(max_examples=60, deadline=None)
@given(
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    batch=st.integers(1, 4),
    channels=st.integers(1, 9),
)
def test_random_geometries_give_the_numpy_bits(
    kernel, stride, dilation, padding, size, batch, channels
):
    needs_compiled()
    size = tuple(
        max(s, (k - 1) * d + 1 - 2 * p) for s, k, d, p in zip(size, kernel, dilation, padding)
    )
    g = _geometry(batch, channels, size, 3, kernel, stride, padding, dilation)
    gcol = np.random.default_rng(0).standard_normal((1, batch * g.positions, g.taps * channels))
    ours = _im2col.col2im(gcol, g, batch, channels)
    with compiled.disabled():
        reference = _im2col.col2im(gcol, g, batch, channels)
    np.testing.assert_array_equal(ours, reference)


def test_strided_input_gradient_runs_the_kernel_and_matches_torch(torch_or_skip, monkeypatch):
    """A 3×3 stride-2 layer of 16 → 32 channels: its input gradient is col2im(gY @ W)."""
    needs_compiled()
    torch = torch_or_skip
    calls = []
    kernel = _im2col_kernels.col2im
    monkeypatch.setattr(
        _im2col_kernels, "col2im", lambda *args: calls.append(args[1]) or kernel(*args)
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 16, 15, 15)).astype(np.float32)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    gy = rng.standard_normal((4, 32, 8, 8)).astype(np.float32)
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    soma.nn.functional.conv2d(xs, soma.tensor(w), stride=2, padding=1).backward(soma.tensor(gy))
    torch.nn.functional.conv2d(xt, torch.tensor(w), stride=2, padding=1).backward(torch.tensor(gy))
    assert len(calls) == 1 and calls[0].stride == (2, 2)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_strided_input_gradient_gradcheck_float64(monkeypatch):
    """Finite differences through a strided, dilated layer wide enough (16 channels) for the
    channels-last columns."""
    from soma.testing import gradcheck

    calls = []
    kernel = _im2col_kernels.col2im
    monkeypatch.setattr(
        _im2col_kernels, "col2im", lambda *args: calls.append(args[1]) or kernel(*args)
    )
    rng = np.random.default_rng(2)
    x = soma.tensor(rng.standard_normal((2, 16, 7, 6)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((5, 16, 3, 3)), requires_grad=True)
    assert gradcheck(
        lambda x, w: soma.nn.functional.conv2d(x, w, stride=2, padding=1, dilation=(1, 2)), (x, w)
    )
    assert bool(calls) == compiled.enabled()  # the analytical gradient went through the kernel
