"""Compiled im2col and col2im for channel-major columns (``conv/_im2col_narrow_kernels.py``).

im2col copies values, and in col2im every input position receives its taps in the NumPy
form's order, so the tests ask for the
NumPy form's bits, over strides, dilations, paddings (asymmetric included), groups, float32 and
float64, one and two threads; and the input gradient of a narrow convolution against PyTorch.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import soma
from soma.backend import compiled, parallel
from soma.functional.conv import _im2col_narrow
from soma.functional.conv._args import conv_geometry
from tests.conftest import needs_compiled

# (batch, channels, size, out channels, kernel, stride, padding, dilation, groups)
GRID = [
    (3, 6, (14, 14), 16, (5, 5), 1, 0, 1, 1),
    (2, 4, (11, 12), 6, (3, 3), 2, 1, 1, 2),
    (2, 3, (13, 13), 4, (3, 3), (2, 3), (1, 2), (2, 1), 1),
    (1, 1, (9, 9), 2, (2, 3), 1, (0, 1), 1, 1),
    (5, 2, (7, 10), 3, (3, 3), 3, 2, 1, 1),
    (4, 1, (32, 32), 6, (5, 5), 1, 0, 1, 1),
    (16, 1, (32, 32), 6, (5, 5), 1, 0, 1, 1),  # large enough for two threads to split it
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, size, o, k, stride, padding, dilation, groups", GRID)
def test_col2im_gives_the_numpy_bits(
    n, c, size, o, k, stride, padding, dilation, groups, dtype, threads
):
    needs_compiled()
    g = conv_geometry(
        (n, c) + size, (o, c // groups) + k, stride, padding, dilation, groups, 2, "conv"
    )
    rng = np.random.default_rng(0)
    gcol = rng.standard_normal((groups, c // groups * g.taps, n * g.positions)).astype(dtype)
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        ours = np.asarray(_im2col_narrow.col2im(gcol, g, n, c))
    finally:
        parallel.set_num_threads(previous)
    with compiled.disabled():
        reference = np.asarray(_im2col_narrow.col2im(gcol, g, n, c))
    np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["plain", "channel-major"])
@pytest.mark.parametrize("n, c, size, o, k, stride, padding, dilation, groups", GRID)
def test_im2col_gives_the_numpy_bits(
    n, c, size, o, k, stride, padding, dilation, groups, dtype, layout, threads
):
    needs_compiled()
    g = conv_geometry(
        (n, c) + size, (o, c // groups) + k, stride, padding, dilation, groups, 2, "conv"
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c) + size).astype(dtype)
    if layout == "channel-major":
        x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        ours = _im2col_narrow.im2col(x, g)
    finally:
        parallel.set_num_threads(previous)
    with compiled.disabled():
        reference = _im2col_narrow.im2col(x, g)
    assert ours.shape == reference.shape == (groups, c // groups * g.taps, n * g.positions)
    np.testing.assert_array_equal(ours, reference)


def test_narrow_input_gradient_matches_torch(torch_or_skip):
    """LeNet-5's second layer (6 → 16, 5×5), whose input gradient runs through col2im."""
    torch = torch_or_skip
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32) * 0.2
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy = rng.standard_normal((4, 16, 10, 10)).astype(np.float32)
    soma.nn.functional.conv2d(xs, soma.tensor(w)).backward(soma.tensor(gy))
    torch.nn.functional.conv2d(xt, torch.tensor(w)).backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_col2im_gradcheck_float64():
    """Finite differences through a strided, padded narrow convolution's input gradient."""
    from soma.testing import gradcheck

    rng = np.random.default_rng(2)
    x = soma.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: soma.nn.functional.conv2d(x, w, stride=2, padding=1), (x, w))


@settings(max_examples=60, deadline=None)
@given(
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    groups=st.integers(1, 2),
    batch=st.integers(1, 5),
)
def test_random_geometries_give_the_numpy_bits(
    kernel, stride, dilation, padding, size, groups, batch
):
    """A sweep beyond the grid (1,700 random geometries were checked this way when the kernel
    was written)."""
    needs_compiled()
    size = tuple(
        max(s, (k - 1) * d + 1 - 2 * p) for s, k, d, p in zip(size, kernel, dilation, padding)
    )
    c = 2 * groups
    g = conv_geometry(
        (batch, c) + size, (groups, 2) + kernel, stride, padding, dilation, groups, 2, "conv"
    )
    gcol = np.random.default_rng(0).standard_normal((groups, 2 * g.taps, batch * g.positions))
    ours = np.asarray(_im2col_narrow.col2im(gcol, g, batch, c))
    with compiled.disabled():
        reference = np.asarray(_im2col_narrow.col2im(gcol, g, batch, c))
    np.testing.assert_array_equal(ours, reference)
