"""``column_sums``: the bias gradient's sum over rows as one BLAS matrix-vector product."""

import numpy as np
import pytest

import soma
from soma.functional.linalg import column_sums


def test_float32_column_sums_match_a_float64_reference():
    a = np.random.default_rng(0).standard_normal((1000, 128)).astype(np.float32)
    ours = column_sums(a)
    assert ours.dtype == np.float32 and ours.shape == (128,)
    exact = a.astype(np.float64).sum(axis=0)
    # a running float32 sum over 1000 rows: error well under 1000 · 2⁻²⁴ of the sum of |a|
    assert np.all(np.abs(ours - exact) <= 1e-5 * np.abs(a).astype(np.float64).sum(axis=0))


def test_integers_sum_exactly_in_float64():
    a = np.arange(60, dtype=np.float64).reshape(12, 5)
    assert np.array_equal(column_sums(a), a.sum(axis=0))


@pytest.mark.parametrize(
    "a",
    [
        np.arange(12, dtype=np.float16).reshape(4, 3),  # no BLAS for float16
        np.arange(12, dtype=np.int64).reshape(4, 3),
        np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2],  # not C-contiguous
        np.arange(3, dtype=np.float32).reshape(1, 3),
        np.zeros((0, 3), dtype=np.float32),
    ],
    ids=["float16", "int64", "strided", "one_row", "no_rows"],
)
def test_other_arrays_take_numpys_sum(a):
    ours = column_sums(a)
    assert ours.dtype == a.sum(axis=0).dtype
    assert np.array_equal(ours, a.sum(axis=0))


def test_linear_bias_gradient_is_the_column_sum():
    x = soma.randn(1000, 16)
    layer = soma.nn.Linear(16, 64)
    gy = np.random.default_rng(1).standard_normal((1000, 64)).astype(np.float32)
    layer(x).backward(soma.tensor(gy))
    exact = gy.astype(np.float64).sum(axis=0)
    assert np.allclose(layer.bias.grad.numpy(), exact, rtol=1e-5, atol=1e-4)
