"""Tensors print as PyTorch prints them (``autograd/tensor_str.py``).

First hand-written expectations (no PyTorch needed), then the same values printed by both
frameworks across dtypes, magnitudes, shapes, summarisation and print options.
"""

import math

import numpy as np
import pytest

import soma


def test_fixed_point_with_four_decimals_right_aligned():
    assert repr(soma.tensor([[1.5, 2.25], [3.0, -4.0]])) == (
        "tensor([[ 1.5000,  2.2500],\n        [ 3.0000, -4.0000]])"
    )


def test_whole_floats_print_with_a_point_and_nonfinite_values_bare():
    # the width is the widest finite non-zero value's ("12."): "nan" and "-inf" are wider
    assert repr(soma.tensor([0.0, float("nan"), float("-inf"), 12.0])) == (
        "tensor([ 0., nan, -inf, 12.])"
    )
    assert repr(soma.tensor(3.0)) == "tensor(3.)"


def test_scientific_when_the_magnitudes_spread():
    # max/min > 1000, or a value below 1e-4: every element in e-notation, 4 decimals
    assert repr(soma.tensor([1e-5, 3.0])) == "tensor([1.0000e-05, 3.0000e+00])"
    assert repr(soma.tensor([1.0, 2000.0])) == "tensor([1.0000e+00, 2.0000e+03])"


def test_summary_keeps_three_edge_items_and_wraps_at_80_columns():
    text = repr(soma.arange(2000.0))
    assert text == (
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])"
    )


def test_dtype_and_autograd_suffixes():
    assert repr(soma.tensor([1, 2], dtype=soma.int8)) == "tensor([1, 2], dtype=soma.int8)"
    assert repr(soma.zeros(2, 0, dtype=soma.int32)) == "tensor([], size=(2, 0), dtype=soma.int32)"
    assert repr(soma.tensor([True, False])) == "tensor([ True, False])"
    x = soma.tensor([2.0], requires_grad=True)
    assert repr(x) == "tensor([2.], requires_grad=True)"
    assert repr(x * 3) == "tensor([6.], grad_fn=<MulBackward0>)"


def test_print_options_change_and_restore():
    x = soma.tensor([math.pi, 1.0])
    with soma.printoptions(precision=2):
        assert repr(x) == "tensor([3.14, 1.00])"
    soma.set_printoptions(sci_mode=True)
    try:
        assert repr(x) == "tensor([3.1416e+00, 1.0000e+00])"
    finally:
        soma.set_printoptions(profile="default")
    assert repr(x) == "tensor([3.1416, 1.0000])"
    with pytest.raises(ValueError, match="Invalid profile"):
        soma.set_printoptions(profile="long")


# ---------------------------------------------------------------------------- against PyTorch
torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
VALUES = {
    "normal": _rng.standard_normal((3, 5)),
    "whole": np.array([[1.0, -20.0, 300.0], [0.0, 5.0, -0.0]]),
    "whole spread": np.array([1.0, 5000.0, 2.0]),
    "huge": np.array([3e8, 1.0, -2.5]),
    "tiny": np.array([3e-5, 0.5, -0.25]),
    "nonfinite": np.array([np.nan, np.inf, -np.inf, 1.25, 0.0]),
    "only nonfinite": np.array([np.nan, -np.inf, 0.0]),
    "wide row": _rng.standard_normal(40) * 100,
    "summarised 1d": np.arange(1500) / 7.0,
    "summarised 3d": _rng.standard_normal((12, 10, 11)),
    "summarised 4d": _rng.standard_normal((2, 20, 5, 6)) * 1e-3,
    "zero d": np.array(-2.125),
    "scalar whole": np.array(7.0),
    "empty": np.zeros((0,)),
    "empty 2d": np.zeros((3, 0)),
    "column": _rng.standard_normal((4, 1)),
}
DTYPES = ["float32", "float64", "float16"]
INTS = {
    "ints": np.array([[1, -200, 30000], [4, 5, 6]]),
    "summarised ints": np.arange(3000).reshape(30, 100),
    "big ints": np.array([2**40, -(2**35), 7]),
}


def _both(array, dtype, **kwargs):
    t = torch.tensor(array, dtype=getattr(torch, dtype), **kwargs)
    s = soma.tensor(array, dtype=getattr(soma, dtype), **kwargs)
    return repr(t), repr(s).replace("soma.", "torch.")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(VALUES))
def test_floats_print_as_pytorch(name, dtype):
    expected, got = _both(VALUES[name], dtype)
    assert got == expected


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8"])
@pytest.mark.parametrize("name", sorted(INTS))
def test_integers_print_as_pytorch(name, dtype):
    array = INTS[name]
    if dtype in ("int8", "uint8"):
        array = array % 100
    elif dtype == "int32":
        array = array % 2**31
    expected, got = _both(array, dtype)
    assert got == expected


def test_bools_and_grad_suffixes_print_as_pytorch():
    assert _both(np.array([[True, False], [False, False]]), "bool")
    expected, got = _both(np.array([True, False] * 700), "bool")
    assert got == expected
    expected, got = _both(_rng.standard_normal((3, 30)), "float64", requires_grad=True)
    assert got == expected


@pytest.mark.parametrize(
    "options",
    [
        {"precision": 2},
        {"precision": 7},
        {"threshold": 10},
        {"edgeitems": 1, "threshold": 5},
        {"edgeitems": 0, "threshold": 5},
        {"linewidth": 40},
        {"sci_mode": False},
        {"sci_mode": True},
        {"profile": "short"},
        {"profile": "full"},
    ],
)
def test_print_options_print_as_pytorch(options):
    torch.set_printoptions(**options)
    soma.set_printoptions(**options)
    try:
        for array in (VALUES["normal"], VALUES["summarised 3d"], VALUES["tiny"], INTS["ints"]):
            dtype = "int64" if array.dtype.kind == "i" else "float32"
            expected, got = _both(array, dtype)
            assert got == expected
        assert soma.get_printoptions() == torch._tensor_str.get_printoptions()
    finally:
        torch.set_printoptions(profile="default")
        soma.set_printoptions(profile="default")
