"""The compiled float32 sum of every element (``functional/_reduction_kernels.py``) against
float64 sums and the NumPy path of ``soma.sum``/``soma.mean``."""

import numpy as np
import pytest

import soma
from soma.backend import compiled
from soma.functional import _reduction_kernels
from tests.conftest import needs_compiled

# Sums are held to within ROUNDOFFS · u · Σ|x| of the exact sum (u = 2^-24, float32's unit
# roundoff): the scale of the a-priori error bound of a float32 sum in any order, with a margin
# over the worst seen (2.6 on rows of 9 values, 2.0 on rows of 1,000, 0.4 on whole arrays of
# 8,192+; a running float32 sum: 15-26 on rows of 512+).
U32 = 2.0**-24
ROUNDOFFS = 4


@pytest.mark.parametrize("size", [8192, 8193, 128_000, 1_000_003])
@pytest.mark.parametrize("offset", [0.0, 2.0])
def test_the_total_is_within_a_few_roundoffs_of_the_exact_sum(size, offset):
    """Error against the float64 sum of the same float32 values, on the problem's own scale
    u·Σ|x|: within ``ROUNDOFFS`` of it before the one rounding, and within that plus half an ulp
    of the result after.

    Not a comparison with NumPy's float32 sum, value by value: both add in an order that
    depends on the CPU's vector width (AVX2 or AVX-512), so on a sum that cancels either can
    come out a few ulps closer (seen on Zen 4: ours 4 ulps off, NumPy's 1, on one array; over
    40 arrays ours 2.1 ulps on average against NumPy's 2.8). Measured worst here: 0.41 u·Σ|x|.
    """
    needs_compiled()
    x = (np.random.default_rng(size).standard_normal(size) + offset).astype(np.float32)
    exact = x.astype(np.float64).sum()
    scale = ROUNDOFFS * U32 * np.abs(x).astype(np.float64).sum()
    ours = _reduction_kernels.total(x)
    assert abs(ours - exact) <= scale
    half_ulp = float(np.spacing(np.float32(abs(exact)))) / 2
    assert abs(float(np.float32(ours)) - exact) <= scale + half_ulp


def test_the_total_reads_any_dense_layout_and_refuses_the_rest():
    needs_compiled()
    x = np.random.default_rng(0).standard_normal((16, 32, 40)).astype(np.float32)
    channels_last = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0)
    in_memory_order = np.moveaxis(channels_last, 0, -1).reshape(-1)  # the order it is added in
    assert _reduction_kernels.total(channels_last) == _reduction_kernels.total(in_memory_order)
    np.testing.assert_allclose(_reduction_kernels.total(channels_last), x.sum(), rtol=1e-5)
    assert _reduction_kernels.total(x[:, :, ::2]) is None  # gaps in memory: NumPy's sum
    assert _reduction_kernels.total(x.astype(np.float64)) is None
    assert _reduction_kernels.total(x[:2]) is None  # 2,560 values: below SMALL


def test_soma_sum_and_mean_use_it_and_keep_numpys_shapes_and_dtype():
    needs_compiled()
    a = np.random.default_rng(1).standard_normal((1000, 128)).astype(np.float32)
    x = soma.tensor(a, requires_grad=True)
    total = x.sum()
    assert total.dtype == soma.float32 and total.shape == ()
    assert total.item() == np.float32(_reduction_kernels.total(a))
    assert x.sum(dim=(0, 1), keepdim=True).shape == (1, 1)
    mean = x.mean()
    assert mean.item() == np.float32(_reduction_kernels.total(a) / a.size)
    with compiled.disabled():
        np.testing.assert_allclose(x.sum().item(), total.item(), rtol=1e-6)
        np.testing.assert_allclose(x.mean().item(), mean.item(), rtol=1e-6, atol=1e-9)
    (total + mean).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(a.shape, 1 + 1 / a.size, np.float32))


def test_sums_over_some_axes_and_other_dtypes_stay_numpy():
    x = soma.tensor(np.arange(20000, dtype=np.float32).reshape(100, 200))
    np.testing.assert_array_equal(x.sum(dim=0).numpy(), x.numpy().sum(axis=0))
    assert x.sum(dtype=soma.float64).item() == x.numpy().astype(np.float64).sum()


def test_non_finite_values():
    """NaN anywhere gives NaN, one inf gives inf, inf and −inf give NaN."""
    needs_compiled()
    x = np.ones(20000, np.float32)
    x[7] = np.nan
    assert np.isnan(_reduction_kernels.total(x))
    x[7] = np.inf
    assert _reduction_kernels.total(x) == np.inf
    x[19000] = -np.inf
    assert np.isnan(_reduction_kernels.total(x))


