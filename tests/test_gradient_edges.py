"""Gradients at the edges where PyTorch defines a value, and two torch.special functions.

* ``x.pow(2)`` no longer keeps its output for the backward pass (only a tensor exponent needs
  it), so ``x.pow(2).pow_(2)`` backpropagates as in PyTorch instead of raising;
* the gradient of ``std`` where all values are equal is 0 (PyTorch's choice for 0/0; soma gave
  NaN), and so is ``atan2``'s at the origin;
* ``torch.special.entr`` and ``xlog1py``, with their gradients.
"""

import math

import numpy as np
import pytest

import soma
from soma.testing import gradcheck


def test_pow_keeps_no_output_for_a_number_exponent():
    x = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.pow(2)
    y.pow_(2)  # y = x⁴
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 32.0, 108.0]


def test_pow_with_a_tensor_exponent_still_guards_its_output():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    b = soma.tensor([2.0, 2.0], requires_grad=True)
    y = x.pow(b)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_std_gradient_where_all_values_are_equal_is_zero():
    x = soma.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    rows = soma.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
    rows.std(dim=1).sum().backward()
    # row 0 constant: 0; row 1: (x - mean) / ((n - 1) std) = ∓1 / √2
    np.testing.assert_allclose(rows.grad.numpy(), [[0, 0], [-(0.5**0.5), 0.5**0.5]], rtol=1e-6)


def test_std_gradcheck():
    rng = np.random.default_rng(8)
    x = soma.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda x: x.std(dim=1, keepdim=True), (x,))
    assert gradcheck(lambda x: x.std(correction=0), (x,))


def test_atan2_gradient_at_the_origin_is_zero():
    a = soma.tensor([0.0, 1.0], requires_grad=True)
    b = soma.tensor([0.0, 1.0], requires_grad=True)
    soma.atan2(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5] and b.grad.tolist() == [0.0, -0.5]


def test_entr_by_hand():
    x = soma.tensor([0.0, 0.5, -1.0], dtype=soma.float64, requires_grad=True)
    y = soma.special.entr(x)
    assert y.tolist() == [0.0, 0.5 * math.log(2), -math.inf]
    y.sum().backward()
    assert x.grad.tolist()[:2] == [math.inf, math.log(2) - 1]


def test_xlog1py_by_hand():
    a = soma.tensor([0.0, 2.0], dtype=soma.float64)
    c = soma.tensor([-1.0, 0.5], dtype=soma.float64)
    assert soma.special.xlog1py(a, c).tolist() == [0.0, 2 * math.log1p(0.5)]


def test_special_gradchecks():
    rng = np.random.default_rng(9)
    x = soma.tensor(rng.uniform(0.1, 2.0, 5), requires_grad=True)
    c = soma.tensor(rng.uniform(-0.5, 2.0, 5), requires_grad=True)
    assert gradcheck(soma.special.entr, (x,))
    assert gradcheck(soma.special.xlog1py, (x, c))


def test_the_same_as_pytorch(torch_or_skip):
    torch = torch_or_skip
    values = [0.0, 0.5, 2.0, -1.0, float("nan")]
    for L in (torch, soma):
        x = L.tensor(values, dtype=L.float64, requires_grad=True)
        y = L.special.entr(x)
        y.sum().backward()
        if L is torch:
            expected = (y.detach().numpy(), x.grad.numpy())
    np.testing.assert_allclose(y.detach().numpy(), expected[0], rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected[1], rtol=1e-12)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (lambda: soma.tensor(0.0), RuntimeError, r"different size: \(\) for a tensor of shape"),
        (lambda: soma.zeros(2, 3), RuntimeError, "different size"),
        (lambda: soma.zeros(3, dtype=soma.float64), RuntimeError, "different type: float64"),
        (lambda: [0.0, 0.0, 0.0], TypeError, "Tensor or None"),
    ],
)
def test_an_assigned_grad_must_fit_the_tensor(value, error, message):
    """As PyTorch: a 0-d grad would otherwise broadcast into every element of an update."""
    x = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(error, match=message):
        x.grad = value()
    x.grad = soma.ones(3)
    x.grad = None
    assert x.grad is None


def test_xlog1py_as_pytorch(torch_or_skip):
    torch = torch_or_skip
    a_values, c_values = [0.0, 0.0, 2.0, 1.0, 0.5], [-1.0, 3.0, 0.5, -2.0, float("nan")]
    results = []
    for L in (torch, soma):
        a = L.tensor(a_values, dtype=L.float64, requires_grad=True)
        c = L.tensor(c_values, dtype=L.float64, requires_grad=True)
        y = L.special.xlog1py(a, c)
        y.sum().backward()
        results.append([y.detach().numpy(), a.grad.numpy(), c.grad.numpy()])
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
