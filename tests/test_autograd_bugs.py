"""One test per bug listed in issue 12, each written to fail on the code before the fix."""

import numpy as np
import pytest

import soma

torch = pytest.importorskip("torch")


def _train_0d(lib, make_opt, steps=3):
    """A 0-d parameter used twice in the graph (w·w + w), a few optimizer steps."""
    w = lib.nn.Parameter(lib.tensor(1.5))
    opt = make_opt(lib, [w])
    for _ in range(steps):
        opt.zero_grad()
        (w * w + w).backward()
        opt.step()
    return w, opt


OPTIMIZERS = {
    "sgd_momentum": lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_wd_dampening": lambda lib, p: lib.optim.SGD(
        p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.1
    ),
    "rmsprop": lambda lib, p: lib.optim.RMSprop(p, lr=0.1),
    "rmsprop_centered_momentum": lambda lib, p: lib.optim.RMSprop(
        p, lr=0.1, centered=True, momentum=0.5, weight_decay=0.1
    ),
    "adagrad": lambda lib, p: lib.optim.Adagrad(p, lr=0.1, weight_decay=0.1),
    "adam_amsgrad": lambda lib, p: lib.optim.Adam(p, lr=0.1, amsgrad=True, weight_decay=0.1),
    "adamw": lambda lib, p: lib.optim.AdamW(p, lr=0.1),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_update_0d_parameters_used_twice(name):
    ours, opt = _train_0d(soma, OPTIMIZERS[name])
    theirs, _ = _train_0d(torch, OPTIMIZERS[name])
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    # gradients and state: arrays of the parameter's shape and dtype, never NumPy scalars
    assert isinstance(ours.grad.array, np.ndarray) and ours.grad.array.shape == ()
    assert ours.grad.dtype == np.float32
    for value in opt.state[ours].values():
        if isinstance(value, np.ndarray):
            assert value.shape == () and value.dtype == np.float32


def test_gradient_accumulation_keeps_arrays_shape_and_dtype():
    w = soma.tensor(2.0, requires_grad=True)
    for _ in range(2):
        (w * w + w * 3).backward()
    assert isinstance(w.grad.array, np.ndarray) and w.grad.array.shape == ()
    assert w.grad.item() == 2 * (2 * 2.0 + 3)


def test_engine_raises_naming_the_op_on_a_wrongly_shaped_gradient():
    class Bad(soma.autograd.function.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, gy):
            return np.ones(2, dtype=np.float32)  # x has shape (3,)

    x = soma.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Function BadBackward0 returned an invalid gradient"):
        Bad.apply(x).backward()


def _reassigned(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = lib.nn.Conv2d(1, 2, 3)
            self.fc = lib.nn.Linear(2, 2)
            self.register_buffer("scale", lib.ones(1))
            self.w = lib.nn.Parameter(lib.ones(1))
            self.b = lib.nn.Parameter(lib.ones(1))

    net = Net()
    net.conv1 = lib.nn.Conv2d(1, 2, 5)
    net.w = lib.nn.Parameter(lib.zeros(1))
    return net


def test_reassigning_a_submodule_keeps_its_slot():
    for lib in (soma, torch):
        net = _reassigned(lib)
        assert [n for n, _ in net.named_children()] == ["conv1", "fc"]
        assert list(net.state_dict()) == list(_reassigned(torch).state_dict())
        assert list(net.state_dict())[:2] == ["w", "b"]
        head = lib.nn.Sequential(*list(net.children())[:-1])
        assert isinstance(head[0], lib.nn.Conv2d) and len(head) == 1


def test_sdpa_gradient_wrt_a_float_mask():
    g = np.random.RandomState(0)
    arrays = [g.randn(1, 2, 3, 4).astype(np.float32) for _ in range(3)]
    mask = g.randn(1, 2, 3, 3).astype(np.float32)
    grads = []
    for lib in (soma, torch):
        q, k, v = (lib.tensor(a) for a in arrays)
        m = lib.tensor(mask, requires_grad=True)
        lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m).sum().backward()
        grads.append(m.grad.detach().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_view_dtype_reinterprets_bits():
    x = [1.0, 2.0, -0.5]
    assert soma.tensor(x).view(soma.int32).tolist() == torch.tensor(x).view(torch.int32).tolist()
    assert soma.tensor(x).view(soma.int16).tolist() == torch.tensor(x).view(torch.int16).tolist()
    t = soma.tensor(x)
    t.view(soma.int32)[0] = 0  # shares memory
    assert t.tolist()[0] == 0.0


def test_bitwise_ops_on_int32_keep_int32():
    a, b = [5, 3, -8], [3, 1, 2]
    for op in ("__and__", "__or__", "__xor__", "__lshift__", "__rshift__"):
        ours = getattr(soma.tensor(a, dtype=soma.int32), op)(soma.tensor(b, dtype=soma.int32))
        theirs = getattr(torch.tensor(a, dtype=torch.int32), op)(
            torch.tensor(b, dtype=torch.int32)
        )
        assert ours.dtype == soma.int32 and ours.tolist() == theirs.tolist(), op


def test_integer_true_division_gives_the_default_float_dtype():
    a, b = soma.tensor([5, 3]), soma.tensor([2, 2])
    for result in (a / b, a / 2, 2 / a, soma.div(a, b)):
        assert result.dtype == soma.float32
    assert (a / b).tolist() == [2.5, 1.5]
    soma.set_default_dtype(soma.float64)
    assert (a / b).dtype == soma.float64


def test_gradient_of_sum_with_dtype_has_the_input_dtype():
    x = soma.ones(3, requires_grad=True)
    h = x * 2
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.dtype))
    h.sum(dtype=soma.float64).backward()
    assert h.grad.dtype == x.grad.dtype == soma.float32
    assert seen == [soma.float32]


