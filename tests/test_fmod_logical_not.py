"""Hand-worked values for two ops the forward-only rows of the op table caught (issue 10):
``fmod`` had been an alias of ``remainder``, and ``logical_not`` of an integer tensor returned
its bitwise complement."""

import numpy as np

import soma
from soma.testing import gradcheck


def test_fmod_takes_the_sign_of_the_dividend_remainder_of_the_divisor():
    a, b = soma.tensor([-3, 3, -3, 3, 7]), soma.tensor([2, 2, -2, -2, 3])
    # C's %: -3 = -1·2 + (-1); Python's %: -3 = -2·2 + 1
    assert soma.fmod(a, b).tolist() == [-1, 1, -1, 1, 1]
    assert soma.remainder(a, b).tolist() == [1, 1, -1, -1, 1]
    assert (a % b).tolist() == [1, 1, -1, -1, 1]
    assert soma.fmod(a, b).dtype == soma.int64
    assert soma.fmod(soma.tensor([-3.5, 3.5]), 2).tolist() == [-1.5, 1.5]
    assert soma.tensor([-3.5]).fmod(2).item() == -1.5


def test_fmod_gradient_is_one_and_minus_the_truncated_quotient():
    a = soma.tensor([-3.5, 3.5, 5.2], dtype=soma.float64, requires_grad=True)
    b = soma.tensor([2.0, -2.0, 1.5], dtype=soma.float64, requires_grad=True)
    soma.fmod(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0]
    # trunc(a / b) = trunc(-1.75, -1.75, 3.47) = (-1, -1, 3)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, -3.0])
    assert gradcheck(soma.fmod, [a, b])


def test_logical_not_gives_booleans_for_every_dtype():
    assert soma.logical_not(soma.tensor([0, 1, 2, -1])).tolist() == [True, False, False, False]
    assert soma.logical_not(soma.tensor([0.0, 0.5])).tolist() == [True, False]
    assert soma.logical_not(soma.tensor([True, False])).tolist() == [False, True]
    assert soma.logical_not(soma.tensor([3])).dtype == soma.bool


def test_invert_operator_stays_bitwise_on_integers():
    # PyTorch's ~ is bitwise not: ~0 = -1, ~2 = -3; on booleans it is logical not
    assert (~soma.tensor([0, 2, -3])).tolist() == [-1, -3, 2]
    assert (~soma.tensor([True, False])).tolist() == [False, True]
