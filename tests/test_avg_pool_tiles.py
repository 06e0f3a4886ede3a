"""Average pooling whose windows tile the input (kernel = stride, no padding): the forward adds
the first two offsets in one call and the gradient is dL/dy / k repeated along each spatial
axis. Checked exactly against sums formed in PyTorch's order (row-major offsets, one after
another) and in every layout the layers produce."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F


def _reference(x, k):
    """Window sums of a 2-D tiling, offsets added in row-major order, times 1/(k·k) as float32."""
    n, c, h, w = x.shape
    x6 = x.reshape(n, c, h // k, k, w // k, k)
    total = x6[:, :, :, 0, :, 0].copy()
    for i in range(k):
        for j in range(k):
            if (i, j) != (0, 0):
                total = total + x6[:, :, :, i, :, j]
    return total * x.dtype.type(1.0 / (k * k))


def _layout(x, name):
    if name == "channels_last":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if name == "channel_major":  # (C, N, H, W) memory, as soma's convolutions may return
        return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    return x


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "channel_major"])
@pytest.mark.parametrize("k", [2, 3])
def test_tiled_windows_equal_sums_in_order_and_repeated_gradients(layout, k):
    rng = np.random.default_rng(k)
    x_np = rng.standard_normal((3, 4, 6 * k, 5 * k)).astype(np.float32)
    x = soma.tensor(_layout(x_np, layout), requires_grad=True)
    y = F.avg_pool2d(x, k)
    np.testing.assert_array_equal(y.detach().numpy(), _reference(x_np, k))
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(soma.tensor(g))
    expected = np.repeat(np.repeat(g * np.float32(1.0 / (k * k)), k, axis=2), k, axis=3)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_one_and_three_dimensional_tiles():
    rng = np.random.default_rng(0)
    x1 = soma.tensor(rng.standard_normal((2, 3, 8)), requires_grad=True)
    F.avg_pool1d(x1, 2).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), np.full((2, 3, 8), 0.5))
    x3 = soma.tensor(rng.standard_normal((2, 3, 4, 4, 4)), requires_grad=True)
    y3 = F.avg_pool3d(x3, 2)
    expected = x3.detach().numpy().reshape(2, 3, 2, 2, 2, 2, 2, 2).mean(axis=(3, 5, 7))
    np.testing.assert_allclose(y3.detach().numpy(), expected, rtol=1e-14, atol=1e-15)
    y3.sum().backward()
    np.testing.assert_array_equal(x3.grad.numpy(), np.full((2, 3, 4, 4, 4), 0.125))


def _memory_order(a):
    return tuple(int(i) for i in np.argsort([-s for s in a.strides], kind="stable"))


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "channel_major"])
@pytest.mark.parametrize("grad_layout", ["nchw", "channel_major"])
def test_gradient_comes_back_in_the_input_layout(layout, grad_layout):
    """Whatever the layout of dL/dy, dL/dx lies in memory as x does (the layer before reads
    it beside its own arrays), with the repeated values."""
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((3, 4, 8, 6)).astype(np.float32)
    x = soma.Tensor(_layout(x_np, layout))  # NOTE: soma.Tensor keeps the memory order
    x.requires_grad = True
    seen = []
    x.register_hook(lambda grad: seen.append(grad.numpy()))
    y = F.avg_pool2d(x, 2)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(soma.Tensor(_layout(g, grad_layout)))
    (grad,) = seen
    assert _memory_order(grad) == _memory_order(x.detach().numpy())
    expected = np.repeat(np.repeat(g * np.float32(0.25), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(grad, expected)
