"""The compiled-kernel switch (``soma.backend.compiled``): when kernels run and how to stop them."""

import os
import subprocess
import sys

import numpy as np
import pytest

from soma.backend import compiled, register_backend, use_backend


@compiled.kernel
def _axpy(a, x, y, out):
    """out = a·x + y over flat arrays."""
    for i in range(x.size):
        out[i] = a * x[i] + y[i]


def test_the_python_form_of_a_kernel_runs_without_numba():
    x, y = np.arange(4.0), np.ones(4)
    out = np.empty(4)
    _axpy.python(2.0, x, y, out)
    np.testing.assert_array_equal(out, [1.0, 3.0, 5.0, 7.0])


def test_a_kernel_compiles_at_its_first_call_and_agrees_with_its_python_form():
    pytest.importorskip("numba")
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    y = np.full(7, 0.25, dtype=np.float32)
    out, expected = np.empty_like(x), np.empty_like(x)
    _axpy(np.float32(3.0), x, y, out=out)
    _axpy.python(np.float32(3.0), x, y, expected)
    np.testing.assert_array_equal(out, expected)
    assert "(compiled)" in repr(_axpy)


@compiled.helper(exact=True)
def _exact_multiply_add(a, b, c):
    return a * b + c


@compiled.kernel
def _call_exact_helper(a, b, c, out):
    for i in range(a.size):
        out[i] = _exact_multiply_add(a[i], b[i], c[i])


def test_an_exact_helper_rounds_its_product_before_the_sum():
    """(1 + 2⁻¹²)² = 1 + 2⁻¹¹ + 2⁻²⁴ rounds to 1 + 2⁻¹¹ in float32 (a tie, to even), so with
    c = −(1 + 2⁻¹¹) the product rounded on its own gives exactly 0, as NumPy does; a fused
    multiply-add would keep the 2⁻²⁴."""
    pytest.importorskip("numba")
    a = np.full(1, 1 + 2.0**-12, dtype=np.float32)
    c = np.full(1, -(1 + 2.0**-11), dtype=np.float32)
    assert a * a + c == 0  # NumPy's rounding
    out = np.empty(1, dtype=np.float32)
    _call_exact_helper(a, a, c, out)
    assert out[0] == 0.0


def test_disabled_turns_the_kernels_off_inside_the_block_only():
    before = compiled.enabled()
    # on by default where Numba is installed (unless this run was started with SOMA_FAST=0)
    assert before == (compiled.installed() and os.environ.get("SOMA_FAST", "1") != "0")
    with compiled.disabled():
        assert not compiled.enabled()
    assert compiled.enabled() == before


def test_kernels_are_off_on_a_backend_other_than_numpy():
    register_backend("numpy-under-another-name", np, np.ndarray)
    with use_backend("numpy-under-another-name"):
        assert not compiled.enabled()


def test_soma_fast_0_in_the_environment_turns_them_off():
    code = "from soma.backend import compiled; print(compiled.enabled())"
    env = dict(os.environ, SOMA_FAST="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_import_soma_does_not_import_numba():
    code = "import sys, soma; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


_HELPER = """
from soma.backend import compiled


@compiled.helper
def shift(v):
    return v + {amount}
"""

_KERNEL = """
import numpy as np
from soma.backend import compiled
import helpers


@compiled.kernel
def add_shift(x, out):
    for i in range(x.size):
        out[i] = helpers.shift(x[i])


out = np.empty(1)
add_shift(np.zeros(1), out)
print(out[0])
"""


def test_an_edited_helper_recompiles_the_cached_kernels_that_call_it(tmp_path):
    """Numba's disk cache watches a kernel's own file only; a kernel's cache entry also records
    the helpers' files, so a changed helper in another file is not served stale from the cache."""
    pytest.importorskip("numba")
    (tmp_path / "kernels.py").write_text(_KERNEL)
    helper_file = tmp_path / "helpers.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    seen = []
    for amount, mtime in ((1, 1_000_000_000), (2, 1_000_000_100)):
        helper_file.write_text(_HELPER.format(amount=amount))
        os.utime(helper_file, (mtime, mtime))  # NOTE: two writes within one clock tick
        run = subprocess.run(
            [sys.executable, str(tmp_path / "kernels.py")], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        seen.append(float(run.stdout))
    assert seen == [1.0, 2.0]
    assert list(tmp_path.glob("__pycache__/kernels.add_shift*.nbi"))  # it was cached


def test_a_kernel_cache_records_the_helper_files_it_depends_on():
    from soma.backend import vecmath
    from soma.functional.activation import _kernels

    files = [path for path, _, _ in compiled._dependency_stamp(_kernels.sigmoid32_forward.python)]
    assert files == [vecmath.__file__]
    assert compiled._dependency_stamp(_axpy.python) == ()
