"""PyTorch's keyword names on soma's functions and methods, by worked values (no PyTorch
needed; tests/test_torch_keywords_oracle.py compares with PyTorch itself)."""

import importlib
import inspect
import warnings

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma import functional as kernels

X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_input_other_and_operand_names():
    x = soma.tensor(X)
    assert soma.add(input=x, other=x).tolist() == [[2, 4, 6], [8, 10, 12]]
    # a Python number with alpha (soma's sub/add raised here before)
    assert soma.sub(input=x, other=1, alpha=2).tolist() == [[-1, 0, 1], [2, 3, 4]]
    assert x.add(2, alpha=3).tolist() == [[7, 8, 9], [10, 11, 12]]
    assert soma.pow(input=x, exponent=2)[1].tolist() == [16, 25, 36]
    assert soma.mm(input=x, mat2=x.T).tolist() == [[14, 32], [32, 77]]
    assert soma.where(condition=x > 2, input=x, other=0).tolist() == [[0, 0, 3], [4, 5, 6]]
    assert soma.clamp(input=x, min=2, max=5).tolist() == [[2, 2, 3], [4, 5, 5]]
    assert F.linear(input=x, weight=soma.ones(1, 3)).tolist() == [[6], [15]]
    assert F.sigmoid(input=soma.zeros(2)).tolist() == [0.5, 0.5]


def test_axis_and_keepdims_aliases():
    x = soma.tensor(X)
    assert soma.mean(x, axis=1).tolist() == [2, 5]
    assert x.sum(axis=0).tolist() == [5, 7, 9]
    assert soma.sum(x, axis=1, keepdims=True).shape == (2, 1)
    assert x.max(axis=1, keepdims=True).values.tolist() == [[3], [6]]
    assert soma.cat((x, x), axis=0).shape == (4, 3)
    assert soma.stack([x, x], axis=2).shape == (2, 3, 2)
    assert x.softmax(axis=1).sum(axis=1).tolist() == pytest.approx([1, 1])


def test_shape_methods_take_the_shape_as_one_keyword():
    x = soma.tensor(X)
    assert x.view(size=(3, 2)).shape == (3, 2)
    assert x.reshape(shape=(6,)).shape == (6,)
    assert x.permute(dims=(1, 0)).shape == (3, 2)
    assert x.repeat(repeats=(2, 1)).shape == (4, 3)
    assert x.new_zeros(size=(1, 2)).tolist() == [[0, 0]]
    assert x.new_ones(size=(2,), dtype=soma.int64).tolist() == [1, 1]
    assert x.new_empty(size=(0, 3)).shape == (0, 3)
    with pytest.raises(TypeError, match="got multiple values for argument 'size'"):
        x.new_zeros(2, size=(1, 2))


def test_gradients_flow_through_keyword_calls():
    x = soma.tensor(X, requires_grad=True)
    soma.mul(input=x, other=x).sum(axis=(0, 1)).backward()
    assert x.grad.tolist() == [[2, 4, 6], [8, 10, 12]]


def test_out_writes_returns_and_resizes():
    x = soma.tensor(X)
    out = soma.empty(0)
    assert soma.matmul(x, x.T, out=out) is out
    assert out.tolist() == [[14, 32], [32, 77]]
    big = soma.zeros(4, 3)
    soma.add(x, 1, out=big[:2])  # same shape: written in place, through the view
    assert big.sum().item() == 27.0
    grown = soma.zeros(5)
    with pytest.warns(
        UserWarning, match=r"add\(\): An output .* resized since it had shape \[5\]"
    ):
        soma.add(x, x, out=grown)
    assert grown.shape == (2, 3)
    doubles = soma.zeros(2, 3, dtype=soma.float64)
    soma.add(x, x, out=doubles)  # float32 result cast into the float64 out, as PyTorch
    assert doubles.dtype == soma.float64 and doubles.sum().item() == 42.0
    assert soma.add(x, x, out=None).sum().item() == 42.0


def test_out_of_a_tuple_result():
    x = soma.tensor(X)
    values, indices = soma.empty(0), soma.empty(0, dtype=soma.int64)
    result = soma.max(x, axis=1, out=(values, indices))
    assert result.values is values and result.indices is indices
    assert values.tolist() == [3, 6] and indices.tolist() == [2, 2]
    with pytest.raises(TypeError, match=r"max\(\): out= must be a tuple of 2 tensors"):
        soma.max(x, 1, out=values)
    with pytest.raises(TypeError, match=r"add\(\): out= must be 1 tensor"):
        soma.add(x, x, out=(values,))
    with pytest.raises(TypeError, match=r"add\(\): argument 'out' must be Tensor, not float"):
        soma.add(x, x, out=0.0)


