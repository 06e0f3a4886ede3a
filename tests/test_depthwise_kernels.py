"""Compiled depthwise convolution (``conv/_depthwise_kernels.py``) against the NumPy tap loop,
PyTorch and finite differences.

The forward pass adds the taps in the NumPy form's order, so it must give the NumPy values; the
gradients add in another order and must agree to rounding. The grid covers strides 1-3 (unequal
per axis), dilation, asymmetric and zero padding, channel multipliers 1-3, 1-D convolutions,
batches that are not a multiple of the kernels' image chunks, float32 and float64, channel-major
and NCHW input memory, and two threads. Non-finite values take the NumPy path's result.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import soma
from soma.backend import compiled, parallel
from soma.functional.conv import _depthwise, _depthwise_kernels
from soma.functional.conv._args import conv_geometry
from tests.conftest import needs_compiled

# (batch, channels, multiplier, spatial size, kernel, stride, padding, dilation)
GRID = [
    (2, 3, 1, (17, 16), (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 4, 1, (19, 18), (3, 3), (2, 2), (1, 1), (1, 1)),
    (2, 2, 2, (14, 15), (3, 3), (1, 1), (1, 1), (1, 1)),
    (2, 3, 3, (13, 16), (3, 2), (2, 1), (2, 0), (2, 3)),
    (2, 2, 1, (16, 17), (5, 5), (1, 3), (2, 1), (1, 1)),
    (1, 2, 1, (20, 20), (3, 3), (3, 2), (0, 0), (1, 1)),
    (9, 2, 1, (12, 12), (3, 3), (1, 1), (1, 1), (1, 1)),  # several image chunks, a partial one
    (2, 3, 1, (15, 17), (3, 3), (2, 2), (1, 0), (1, 1)),  # stride 2, an odd width: column loops
    (3, 2, 2, (9, 10), (2, 4), (2, 2), (0, 3), (1, 1)),  # stride 2, even width: pairs, left 3
    (2, 3, 1, (40,), (5,), (1,), (2,), (1,)),  # 1-D
    (3, 2, 2, (41,), (3,), (2,), (0,), (2,)),
]


def _arrays(n, c, m, size, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + size).astype(dtype)
    w = rng.standard_normal((c * m, 1) + k).astype(dtype)
    b = rng.standard_normal(c * m).astype(dtype)
    return x, w, b


def _geometry(x, w, stride, padding, dilation):
    nd = x.ndim - 2
    return conv_geometry(x.shape, w.shape, stride, padding, dilation, x.shape[1], nd, "conv")


def _channel_major(a):
    return np.ascontiguousarray(a.swapaxes(0, 1))


def _run_set(kernels, x, w, b, g, gy):
    """Forward, input gradient and weight gradient of one kernel set, as (N, C, …) arrays."""
    prepared = kernels.prepare(x, g)
    y = kernels.forward(prepared, w, b, g)
    q = kernels.prepare_grad(gy, g)
    gx = kernels.grad_input(q, w, g, x.shape[0])
    gw = kernels.grad_weight(q, prepared, g, w.shape)
    return np.asarray(y), np.asarray(gx), np.asarray(gw)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, m, size, k, stride, padding, dilation", GRID)
def test_compiled_matches_the_numpy_tap_loop(
    n, c, m, size, k, stride, padding, dilation, dtype, threads
):
    needs_compiled()
    x, w, b = _arrays(n, c, m, size, k, dtype)
    g = _geometry(x, w, stride, padding, dilation)
    gy = np.random.default_rng(1).standard_normal((n, c * m) + g.out_size).astype(dtype)
    previous = parallel.get_num_threads()
    parallel.set_num_threads(threads)
    try:
        ours = _run_set(_depthwise_kernels.Compiled, x, w, b, g, gy)
    finally:
        parallel.set_num_threads(previous)
    reference = _run_set(_depthwise.Taps, x, w, b, g, gy)
    np.testing.assert_array_equal(ours[0], reference[0])  # same additions, same order
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, a, r in zip(("input gradient", "weight gradient"), ours[1:], reference[1:]):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol, err_msg=name)


def test_compiled_reads_any_input_layout():
    """An NCHW or channels-last input is copied channel-major first; same values."""
    needs_compiled()
    x, w, b = _arrays(3, 4, 1, (12, 11), (3, 3), np.float32)
    g = _geometry(x, w, (1, 1), (1, 1), (1, 1))
    cm = _channel_major(x).swapaxes(0, 1)
    cl = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    results = []
    for a in (x, cm, cl):
        prepared = _depthwise_kernels.Compiled.prepare(a, g)
        results.append(np.asarray(_depthwise_kernels.Compiled.forward(prepared, w, b, g)))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, m, size, k, stride, padding, dilation", GRID[:7])
def test_depthwise_conv2d_matches_torch(
    torch_or_skip, n, c, m, size, k, stride, padding, dilation, dtype
):
    torch = torch_or_skip
    x, w, b = _arrays(n, c, m, size, k, dtype, seed=3)
    xs, ws, bs = (soma.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ys = soma.nn.functional.conv2d(xs, ws, bs, stride, padding, dilation, c)
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation, c)
    gy = np.random.default_rng(4).standard_normal(tuple(yt.shape)).astype(dtype)
    ys.backward(soma.tensor(gy))
    yt.backward(torch.tensor(gy))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for name, a, t in [
        ("output", ys.detach(), yt.detach()),
        ("input gradient", xs.grad, xt.grad),
        ("weight gradient", ws.grad, wt.grad),
        ("bias gradient", bs.grad, bt.grad),
    ]:
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_depthwise_gradcheck_float64(stride, dilation):
    """Finite differences through the compiled path (16×16 planes: not the dense path)."""
    from soma.testing import gradcheck

    g = _geometry(np.empty((1, 2, 16, 16)), np.empty((4, 1, 3, 3)), stride, 1, dilation)
    assert not _depthwise.use_dense(g) and not _depthwise_kernels.dense_is_faster(g)
    rng = np.random.default_rng(5)
    x = soma.tensor(rng.standard_normal((2, 2, 16, 16)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((4, 1, 3, 3)), requires_grad=True)
    b = soma.tensor(rng.standard_normal(4), requires_grad=True)

    def conv(x, w, b):
        return soma.nn.functional.conv2d(x, w, b, stride, 1, dilation, groups=2)

    assert gradcheck(conv, (x, w, b))


def test_non_finite_values_give_the_numpy_results():
    """The wide rows' unused columns hold real input values: with an inf in the input the
    weight gradient must not pick up inf · 0 = NaN from them, and an inf weight (whose products
    with the padding are NaN in the tap loop) takes the tap loop."""
    needs_compiled()
    x, w, b = _arrays(2, 3, 1, (16, 16), (3, 3), np.float64)
    x[0, 1, 5, 0] = np.inf  # first column: read by the previous row's unused columns
    x[1, 2, 7, 15] = -np.inf
    g = _geometry(x, w, (1, 1), (1, 1), (1, 1))
    gy = np.random.default_rng(2).standard_normal((2, 3, 16, 16))
    ours = _run_set(_depthwise_kernels.Compiled, x, w, b, g, gy)
    reference = _run_set(_depthwise.Taps, x, w, b, g, gy)
    assert np.isinf(ours[2]).any()
    for a, r in zip(ours, reference):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(r))
        finite = np.isfinite(r)
        np.testing.assert_allclose(a[finite], r[finite], rtol=1e-12, atol=1e-12)
    w[1, 0, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):  # inf · 0 in the tap loop's padding
        ours = _run_set(_depthwise_kernels.Compiled, x, w, b, g, gy)
        reference = _run_set(_depthwise.Taps, x, w, b, g, gy)
    for a, r in zip(ours[:2], reference[:2]):
        np.testing.assert_array_equal(a, r)


def test_dispatch_keeps_small_planes_dense():
    """Planes whose dense matrix is small stay on the dense products, measured faster (3×3:
    6×6 and less at stride 1, 8×8 at stride 2); with the compiled kernels 8×8 at stride 1 runs
    on them, without them on the dense products still (the NumPy tap loop is slower)."""
    from soma.functional.conv.convolution import _kernels

    w = np.empty((64, 1, 3, 3), np.float32)

    def kernels(size, stride, dtype=np.float32):
        g = _geometry(np.empty((2, 64, size, size)), w, stride, 1, 1)
        return _kernels(g, 1, 2, np.dtype(dtype))

    fast = compiled.enabled()
    assert kernels(6, 1) is _depthwise.Dense
    assert kernels(8, 2) is _depthwise.Dense
    assert kernels(8, 1) is (_depthwise_kernels.Compiled if fast else _depthwise.Dense)
    assert kernels(16, 1) is (_depthwise_kernels.Compiled if fast else _depthwise.Taps)
    assert kernels(16, 1, np.float16) is _depthwise.Taps


@st.composite
def _geometries(draw):
    """Random 1-D and 2-D depthwise geometries with at least one output position."""
    nd = draw(st.integers(1, 2))

    def ints(lo, hi):
        return tuple(draw(st.integers(lo, hi)) for _ in range(nd))

    kernel, stride, dilation, padding = ints(1, 5), ints(1, 3), ints(1, 3), ints(0, 4)
    size = tuple(
        max(s, (k - 1) * d + 1 - 2 * p)
        for s, k, d, p in zip(ints(1, 20), kernel, dilation, padding)
    )
    batch, channels, multiplier = (
        draw(st.integers(1, 9)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 2)),
    )
    return batch, channels, multiplier, size, kernel, stride, padding, dilation


@settings(max_examples=60, deadline=None)
@given(_geometries())
def test_random_geometries_match_the_tap_loop(geometry):
    """A sweep beyond the grid: every geometry gives the tap loop's values (3,000 random ones
    were checked this way when the kernels were written)."""
    needs_compiled()
    n, c, m, size, k, stride, padding, dilation = geometry
    x, w, b = _arrays(n, c, m, size, k, np.float64)
    g = _geometry(x, w, stride, padding, dilation)
    gy = np.random.default_rng(1).standard_normal((n, c * m) + g.out_size)
    ours = _run_set(_depthwise_kernels.Compiled, x, w, b, g, gy)
    reference = _run_set(_depthwise.Taps, x, w, b, g, gy)
    for a, r in zip(ours, reference):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)
