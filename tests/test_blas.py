"""NumPy's BLAS called from compiled kernels (``backend/blas.py``): the same product, the
same bits as ``np.matmul``, for rows sliced out of larger arrays."""

import numpy as np
import pytest

from soma.backend import blas, compiled


@compiled.kernel
def _products_by_runs(gemm, run, a, b, c):
    """c = a @ b, ``run`` rows of a at a time (as the recurrent kernels call it)."""
    for r in range(0, a.shape[0], run):
        stop = min(r + run, a.shape[0])
        blas.gemm(gemm, a[r:stop], b, c[r:stop])


def _operands(dtype, m=37, k=53, n=29):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m + 3, k + 5)).astype(dtype)[1 : m + 1, 2 : k + 2]  # strided rows
    b = rng.standard_normal((k, n + 7)).astype(dtype)[:, :n]
    c = np.full((m, n + 4), np.nan, dtype)
    return a, b, c


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("run", [1, 4, 37])
def test_compiled_gemm_gives_matmuls_bits(dtype, run):
    if not compiled.installed() or not compiled.enabled():
        pytest.skip("needs Numba (soma[fast]), kernels on")
    address = blas.gemm_address(dtype)
    if not address:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS")
    a, b, c = _operands(dtype)
    _products_by_runs(address, run, a, b, c[:, :29])
    for r in range(0, len(a), run):  # NOTE: NumPy multiplies one row as a vector (gemv)
        if len(a[r : r + run]) > 1:
            np.testing.assert_array_equal(c[r : r + run, :29], np.matmul(a[r : r + run], b))
    np.testing.assert_allclose(c[:, :29], a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert np.isnan(c[:, 29:]).all()  # nothing written past the product's columns


def test_python_form_is_numpys_product():
    a, b, c = _operands(np.float32)
    _products_by_runs.python(0, 5, a, b, c[:, :29])
    # NOTE: against the exact product, not the whole product's float32 bits: products of 5 rows
    # and of 37 may take different kernels and sum in another order (OpenBLAS's "haswell"
    # kernels differ by 4e-6 on a sum of 53 terms of magnitude up to 10)
    np.testing.assert_allclose(c[:, :29], a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_address_is_zero_for_other_dtypes():
    assert blas.gemm_address(np.float16) == 0
    assert blas.gemm_address(np.int64) == 0


def test_a_single_rows_stride_is_not_trusted():
    """A (1, k) operand may carry any row stride (here 0, a broadcast row); BLAS refuses a
    leading dimension below the row's length, so the compiled call must not pass it on."""
    if not compiled.installed() or not compiled.enabled():
        pytest.skip("needs Numba (soma[fast]), kernels on")
    address = blas.gemm_address(np.float32)
    if not address:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS")
    rng = np.random.default_rng(3)
    row = rng.standard_normal(16).astype(np.float32)
    a = np.lib.stride_tricks.as_strided(row, shape=(1, 16), strides=(0, 4))
    b = rng.standard_normal((16, 8)).astype(np.float32)
    c = np.full((1, 8), np.nan, np.float32)
    _products_by_runs(address, 1, a, b, c)
    np.testing.assert_allclose(c, row[None] @ b, rtol=1e-5, atol=1e-6)


def test_core_name_is_openblas_own_and_decides_small_products(monkeypatch):
    """``core_name`` reads OpenBLAS's choice of kernels; ``small_products_unpacked`` is true for
    the kernel sets with small-matrix kernels only (the LSTM's row runs depend on it)."""
    if blas.library() is None:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS")
    name = blas.core_name()
    assert name and name == name.lower() and name != "unknown"
    assert blas.small_products_unpacked() == (name in {"skylakex", "cooperlake", "sapphirerapids"})
    monkeypatch.setattr(blas, "core_name", lambda: "haswell")
    assert not blas.small_products_unpacked()
    monkeypatch.setattr(blas, "core_name", lambda: "cooperlake")
    assert blas.small_products_unpacked()