def test_out_refuses_autograd_and_lossy_casts():
    x = soma.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add\(\): functions with out=\.\.\. arguments"):
        soma.add(x, x, out=soma.empty(2, 3))
    with pytest.raises(RuntimeError, match=r"exp\(\): functions with out="):
        soma.exp(x.detach(), out=soma.zeros(2, 3, requires_grad=True))
    with soma.no_grad():
        out = soma.empty(2, 3)
        soma.add(x, x, out=out)
    assert out.tolist() == [[2, 4, 6], [8, 10, 12]] and not out.requires_grad
    with pytest.raises(RuntimeError, match="float32 can't be cast to the desired output type"):
        soma.add(x.detach(), 1, out=soma.zeros(2, 3, dtype=soma.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        soma.lt(x.detach(), 3, out=soma.empty(0))  # bool into float is allowed, silently


def test_unknown_keywords_raise_type_error_naming_the_function():
    x = soma.tensor(X)
    with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'foo'"):
        soma.add(x, x, foo=1)
    with pytest.raises(TypeError, match=r"sum\(\) got multiple values for argument 'dim'"):
        soma.sum(x, dim=0, axis=1)
    with pytest.raises(TypeError, match=r"sum\(\) got multiple values for argument 'dim'"):
        x.sum(0, axis=1)
    with pytest.raises(TypeError, match=r"relu\(\) got an unexpected keyword argument 'out'"):
        F.relu(x, out=x)  # nn.functional takes no out=, as in PyTorch
    with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'out'"):
        F.add(x, x, out=x)
    with pytest.raises(TypeError, match=r"sum\(\) got an unexpected keyword argument 'out'"):
        x.sum(0, out=x)  # nor do Tensor methods


def test_adapters_sit_only_on_the_exported_names():
    # the kernels soma calls internally stay plain: no adapter between Tensor ops and kernels
    assert not hasattr(kernels.add, "_torch_keywords")
    assert soma.add.__wrapped__ is kernels.add and F.add.__wrapped__ is kernels.add
    assert F.relu is kernels.relu  # nothing to translate: not wrapped at all
    assert inspect.signature(soma.add) == inspect.signature(kernels.add)
    # each adapter names its kernel, where a whole-model save finds the same function again
    for namespace in (soma, F):
        for name in dir(namespace):
            fn = getattr(namespace, name)
            if hasattr(fn, "_torch_keywords") and not inspect.isclass(fn):
                home = importlib.import_module(fn.__module__)
                assert getattr(home, fn.__name__) in (fn, fn.__wrapped__), name


def test_nothing_changes_without_keywords():
    x = soma.tensor(X)
    assert soma.add(x, x).tolist() == (x + x).tolist()
    np.testing.assert_array_equal(soma.sum(x, 1, True).numpy(), [[6], [15]])
    assert x.sum(0).tolist() == [5, 7, 9]


def test_compiled_adapter_checks_its_arguments_as_python_does():
    from soma.autograd.keywords import adapt

    def mm(a, b, *, scale=1):
        return (a, b, scale)

    adapted = adapt("mm", mm, out=True)
    assert adapted(1, 2) == (1, 2, 1)
    assert adapted(input=1, mat2=2, scale=3) == (1, 2, 3)
    assert adapted(1, b=2) == (1, 2, 1)
    with pytest.raises(TypeError, match=r"mm\(\) missing required argument: 'b'"):
        adapted(1)
    with pytest.raises(TypeError, match=r"mm\(\) got multiple values for argument 'a'"):
        adapted(1, 2, input=1)
    with pytest.raises(TypeError, match=r"mm\(\) got an unexpected keyword argument 'other'"):
        adapted(1, other=2)  # PyTorch's mm names it mat2
    assert inspect.signature(adapted) == inspect.signature(mm)


def test_signatures_with_var_keywords_use_the_forwarding_adapter():
    from soma.autograd.keywords import adapt

    def total(x, dim=None, **options):
        return soma.sum(x, dim), options

    adapted = adapt("total", total, out=True)
    x = soma.tensor(X)
    value, options = adapted(input=x, axis=1, flag=True)
    assert value.tolist() == [6, 15] and options == {"flag": True}
    out = soma.empty(0)
    with pytest.raises(TypeError, match="must be a tuple of 2 tensors"):
        adapted(x, axis=0, out=out)  # the result is a pair: out= must be too
    with pytest.raises(TypeError, match=r"total\(\) got multiple values for argument 'dim'"):
        adapted(x, dim=0, axis=1)


def test_random_factories_take_device_and_requires_grad():
    x = soma.zeros(2, 3)
    for made in (
        soma.rand_like(x, requires_grad=True, device="cpu"),
        soma.randn_like(x, requires_grad=True),
        soma.logspace(0, 1, 4, requires_grad=True),
    ):
        assert made.requires_grad and made.is_leaf
    assert soma.randint_like(x, 5, device="cpu").shape == (2, 3)
    assert soma.randperm(4, requires_grad=False).sort().values.tolist() == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype"):
        soma.randint(0, 5, (2,), requires_grad=True)  # as PyTorch


def test_regression_losses_take_weight():
    x, t = soma.tensor([1.0, 2.0, 4.0]), soma.tensor([0.0, 0.0, 0.0])
    w = soma.tensor([1.0, 0.0, 3.0])
    # mse and l1 'mean' divide by the weights' sum, huber's by the count (as PyTorch 2.13)
    assert F.mse_loss(x, t, weight=w).item() == pytest.approx((1 + 48) / 4)
    assert F.l1_loss(x, t, weight=w, reduction="sum").item() == pytest.approx(13)
    assert F.huber_loss(x, t, weight=w, delta=1.0).item() == pytest.approx((0.5 + 3 * 3.5) / 3)
    with pytest.raises(ValueError, match=r"mse_loss: weight must have the input's shape \(3,\)"):
        F.mse_loss(x, t, weight=soma.ones(2))