def test_a_total_beyond_float32_is_inf_without_a_warning():
    """10,000 values of 3e35 sum to 3e39: inf in float32, as PyTorch returns it (its float32
    sum overflows too), and no NumPy overflow warning on the way."""
    needs_compiled()
    import warnings

    x = soma.tensor(np.full(10000, 3e35, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.sum().item() == np.inf
        assert (-x).sum().item() == -np.inf
        assert x.mean().item() == np.float32(3e35)


@pytest.mark.parametrize("length", [784, 512, 1000, 9])
def test_plane_sums_are_each_rows_sum_within_a_few_roundoffs(length):
    """Each row summed in float32 blocks of ``BLOCK`` (the last short one too), the blocks in
    float64: every row within ``ROUNDOFFS`` · u · Σ|row| of its exact sum before rounding, and
    within that plus half an ulp after (the bound of the test above, and why not NumPy's)."""
    needs_compiled()
    rows = max(2, 2 * _reduction_kernels.SMALL // length)
    x = (np.random.default_rng(length).standard_normal((rows, length)) + 1.5).astype(np.float32)
    ours = _reduction_kernels.plane_sums(x)
    exact = x.astype(np.float64).sum(axis=1)
    assert ours.dtype == np.float64 and ours.shape == (rows,)
    scale = ROUNDOFFS * U32 * np.abs(x).astype(np.float64).sum(axis=1)
    assert np.all(np.abs(ours - exact) <= scale)
    half_ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64) / 2
    assert np.all(np.abs(ours.astype(np.float32) - exact) <= scale + half_ulp)


def test_plane_sums_refuse_what_they_do_not_read():
    needs_compiled()
    x = np.ones((64, 784), np.float32)
    assert _reduction_kernels.plane_sums(x.astype(np.float64)) is None
    assert _reduction_kernels.plane_sums(x[:, ::2]) is None  # gaps: not C-ordered
    assert _reduction_kernels.plane_sums(np.asfortranarray(x)) is None
    assert _reduction_kernels.plane_sums(x[:4]) is None  # below SMALL
    np.testing.assert_array_equal(_reduction_kernels.plane_sums(x), np.full(64, 784.0))


def test_plane_sums_do_not_depend_on_the_threads():
    needs_compiled()
    from soma.backend import parallel

    x = np.random.default_rng(1).standard_normal((301, 784)).astype(np.float32)
    previous = parallel._num_threads
    try:
        soma.set_num_threads(1)
        one = _reduction_kernels.plane_sums(x)
        soma.set_num_threads(2)
        two = _reduction_kernels.plane_sums(x)
    finally:
        parallel._num_threads = previous
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("shape", [(64, 32, 28, 28), (3, 5, 70, 70), (2, 8, 3, 5)])
def test_global_average_pooling_of_nchw_planes_against_numpy_and_exact_means(shape, monkeypatch):
    """adaptive_avg_pool2d(x, 1) on NCHW float32: the compiled path (planes of SMALL values
    and more in all) against the NumPy path and the float64 mean; the gradient unchanged."""
    x = (np.random.default_rng(2).standard_normal(shape) + 3).astype(np.float32)
    summed = []
    plane_sums = _reduction_kernels.plane_sums

    def spy(planes):
        sums = plane_sums(planes)
        if sums is not None:
            summed.append(planes.shape)
        return sums

    monkeypatch.setattr(_reduction_kernels, "plane_sums", spy)
    results = []
    for fast in (True, False):
        t = soma.tensor(x, requires_grad=True)
        with compiled.disabled() if not fast else _nothing():
            y = soma.nn.functional.adaptive_avg_pool2d(t, 1)
            y.sum().backward()
        assert y.shape == shape[:2] + (1, 1) and y.dtype == soma.float32
        results.append((y.detach().numpy(), t.grad.numpy()))
    if compiled.enabled():  # the compiled sums ran in the first pass, from SMALL values up
        planes = (shape[0] * shape[1], shape[2] * shape[3])
        assert summed == ([planes] if x.size >= _reduction_kernels.SMALL else [])
    exact = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(results[0][0], exact, rtol=2e-7, atol=0)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(
        results[0][1], np.full(shape, 1 / (shape[2] * shape[3]), np.float32)
    )


def _nothing():
    import contextlib

    return contextlib.nullcontext()
