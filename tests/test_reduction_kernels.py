"""The compiled float32 sum of every element (``functional/_reduction_kernels.py``) against
float64 sums, NumPy's float32 sum and the NumPy path of ``soma.sum``/``soma.mean``."""

import numpy as np
import pytest

import soma
from soma.backend import compiled
from soma.functional import _reduction_kernels


def _needs_kernels():
    pytest.importorskip("numba")
    if not compiled.enabled():
        pytest.skip("compiled kernels turned off")


@pytest.mark.parametrize("size", [8192, 8193, 128_000, 1_000_003])
@pytest.mark.parametrize("offset", [0.0, 2.0])
def test_the_total_is_as_close_to_the_exact_sum_as_numpys(size, offset):
    """Error against the float64 sum of the same float32 values: the float64 total before its
    one rounding is within a few float32 ulps of the block sums' size; after rounding, no worse
    than NumPy's pairwise float32 sum by more than one ulp of the result."""
    _needs_kernels()
    x = (np.random.default_rng(size).standard_normal(size) + offset).astype(np.float32)
    exact = x.astype(np.float64).sum()
    ours = _reduction_kernels.total(x)
    assert abs(ours - exact) <= 1e-6 * np.abs(x).astype(np.float64).sum()
    ulp = float(np.spacing(np.float32(abs(exact))))
    assert abs(float(np.float32(ours)) - exact) <= abs(float(x.sum()) - exact) + ulp


def test_the_total_reads_any_dense_layout_and_refuses_the_rest():
    _needs_kernels()
    x = np.random.default_rng(0).standard_normal((16, 32, 40)).astype(np.float32)
    channels_last = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0)
    in_memory_order = np.moveaxis(channels_last, 0, -1).reshape(-1)  # the order it is added in
    assert _reduction_kernels.total(channels_last) == _reduction_kernels.total(in_memory_order)
    np.testing.assert_allclose(_reduction_kernels.total(channels_last), x.sum(), rtol=1e-5)
    assert _reduction_kernels.total(x[:, :, ::2]) is None  # gaps in memory: NumPy's sum
    assert _reduction_kernels.total(x.astype(np.float64)) is None
    assert _reduction_kernels.total(x[:2]) is None  # 2,560 values: below SMALL


def test_soma_sum_and_mean_use_it_and_keep_numpys_shapes_and_dtype():
    _needs_kernels()
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
    _needs_kernels()
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
    _needs_kernels()
    import warnings

    x = soma.tensor(np.full(10000, 3e35, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.sum().item() == np.inf
        assert (-x).sum().item() == -np.inf
        assert x.mean().item() == np.float32(3e35)


@pytest.mark.parametrize("length", [784, 512, 1000, 9])
def test_plane_sums_are_each_rows_sum_as_close_as_numpys(length):
    """Each row summed in float32 blocks of ``BLOCK`` (the last short one too), the blocks in
    float64: within a few float32 ulps of the row's size of the exact sum, and, rounded, no
    row further from it (in ulps of its sum) than NumPy's worst row plus one ulp (rows of 9
    values: ours 1.9 ulps at worst, NumPy's 2.1; of 784: 0.84 and 0.79)."""
    _needs_kernels()
    rows = max(2, 2 * _reduction_kernels.SMALL // length)
    x = (np.random.default_rng(length).standard_normal((rows, length)) + 1.5).astype(np.float32)
    ours = _reduction_kernels.plane_sums(x)
    exact = x.astype(np.float64).sum(axis=1)
    assert ours.dtype == np.float64 and ours.shape == (rows,)
    assert np.all(np.abs(ours - exact) <= 1e-6 * np.abs(x).astype(np.float64).sum(axis=1))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    ours_ulps = np.abs(ours.astype(np.float32) - exact) / ulp
    numpy_ulps = np.abs(x.sum(axis=1) - exact) / ulp
    assert ours_ulps.max() <= numpy_ulps.max() + 1


def test_plane_sums_refuse_what_they_do_not_read():
    _needs_kernels()
    x = np.ones((64, 784), np.float32)
    assert _reduction_kernels.plane_sums(x.astype(np.float64)) is None
    assert _reduction_kernels.plane_sums(x[:, ::2]) is None  # gaps: not C-ordered
    assert _reduction_kernels.plane_sums(np.asfortranarray(x)) is None
    assert _reduction_kernels.plane_sums(x[:4]) is None  # below SMALL
    np.testing.assert_array_equal(_reduction_kernels.plane_sums(x), np.full(64, 784.0))


def test_plane_sums_do_not_depend_on_the_threads():
    _needs_kernels()
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
