"""Integer arithmetic and index bounds as PyTorch 2.13 has them (each silently different in
soma before; hand-worked values here, then the same cases against PyTorch):

* a Python int outside an integer tensor's range wraps into it in arithmetic and comparisons
  (``int8 * 200`` multiplies by -56), while filling ops (where, masked_fill) refuse it;
* integer floor division, remainder, fmod and truncating division by zero raise (NumPy gave 0),
  float ones give inf/NaN without a warning, and truncating division of integers is exact
  (it went through float32: 2^24 + 1 lost its last digit);
* gather, scatter, scatter_add, scatter_reduce, index_select, index_add and index_copy refuse
  negative indices (NumPy counted them from the end); index_fill and take_along_dim take them.
"""

import numpy as np
import pytest

import soma

I8 = soma.int8


def test_python_ints_wrap_into_small_integer_dtypes():
    a = soma.tensor([1, 100], dtype=I8)
    assert (a * 200).tolist() == [-56, 32]  # 200 = -56 in int8; 100·(-56) = -5600 ≡ 32
    assert (a + 200).tolist() == [-55, 44]
    assert (200 - a).tolist() == [-57, 100]
    assert (a < 200).tolist() == [False, False]  # compared with -56
    assert (soma.tensor([1], dtype=soma.uint8) + -1).tolist() == [0]  # -1 = 255
    assert (a // -200).tolist() == [0, 1]  # -200 = 56


@pytest.mark.parametrize(
    "call", [lambda a: a.masked_fill(a > 50, 200), lambda a: soma.where(a > 50, a, 500)]
)
def test_filling_ops_refuse_values_the_dtype_cannot_hold(call):
    with pytest.raises(RuntimeError, match="cannot be converted to int8 without overflow"):
        call(soma.tensor([1, 100], dtype=I8))


@pytest.mark.parametrize(
    "call",
    [
        lambda a, z: a // z,
        lambda a, z: a % z,
        lambda a, z: soma.fmod(a, z),
        lambda a, z: soma.div(a, z, rounding_mode="floor"),
        lambda a, z: soma.div(a, z, rounding_mode="trunc"),
        lambda a, z: a // 0,
    ],
)
def test_integer_division_by_zero_raises(call):
    a, z = soma.tensor([5, -7]), soma.tensor([0, 2])
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        call(a, z)
    with pytest.raises(RuntimeError):
        call(a, z)


def test_float_division_by_zero_is_silent(recwarn):
    a, z = soma.tensor([5.0, -7.0, 0.0]), soma.tensor([0.0, 2.0, 0.0])
    assert (a // z).tolist()[:2] == [float("inf"), -4.0]
    assert np.isnan((a % z).tolist()[0])
    assert np.isnan(soma.fmod(a, z).tolist()[2])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_truncating_division_of_integers_is_exact():
    a = soma.tensor([2**24 + 1, -(2**24 + 1), 2**62 + 1, -7])
    assert soma.div(a, 1, rounding_mode="trunc").tolist() == a.tolist()
    assert soma.div(a, -2, rounding_mode="trunc").tolist() == [
        -(2**23),
        2**23,
        -(2**61),
        3,
    ]
    assert soma.div(soma.tensor([-128], dtype=I8), -1, rounding_mode="trunc").tolist() == [-128]


T = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
NEGATIVE = {
    "gather": lambda L, t: L.gather(t, 1, L.tensor([[-1], [0]])),
    "index_select": lambda L, t: t.index_select(1, L.tensor([-1])),
    "scatter": lambda L, t: L.zeros(2, 3).scatter(1, L.tensor([[-1], [0]]), 1.0),
    "scatter_add": lambda L, t: L.zeros(2, 3).scatter_add(1, L.tensor([[-1], [0]]), t),
    "scatter_reduce": lambda L, t: L.zeros(2, 3).scatter_reduce(
        1, L.tensor([[-1], [0]]), t, "sum"
    ),
    "index_add": lambda L, t: L.zeros(2, 3).index_add(1, L.tensor([-1]), t[:, :1]),
    "index_copy": lambda L, t: L.zeros(2, 3).index_copy(1, L.tensor([-1]), t[:, :1]),
}


@pytest.mark.parametrize("op", NEGATIVE)
def test_negative_indices_are_refused_where_pytorch_refuses_them(op):
    with pytest.raises(IndexError, match=rf"{op}\(\): index -1 is out of bounds"):
        NEGATIVE[op](soma, soma.tensor(T))


def test_index_fill_and_take_along_dim_count_negatives_from_the_end():
    t = soma.tensor(T)
    assert soma.zeros(2, 3).index_fill(1, soma.tensor([-1]), 5.0).tolist() == [
        [0, 0, 5],
        [0, 0, 5],
    ]
    assert soma.take_along_dim(t, soma.tensor([[-1], [0]]), 1).tolist() == [[3.0], [4.0]]


CASES = {
    "int8 * 200": lambda L: L.tensor([1, 100], dtype=L.int8) * 200,
    "uint8 < -1": lambda L: L.tensor([1], dtype=L.uint8) < -1,
    "int64 // 0": lambda L: L.tensor([5]) // 0,
    "int64 % tensor 0": lambda L: L.tensor([5, 3]) % L.tensor([0, 2]),
    "trunc 2^24 + 1": lambda L: L.div(L.tensor([2**24 + 1]), 3, rounding_mode="trunc"),
    "masked_fill 200": lambda L: L.tensor([1], dtype=L.int8).masked_fill(L.tensor([True]), 200),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_as_pytorch(torch_or_skip, case):
    results = []
    for L in (torch_or_skip, soma):
        try:
            results.append(CASES[case](L).tolist())
        except RuntimeError:
            results.append(RuntimeError)
    assert results[0] == results[1]


@pytest.mark.parametrize("op", NEGATIVE)
def test_negative_indices_as_pytorch(torch_or_skip, op):
    with pytest.raises((RuntimeError, IndexError)):
        NEGATIVE[op](torch_or_skip, torch_or_skip.tensor(T))


@pytest.mark.parametrize(
    "args, expected",
    [((0, 2.5, 1), [0, 1]), ((-2.5, 2.5, 1.5), [-2, -1, 0, 1]), ((0.9, 3.2), [0, 1, 2])],
)
def test_integer_arange_truncates_its_bounds_and_step_first(args, expected):
    assert soma.arange(*args, dtype=soma.int64).tolist() == expected


def test_integer_arange_whose_step_truncates_to_zero_is_refused():
    with pytest.raises(ValueError, match="step must be nonzero"):
        soma.arange(1, 4, 0.5, dtype=soma.int64)


def test_topk_counts_nan_as_the_largest_value():
    x = soma.tensor([1.0, float("nan"), 2.0, float("nan"), 0.0])
    values, indices = x.topk(3)
    assert np.isnan(values.tolist()[:2]).all() and values.tolist()[2] == 2.0
    assert indices.tolist() == [1, 3, 2]
    assert [v.tolist() for v in x.topk(2, largest=False)] == [[0.0, 1.0], [4, 0]]
