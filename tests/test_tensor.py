"""The Tensor API: construction, dtypes and promotion (as PyTorch), conversion, printing."""

import numpy as np
import pytest

import soma


def test_factories_follow_pytorch_dtype_inference(torch_or_skip):
    torch = torch_or_skip
    cases = [[1, 2], [1.0, 2.0], [True, False], 3, 2.5, [[1, 2.5]]]
    for data in cases:
        assert str(soma.tensor(data).dtype) == str(torch.tensor(data).dtype).removeprefix(
            "torch."
        ), data
    assert soma.zeros(2).dtype == soma.float32
    assert soma.arange(5).dtype == soma.int64
    assert soma.arange(0, 1, 0.25).dtype == soma.float32
    assert soma.full((2,), 7).dtype == soma.int64
    assert soma.tensor(np.zeros(2)).dtype == soma.float64  # arrays keep their dtype


def test_default_dtype_can_be_switched_to_float64():
    soma.set_default_dtype(soma.float64)
    assert soma.randn(2).dtype == soma.float64
    assert soma.tensor([1.5]).dtype == soma.float64
    soma.set_default_dtype(soma.float32)
    assert soma.tensor([1.5]).dtype == soma.float32


DTYPES = ["float32", "float64", "int64", "int32", "bool"]


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize(
    "b", DTYPES + ["py_int", "py_float", "zero_dim_float64", "zero_dim_int64"]
)
def test_binary_promotion_matches_pytorch(a, b, torch_or_skip):
    torch = torch_or_skip

    def make(lib, name):
        if name == "py_int":
            return 3
        if name == "py_float":
            return 2.5
        if name.startswith("zero_dim"):
            dtype = name.removeprefix("zero_dim_")
            return lib.tensor(2, dtype=getattr(lib, dtype))
        return lib.ones(2, 3, dtype=getattr(lib, name))

    ta, tb = make(torch, a), make(torch, b)
    sa, sb = make(soma, a), make(soma, b)
    for op in ("add", "mul"):
        expected = getattr(torch, op)(ta, tb).dtype
        got = getattr(soma, op)(sa, sb).dtype
        assert str(got) == str(expected).removeprefix("torch."), (a, b, op)


def test_true_division_of_integers_gives_float():
    assert (soma.tensor([1, 2]) / 2).dtype == soma.float32
    np.testing.assert_allclose((soma.tensor([1, 2]) / 2).numpy(), [0.5, 1.0])
    assert (soma.tensor([7, -7]) // 2).tolist() == [3, -4]


def test_shape_size_and_item():
    x = soma.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and len(x) == 2
    assert repr(x.shape) == "soma.Size([2, 3, 4])"
    assert soma.tensor([[2.5]]).item() == 2.5
    with pytest.raises(ValueError, match="only one-element tensors"):
        x.item()


def test_numpy_on_a_tensor_requiring_grad_points_to_detach():
    w = soma.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        w.numpy()
    assert isinstance(w.detach().numpy(), np.ndarray)


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, dtype=np.float32)
    shared, copied = soma.from_numpy(a), soma.tensor(a)
    a[0] = 5
    assert shared[0].item() == 5 and copied[0].item() == 0


def test_repr_looks_like_pytorch():
    assert repr(soma.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(soma.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<MulBackward0>" in repr(soma.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=soma.float64" in repr(soma.tensor([1.0], dtype=soma.float64))


def test_conversions_and_devices():
    x = soma.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.double().dtype == soma.float64 and x.to(soma.float64).dtype == soma.float64
    assert x.to("cpu") is x and str(x.device) == "cpu"
    with pytest.raises(RuntimeError, match="not available"):
        x.to("cuda")
    assert not soma.cuda.is_available()


def test_bool_of_multi_element_tensor_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(soma.ones(2))
    assert bool(soma.ones(1))


def test_comparisons_give_bool_tensors_without_grad():
    x = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == soma.bool and not m.requires_grad and m.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]


def test_setitem_without_grad_writes_in_place():
    x = soma.zeros(2, 3)
    x[0, 1:] = 5
    x[1] = soma.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[0, 5, 5], [1, 2, 3]]


def test_random_factories_are_reproducible_with_manual_seed():
    soma.manual_seed(42)
    a = soma.randn(3), soma.rand(2), soma.randint(0, 10, (4,)), soma.randperm(5)
    soma.manual_seed(42)
    b = soma.randn(3), soma.rand(2), soma.randint(0, 10, (4,)), soma.randperm(5)
    for u, v in zip(a, b):
        assert u.tolist() == v.tolist()
    g = soma.Generator().manual_seed(1)
    assert (
        soma.rand(3, generator=g).tolist()
        == soma.rand(3, generator=soma.Generator().manual_seed(1)).tolist()
    )


def test_factory_shapes_and_values():
    assert soma.linspace(-1, 1, 5).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert soma.eye(2).tolist() == [[1, 0], [0, 1]]
    assert soma.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert soma.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert soma.zeros_like(soma.ones(2, 3, dtype=soma.float64)).dtype == soma.float64
    assert soma.ones((2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="non-negative"):
        soma.zeros(-1)


def test_max_with_dim_returns_values_and_first_index_of_ties(torch_or_skip):
    torch = torch_or_skip
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    v, i = soma.tensor(data).max(dim=1)
    tv, ti = torch.tensor(data).max(dim=1)
    assert v.tolist() == tv.tolist() and i.tolist() == ti.tolist()
    assert soma.tensor(data).argmax().item() == torch.tensor(data).argmax().item()


def test_broadcasting_error_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        soma.ones(2, 3) + soma.ones(4)
    with pytest.raises(
        ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"
    ):
        soma.ones(2, 3) @ soma.ones(4, 5)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"shape \(4, 4\) is invalid for input of shape \(2, 3\)"):
        soma.ones(2, 3).reshape(4, 4)


def test_tensors_are_not_picklable():
    import pickle

    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(soma.ones(2))


def test_contiguous_returns_c_contiguous_memory():
    """As in PyTorch: ``contiguous()`` is ``self`` when already contiguous, else a copy in
    C order through which gradients flow (it returned the permuted view itself, so
    ``is_contiguous()`` stayed False)."""
    x = soma.arange(24.0).reshape(2, 3, 4).requires_grad_()
    assert x.contiguous() is x
    p = x.permute(2, 0, 1)
    assert not p.is_contiguous()
    c = p.contiguous()
    assert c.is_contiguous() and c is not p
    np.testing.assert_array_equal(c.detach().numpy(), p.detach().numpy())
    (c * soma.arange(24.0).reshape(4, 2, 3)).sum().backward()
    np.testing.assert_array_equal(
        x.grad.numpy(), np.arange(24.0).reshape(4, 2, 3).transpose(1, 2, 0)
    )
