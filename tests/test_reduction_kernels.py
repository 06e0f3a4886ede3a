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
