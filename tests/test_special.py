"""``soma.backend.special``: erf, the normal CDF and log1p against the standard library."""

import math
import warnings

import numpy as np
import pytest

from soma.backend import special


def _grid():
    dense = np.linspace(-7, 7, 140001)
    tiny = np.geomspace(1e-300, 1e-2, 3000)
    tails = np.geomspace(1e-2, 1e4, 6000)
    edges = np.array(
        [0.46875, 4.0, 27.0, 5.9, 6.0, 1e300, np.nextafter(0.46875, 1), np.nextafter(4, 5)]
    )
    points = np.concatenate([dense, tiny, tails, edges])
    return np.concatenate([points, -points, [0.0, -0.0]])


def test_erf_float64_matches_math_erf_to_a_few_ulp():
    x = _grid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = special.erf(x)
    exact = np.array([math.erf(v) for v in x])
    relative = np.abs(ours - exact) / np.maximum(np.abs(exact), 1e-300)
    assert relative.max() < 1e-15, f"worst at x={x[relative.argmax()]!r}: {relative.max():.3g}"
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(x))  # odd, signed zero kept


def test_erf_float32_is_within_a_few_ulp():
    x = _grid()
    x = x[np.abs(x) < 1e30].astype(np.float32)
    ours = special.erf(x)
    assert ours.dtype == np.float32
    exact = np.array([math.erf(float(v)) for v in x])
    relative = np.abs(ours - exact) / np.maximum(np.abs(exact), 1e-38)
    assert relative.max() < 4e-7


def test_erf_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = special.erf(x)
    np.testing.assert_array_equal(ours[[0, 1, 3]], [1.0, -1.0, 0.0])
    assert np.isnan(ours[2])


@pytest.mark.parametrize("dtype,bound", [(np.float64, 2e-16), (np.float32, 1.2e-7)])
def test_normal_cdf_absolute_error(dtype, bound):
    x = np.linspace(-40, 40, 80001).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = special.normal_cdf(x).astype(np.float64)
    exact = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    assert np.abs(ours - exact).max() < bound
    assert special.normal_cdf(x).dtype == dtype


def test_normal_cdf_float32_keeps_relative_accuracy_in_the_left_tail():
    x = np.linspace(-13, -3, 10001).astype(np.float32)
    ours = special.normal_cdf(x).astype(np.float64)
    exact = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    keep = exact > 1e-37  # float32 normal numbers
    assert (np.abs(ours - exact)[keep] / exact[keep]).max() < 2e-5
    infinities = np.array([-np.inf, np.inf], np.float32)
    np.testing.assert_array_equal(special.normal_cdf(infinities), [0, 1])


@pytest.mark.parametrize("dtype,bound", [(np.float64, 1e-15), (np.float32, 4e-7)])
def test_log1p_matches_math_log1p_relatively(dtype, bound):
    x = np.concatenate(
        [
            np.geomspace(1e-300 if dtype == np.float64 else 1e-37, 1e3, 200001),
            -np.geomspace(1e-300 if dtype == np.float64 else 1e-37, 1, 100001)[:-1],
            np.linspace(-0.99, 3, 10001),
        ]
    ).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = special.log1p(x)
    assert ours.dtype == dtype
    exact = np.array([math.log1p(float(v)) for v in x])
    assert (np.abs(ours - exact) / np.abs(exact)).max() < bound


def test_log1p_edges():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = special.log1p(np.array([-1.0, 0.0, -0.0, np.nan]))
    assert ours[0] == -np.inf and ours[1] == 0 and np.isnan(ours[3])


def test_half_precision_computes_in_float32():
    x = np.linspace(-6, 6, 101).astype(np.float16)
    expected = special.erf(x.astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(special.erf(x), expected)
    assert special.normal_cdf(x).dtype == np.float16
    assert np.isfinite(special.normal_cdf(x)).all()
