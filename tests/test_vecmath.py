"""The compiled kernels' float32 vector math (``soma.backend.vecmath``) against float64 NumPy.

Accuracy is counted in units in the last place (ulp) of the float32 result, over 2 million
random bit patterns (every exponent, both signs, subnormals, inf and NaN) plus values where
each function changes form: the polynomial's edges, overflow and underflow thresholds, ±0.
Results that are subnormal in float32 are compared in absolute terms (a few 1e-45); results
beyond float32's range must be the infinity of the right sign.
"""

import numpy as np
import pytest

from soma.backend import compiled, vecmath

pytestmark = pytest.mark.skipif(not compiled.installed(), reason="needs Numba (soma[fast])")

TINY = np.finfo(np.float32).tiny


@compiled.kernel
def _apply(which, x, out):
    """out = f(x) for f the ``which``-th function of ``NAMES``."""
    for i in range(x.size):
        v = x[i]
        if which == 0:
            out[i] = vecmath.exp(v)
        elif which == 1:
            out[i] = vecmath.expm1(v)
        elif which == 2:
            out[i] = vecmath.log(v)
        elif which == 3:
            out[i] = vecmath.tanh(v)
        else:
            out[i] = vecmath.sigmoid(v)


NAMES = ["exp", "expm1", "log", "tanh", "sigmoid"]


def _run(name, x, python=False):
    out = np.empty_like(x)
    (_apply.python if python else _apply)(NAMES.index(name), x, out)
    return out


def _sigmoid64(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


# name: (float64 reference, largest error in ulp)
FUNCTIONS = {
    "exp": (np.exp, 1.0),
    "expm1": (np.expm1, 2.0),
    "log": (np.log, 1.0),
    "tanh": (np.tanh, 2.0),
    "sigmoid": (_sigmoid64, 2.5),
}

EDGES = [0.0, -0.0, 1.0, -1.0, 1e-8, -1e-8, 1e-30, -1e-30, 1.4e-45, 0.34657, -0.34657]
EDGES += [0.625, -0.625, 0.6249999, 9.1, -9.1, 17.4, -17.4, 20.0, -20.0, 24 * 0.6931472]
EDGES += [88.72, 88.7228, 88.7229, 88.8, 89.0, -87.33, -87.34, -103.9, -104.0, -110.0]
EDGES += [np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 0.70710677, 0.70710678, 1.4142135]


def _inputs():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    normal = rng.standard_normal(500_000) * 6
    return np.concatenate([bits.view(np.float32), np.float32(EDGES), np.float32(normal)])


X = _inputs()


def _ulp_errors(got, ref):
    """|got − ref| in ulp of the float32 result, for results in float32's normal range."""
    normal = (np.abs(ref) >= TINY) & (np.abs(ref) <= np.finfo(np.float32).max)
    spacing = np.spacing(np.abs(ref[normal]).astype(np.float32)).astype(np.float64)
    return np.abs(got[normal] - ref[normal]) / spacing


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_accuracy_over_the_float32_range(name):
    reference, max_ulp = FUNCTIONS[name]
    out = _run(name, X)
    with np.errstate(all="ignore"):
        ref = reference(X.astype(np.float64))
        got = out.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{name}: NaN where")
    assert _ulp_errors(got, ref).max() <= max_ulp
    big = np.abs(ref) > np.finfo(np.float32).max
    np.testing.assert_array_equal(got[big], np.sign(ref[big]) * np.inf)
    # NOTE: σ(x) for x < −88.72 is 1/(1 + e^{−x}) with e^{−x} past float32's range: 0, where
    # the exact value is a subnormal below 3e-39
    subnormal = (np.abs(ref) < TINY) & (ref != 0)
    assert np.all(
        np.abs(got[subnormal] - ref[subnormal]) <= (3e-39 if name == "sigmoid" else 3e-45)
    )


def test_limits_and_special_values():
    x = np.float32([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-38, 200.0, -200.0])
    out = _run("exp", x)
    np.testing.assert_array_equal(out[[0, 1, 2, 3, 5, 6, 7]], [np.nan, np.inf, 0, 1, 1, np.inf, 0])
    assert abs(out[4] - np.exp(-1.0)) <= 6e-8  # the correctly rounded float32 e^-1, ±1 ulp
    out = _run("expm1", x)
    np.testing.assert_array_equal(out[1:4], [np.inf, -1, 0])
    assert out[5] == np.float32(1e-38) and out[7] == -1  # exact for tiny x; −1 far below
    out = _run("log", x)
    np.testing.assert_array_equal(out[:5], [np.nan, np.inf, np.nan, -np.inf, np.nan])
    out = _run("tanh", x)
    np.testing.assert_array_equal(out[:4], [np.nan, 1, -1, 0])
    np.testing.assert_array_equal(out[6:], [1, -1])
    out = _run("sigmoid", x)
    np.testing.assert_array_equal(out[:4], [np.nan, 1, 0, 0.5])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_python_form_gives_the_same_values(name):
    """The helpers are plain Python too (a kernel's ``.python`` form calls them)."""
    x = np.float32([-100.0, -20.0, -1.5, -0.3, 0.0, 1e-6, 0.5, 2.0, 15.0, 80.0])
    x = np.abs(x) if name == "log" else x
    fast = _run(name, x)
    with np.errstate(all="ignore"):
        slow = _run(name, x, python=True)
    # NOTE: the compiled form may fuse multiply-adds (one rounding instead of two)
    np.testing.assert_allclose(fast, slow, rtol=3e-7, atol=0)


@compiled.kernel
def _log1p_unit(x, out):
    for i in range(x.size):
        out[i] = vecmath.log1p_unit(x[i])


def test_log1p_unit_within_an_ulp_and_a_quarter_on_its_interval():
    """ln(1 + x) for 0 <= x <= 1 (softplus' ln(1 + e^{−|t|})): every exponent of that range,
    subnormals, the ends, and NaN."""
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            rng.uniform(0, 1, 1_000_000),
            10.0 ** rng.uniform(-45, 0, 200_000),
            [0.0, 1.0, 1.4e-45, TINY, 0.5, 1 - 2**-24, 2**-24],
        ]
    ).astype(np.float32)
    out = np.empty_like(x)
    _log1p_unit(x, out)
    ref = np.log1p(x.astype(np.float64))
    assert _ulp_errors(out.astype(np.float64), ref).max() <= 1.25
    subnormal = ref < TINY
    np.testing.assert_allclose(out[subnormal], ref[subnormal], rtol=0, atol=1.5e-45)
    assert out[-7] == 0.0 and out[-6] == np.float32(np.log(2.0))
    nan = np.float32([np.nan])
    _log1p_unit(nan, out[:1])
    assert np.isnan(out[0])
