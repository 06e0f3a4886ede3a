"""Shared checks of the convolution kernel tests: soma's forward and gradients against
PyTorch's, within bounds scaled to the result."""

import numpy as np

import soma


def close(ours, theirs, dtype, what, float32_atol=1e-5):
    """float64: 1e-10 relative; float32: 1e-4 relative, ``float32_atol`` of the result's scale."""
    scale = max(1.0, float(np.abs(theirs).max()))
    rtol, atol = (1e-10, 1e-10 * scale) if dtype == np.float64 else (1e-4, float32_atol * scale)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def backward_and_compare(torch, ys, yt, pairs, dtype, rng):
    """Backpropagate one random output gradient through soma's ``ys`` and PyTorch's ``yt``, then
    compare the gradients of each (soma tensor, torch tensor, name) in ``pairs``."""
    gy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(soma.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    for ours, theirs, name in pairs:
        close(ours.grad.numpy(), theirs.grad.numpy(), dtype, f"{name} gradient")