def test_cumsum_of_0d_is_0d():
    x = soma.tensor(2.0, requires_grad=True)
    y = x.cumsum(0)
    assert y.shape == torch.tensor(2.0).cumsum(0).shape == ()
    y.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize(
    "index",
    [
        lambda i: (1, slice(None), slice(3, 11, 2), i, slice(0, 2)),
        lambda i: (slice(None), 1, slice(None), i),
        lambda i: (None, 1, Ellipsis, i),
        lambda i: (slice(None), i, slice(None), 1),
        lambda i: (1, i),
    ],
)
def test_mixed_basic_and_advanced_indexing_orders_dimensions_as_pytorch(index):
    data = np.arange(2 * 3 * 12 * 5 * 4 * 3, dtype=np.float32).reshape(2, 3, 12, 5, 4, 3)
    ours = soma.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    out = ours[index(soma.tensor([0, 2, 1]))]
    ref = theirs[index(torch.tensor([0, 2, 1]))]
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    weights = np.random.RandomState(0).randn(*ref.shape).astype(np.float32)
    (out * soma.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    # and assignment through the same index
    a, b = soma.zeros(data.shape), torch.zeros(data.shape)
    a[index(soma.tensor([0, 2, 1]))] = soma.tensor(weights)
    b[index(torch.tensor([0, 2, 1]))] = torch.tensor(weights)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


ACTIVATIONS_0D = [
    ("celu", ()),
    ("selu", ()),
    ("silu", ()),
    ("elu", ()),
    ("logsigmoid", ()),
    ("hardsigmoid", ()),
    ("softplus", ()),
    ("hardswish", ()),
    ("mish", ()),
    ("gelu", ()),
    ("softmax", (0,)),
    ("log_softmax", (0,)),
    ("softmin", (0,)),
    ("relu6", ()),
    ("leaky_relu", ()),
]


@pytest.mark.parametrize("name,args", ACTIVATIONS_0D, ids=[a for a, _ in ACTIVATIONS_0D])
@pytest.mark.parametrize("value", [0.7, -1.3])
def test_activations_on_0d_inputs(name, args, value):
    results = []
    for lib in (soma, torch):
        x = lib.tensor(value, requires_grad=True)
        y = getattr(lib.nn.functional, name)(x, *args)
        y.backward()
        assert tuple(y.shape) == ()
        results.append((y.item(), x.grad.item()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-7)


def test_inplace_activation_on_0d():
    x = soma.tensor(-1.0)
    y = soma.nn.functional.elu(x, inplace=True)
    assert y is x
    np.testing.assert_allclose(x.item(), np.expm1(-1.0), rtol=1e-6)


@pytest.mark.parametrize("dim", [None, 0, -1])
def test_prod_of_0d_backward(dim):
    x = soma.tensor(3.0, requires_grad=True)
    y = x.prod() if dim is None else x.prod(dim)
    y.backward()
    assert y.shape == () and y.item() == 3.0
    assert x.grad.item() == 1.0 and x.grad.shape == ()


def test_nonzero_of_0d():
    for value in (3.0, 0.0):
        ours, theirs = soma.tensor(value), torch.tensor(value)
        assert tuple(ours.nonzero().shape) == tuple(theirs.nonzero().shape)
        assert [t.tolist() for t in ours.nonzero(as_tuple=True)] == [
            t.tolist() for t in theirs.nonzero(as_tuple=True)
        ]


def test_int_tensor_to_negative_int_power_raises_pytorchs_error():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        soma.tensor([1, 2]) ** -1
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        torch.tensor([1, 2]) ** -1
    assert (soma.tensor([1, 2]) ** 2).tolist() == [1, 4]
    # a tensor of negative exponents: no error in PyTorch, 1 → 1, −1 → ±1, others → 0
    base, exponent = [1, 2, -1, -1, 3, 0], [-1, -2, -1, -2, 2, 1]
    ours = soma.tensor(base) ** soma.tensor(exponent)
    assert ours.tolist() == (torch.tensor(base) ** torch.tensor(exponent)).tolist()
    assert ours.dtype == soma.int64


def test_tensor_with_float64_dtype_is_not_rounded_through_float32():
    # found while testing custom Functions: tensor([0.3], dtype=float64) held 0.30000001
    assert soma.tensor([0.3], dtype=soma.float64).tolist() == [0.3]
    assert soma.tensor(0.1, dtype=soma.float64).item() == 0.1
    assert soma.tensor([0.3]).dtype == soma.float32


@pytest.mark.parametrize("name", ["xlogy", "logaddexp", "logaddexp2", "atan2", "hypot"])
def test_a_python_float_operand_keeps_a_float64_tensors_precision(name):
    """xlogy(float64 tensor, 3.0) took ln 3 in float32 (the scalar became a default-dtype
    tensor): 7e-8 off. The scalar now takes the tensor's dtype (found by the CuPy run)."""
    a = np.array([0.3, 0.7, 1.9])
    ours = getattr(soma, name)(soma.tensor(a), 3.1)
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(3.1, dtype=torch.float64))
    assert ours.dtype == soma.float64
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-15)
