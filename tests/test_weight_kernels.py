"""Compiled im2col weight matrix (``conv/_weight_kernels.py``): a copy, so the NumPy form's
bits, over kernel sizes and ranks, float32 and float64, one and two threads; where it stays
off (small, grouped, non-contiguous or float16 kernels); and a convolution through it against
PyTorch."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.backend import compiled, parallel
from soma.functional.conv import _im2col, _weight_kernels
from tests.conftest import needs_compiled


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape",
    [(256, 256, 3, 3), (512, 128, 1, 3), (64, 128, 5, 5), (96, 40, 2, 3, 4), (300, 250, 3)],
)
def test_matrix_gives_the_numpy_bits(shape, dtype, threads):
    needs_compiled()
    w = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert _weight_kernels.applies(w)
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        ours = _im2col._weight_matrix(w, 1)
    finally:
        parallel.set_num_threads(previous)
    with compiled.disabled():
        reference = _im2col._weight_matrix(w, 1)
    assert ours.shape == reference.shape == (1, shape[0], int(np.prod(shape[1:])))
    assert ours.dtype == dtype and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, reference)
    # taps outer, channels inner: entry (o, t·C + c) is w[o, c, t]
    flat = w.reshape(shape[0], shape[1], -1)
    assert ours[0, 3, 2 * shape[1] + 5] == flat[3, 5, 2]


def test_stays_off_where_numpy_is_as_fast_or_it_cannot_run():
    w = np.zeros((64, 64, 3, 3), np.float32)
    assert w.size < _weight_kernels.MIN_SIZE and not _weight_kernels.applies(w)
    big = np.zeros((256, 256, 3, 3), np.float32)
    assert not _weight_kernels.applies(big.astype(np.float16))
    assert not _weight_kernels.applies(big.transpose(1, 0, 2, 3))
    assert not _weight_kernels.applies(big[:, ::2])


def test_strided_kernel_takes_the_numpy_form():
    """A non-contiguous kernel (a view) gives the same matrix through NumPy."""
    w = np.random.default_rng(1).standard_normal((512, 256, 3, 3)).astype(np.float32)
    view = w[:, ::2]
    np.testing.assert_array_equal(
        _im2col._weight_matrix(view, 1), _im2col._weight_matrix(np.ascontiguousarray(view), 1)
    )


def test_strided_convolution_through_it_matches_torch(torch_or_skip):
    """ResNet-18's 256→512 stride-2 layer in small (batch 2): im2col reads the compiled matrix."""
    torch = torch_or_skip
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 256, 8, 8)).astype(np.float32)
    w = (rng.standard_normal((512, 256, 3, 3)) * 0.05).astype(np.float32)
    xs, ws = soma.tensor(x, requires_grad=True), soma.tensor(w, requires_grad=True)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    ys = F.conv2d(xs, ws, stride=2, padding=1)
    yt = torch.nn.functional.conv2d(xt, wt, stride=2, padding=1)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    ys.backward(soma.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-4)
