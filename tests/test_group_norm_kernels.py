"""Compiled GroupNorm (``normalization/_group_kernels.py``): channels-last rows, and the planes
of NCHW and channel-major ((C, N, *S) memory) arrays.

Checked against the NumPy rows of ``RowNorm`` and against PyTorch (outputs and all three
gradients, float32 and float64, 1-D to 3-D spatial shapes, with and without affine
parameters), for the layout it keeps, for its independence from the thread count, and by
finite differences.
"""

import numpy as np
import pytest

import soma
from soma.backend import compiled, parallel
from soma.functional.normalization import _group_kernels
from tests.conftest import needs_compiled

# (batch, channels, spatial size, groups)
SHAPES = [(3, 32, (8, 8), 8), (2, 12, (5, 7), 3), (2, 6, (9,), 6), (2, 8, (3, 4, 2), 2)]


def _channels_last(a):
    """The values of NCHW array ``a`` in channels-last memory."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


def _is_channels_last(a):
    return np.moveaxis(a, 1, -1).flags.c_contiguous


def _channel_major(a):
    """The values of NCHW array ``a`` in (C, N, *S) memory."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


LAYOUTS = {"cl": _channels_last, "nchw": np.ascontiguousarray, "cm": _channel_major}
KEPT = {
    "cl": _is_channels_last,
    "nchw": lambda a: a.flags.c_contiguous,
    "cm": lambda a: a.swapaxes(0, 1).flags.c_contiguous,
}


def _run(x, w, b, gy, groups):
    xs = soma.from_numpy(x.copy(order="K"))
    xs.requires_grad = True
    ws = None if w is None else soma.tensor(w, requires_grad=True)
    bs = None if b is None else soma.tensor(b, requires_grad=True)
    y = soma.nn.functional.group_norm(xs, groups, ws, bs)
    y.backward(soma.from_numpy(gy.copy(order="K")))
    grads = [xs.grad.numpy()] + [t.grad.numpy() for t in (ws, bs) if t is not None]
    return [y.detach().numpy()] + grads


def _arrays(n, c, size, dtype, seed=0, layout="cl", grad_layout=None):
    rng = np.random.default_rng(seed)
    x = LAYOUTS[layout]((rng.standard_normal((n, c) + size) * 3 + 2).astype(dtype))
    gy = LAYOUTS[grad_layout or layout](rng.standard_normal((n, c) + size).astype(dtype))
    return x, rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype), gy


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, size, groups", SHAPES)
def test_matches_the_numpy_rows_and_keeps_the_layout(n, c, size, groups, dtype, affine, layout):
    needs_compiled()
    x, w, b, gy = _arrays(n, c, size, dtype, layout=layout)
    if not affine:
        w = b = None
    ours = _run(x, w, b, gy, groups)
    assert KEPT[layout](ours[0])
    with compiled.disabled():
        reference = _run(x, w, b, gy, groups)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for a, r in zip(ours, reference):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "layouts", [("cl", "cl"), ("nchw", "nchw"), ("cm", "nchw"), ("nchw", "cl")]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, size, groups", SHAPES)
def test_matches_torch(torch_or_skip, n, c, size, groups, dtype, layouts):
    """Every layout of x, and an upstream gradient in another layout than x (copied to x's)."""
    torch = torch_or_skip
    x, w, b, gy = _arrays(n, c, size, dtype, seed=1, layout=layouts[0], grad_layout=layouts[1])
    ours = _run(x, w, b, gy, groups)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.group_norm(xt, groups, wt, bt)
    yt.backward(torch.tensor(gy))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for name, a, t in zip(("y", "x", "weight", "bias"), ours, (yt, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_same_result_on_one_and_two_threads(layout):
    needs_compiled()
    x, w, b, gy = _arrays(6, 16, (5, 5), np.float32, seed=2, layout=layout)
    results = []
    previous = parallel.get_num_threads()
    try:
        for threads in (1, 2):
            parallel.set_num_threads(threads)
            with parallel_everything():
                results.append(_run(x, w, b, gy, 4))
    finally:
        parallel.set_num_threads(previous)
    for a, r in zip(*results):
        np.testing.assert_array_equal(a, r)


def parallel_everything():
    """Split every compiled pass, however small (the test's arrays are tiny)."""

    class _Scope:
        def __enter__(self):
            self.previous = parallel.set_min_elements(1)

        def __exit__(self, *exc):
            parallel.set_min_elements(self.previous)

    return _Scope()


def test_which_kernels_walk_which_layout():
    x = np.zeros((2, 8, 3, 3), np.float32)
    on = compiled.enabled()
    assert not _group_kernels.applies(x)
    assert not _group_kernels.applies(np.zeros((4, 8), np.float32))  # (N, C): no positions
    assert _group_kernels.applies(_channels_last(x)) == on
    assert _group_kernels.planes_layout(x) == ("nchw" if on else None)
    assert _group_kernels.planes_layout(_channel_major(x)) == ("cm" if on else None)
    assert _group_kernels.planes_layout(np.zeros((4, 8), np.float32)) is None
    assert _group_kernels.planes_layout(x[:, :, ::2]) is None  # gaps: the NumPy rows


def test_gradcheck_float64_channels_last():
    from soma.testing import gradcheck

    rng = np.random.default_rng(3)
    x = soma.tensor(rng.standard_normal((2, 6, 3, 4)), requires_grad=True)
    w = soma.tensor(rng.standard_normal(6), requires_grad=True)
    b = soma.tensor(rng.standard_normal(6), requires_grad=True)

    def norm(x, w, b):
        x_cl = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # channels-last memory
        assert _is_channels_last(x_cl.array)
        return soma.nn.functional.group_norm(x_cl, 3, w, b)

    assert gradcheck(norm, (x, w, b))


def test_gradcheck_float64_planes():
    from soma.testing import gradcheck

    rng = np.random.default_rng(4)
    x = soma.tensor(rng.standard_normal((2, 6, 3, 4)) + 5.0, requires_grad=True)
    w = soma.tensor(rng.standard_normal(6), requires_grad=True)
    b = soma.tensor(rng.standard_normal(6), requires_grad=True)
    assert gradcheck(lambda x, w, b: soma.nn.functional.group_norm(x, 3, w, b), (x, w, b))


@pytest.mark.parametrize("channels_last", [False, True])
def test_a_large_mean_does_not_cancel_the_variance(channels_last):
    """The kernels' one-pass statistics (float64, shifted by the group's or the channel's first
    value): values of mean 1e4 and spread 1e-2 normalise as exactly as with float64 statistics
    of the same float32 values (float32 sums, as in the NumPy rows, were off by 0.006 here)."""
    needs_compiled()
    rng = np.random.default_rng(5)
    x = (1e4 + rng.standard_normal((2, 4, 16, 16)) * 1e-2).astype(np.float32)
    x[:, 1] += 3.0  # channels of one group far apart: the per-channel shifts differ
    xs = soma.from_numpy(_channels_last(x) if channels_last else x)
    assert _group_kernels.applies(xs.array) == channels_last
    y = soma.nn.functional.group_norm(xs, 2).numpy()
    g = x.astype(np.float64).reshape(2, 2, -1)  # the exact statistics of the float32 values
    ref = (g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref.reshape(x.shape), rtol=1e-4, atol=1e-4)
