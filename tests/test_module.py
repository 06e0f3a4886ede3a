"""nn.Module: registration, traversal, modes, state dicts (incl. PyTorch's), errors, printing."""

import math

import numpy as np
import pytest

import soma
from soma import nn


class Net(nn.Module):
    """The lecture's sin(3x) network."""

    def __init__(self):
        super().__init__()
        self.hidden1 = nn.Linear(1, 64)
        self.hidden2 = nn.Linear(64, 128)
        self.output = nn.Linear(128, 1)

    def forward(self, x):
        x = soma.relu(self.hidden1(x))
        x = soma.relu(self.hidden2(x))
        return self.output(x)


def test_parameters_are_registered_by_assignment_in_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "hidden1.weight",
        "hidden1.bias",
        "hidden2.weight",
        "hidden2.bias",
        "output.weight",
        "output.bias",
    ]
    assert sum(p.numel() for p in Net().parameters()) == 64 * 2 + 64 * 128 + 128 + 129


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3)
    net = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(net.parameters())) == 2


def test_buffers_and_non_persistent_buffers():
    m = nn.Module()
    m.register_buffer("running", soma.zeros(3))
    m.register_buffer("scratch", soma.ones(2), persistent=False)
    assert set(dict(m.named_buffers())) == {"running", "scratch"}
    assert list(m.state_dict()) == ["running"]


def test_assigning_a_plain_tensor_to_a_parameter_slot_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None expected"):
        layer.weight = soma.zeros(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_forgetting_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_train_and_eval_reach_every_submodule():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_and_sharing():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = soma.randn(5, 1)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    sd = a.state_dict()
    assert not sd["output.bias"].requires_grad
    sd["output.bias"].array[...] = 3.0  # shares memory, like PyTorch
    assert a.output.bias.detach().numpy()[0] == 3.0


def test_load_state_dict_lists_every_problem():
    net = Net()
    sd = net.state_dict()
    del sd["hidden1.bias"]
    sd["extra.weight"] = soma.zeros(1)
    sd["output.weight"] = soma.zeros(2, 128)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert "missing keys: hidden1.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "output.weight: checkpoint has shape (2, 128), model has (1, 128)" in message


def test_load_state_dict_non_strict_reports_keys():
    net = Net()
    sd = {k: v for k, v in net.state_dict().items() if k.startswith("hidden")}
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["output.weight", "output.bias"] and result.unexpected_keys == []


def test_pytorch_state_dict_loads_one_to_one(torch_or_skip):
    torch = torch_or_skip

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden1 = torch.nn.Linear(1, 64)
            self.hidden2 = torch.nn.Linear(64, 128)
            self.output = torch.nn.Linear(128, 1)

        def forward(self, x):
            return self.output(torch.relu(self.hidden2(torch.relu(self.hidden1(x)))))

    theirs, ours = TorchNet(), Net()
    ours.load_state_dict(theirs.state_dict())  # torch tensors, loaded directly
    x = np.linspace(-1, 1, 7, dtype=np.float32)[:, None]
    np.testing.assert_allclose(
        ours(soma.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_linear_initialisation_matches_pytorch_bounds():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound


def test_layer_errors_name_the_layer_path_and_shapes():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(6, 2)))
    with pytest.raises(ValueError) as info:
        net(soma.zeros(3, 4))
    message = str(info.value)
    assert message.startswith("layer '2.0' (Linear) [in_features=6, out_features=2, bias=True]")
    assert "expected input with 6 features" in message and "(3, 8)" in message


def test_forward_hooks_see_and_may_replace_outputs():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append(tuple(out.shape)))
    layer(soma.zeros(5, 2))
    handle.remove()
    layer(soma.zeros(1, 2))
    assert seen == [(5, 2)]
    layer.register_forward_pre_hook(lambda m, inputs: (inputs[0] * 0,))
    layer.register_forward_hook(lambda m, inputs, out: out + 1)
    np.testing.assert_allclose(
        layer(soma.ones(1, 2)).detach().numpy(), layer.bias.detach().numpy()[None] + 1
    )


def test_to_double_converts_parameters_in_place():
    net = Net()
    weight = net.hidden1.weight
    net.double()
    assert net.hidden1.weight is weight and weight.dtype == soma.float64
    assert net(soma.zeros(2, 1, dtype=soma.float64)).dtype == soma.float64


def test_dtype_mismatch_between_input_and_weights_is_explained():
    with pytest.raises(TypeError, match="input dtype float64 does not match weight dtype float32"):
        nn.Linear(2, 2)(soma.zeros(1, 2, dtype=soma.float64))


def test_repr_is_a_readable_tree():
    assert repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
    )


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and len(seq[1:]) == 2 and len(seq) == 3
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    holder = nn.Module()
    holder.layers, holder.heads = ml, md
    assert len(list(holder.parameters())) == 8
    assert [n for n, _ in holder.named_parameters()][-1] == "heads.a.bias"


def test_zero_grad_and_requires_grad_():
    net = Net()
    net(soma.ones(2, 1)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not net(soma.ones(2, 1)).requires_grad


def test_apply_visits_children_then_parent():
    order = []
    nn.Sequential(nn.Linear(1, 1), nn.ReLU()).apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "ReLU", "Sequential"]


@pytest.mark.parametrize(
    "nonlinearity,param",
    [
        ("relu", None),
        ("tanh", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("sigmoid", None),
        ("linear", None),
    ],
)
def test_calculate_gain_matches_pytorch(nonlinearity, param, torch_or_skip):
    torch = torch_or_skip
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param)
    )


@pytest.mark.parametrize(
    "fn,expected_std",
    [
        ("xavier_uniform_", math.sqrt(2 / (300 + 200))),
        ("xavier_normal_", math.sqrt(2 / (300 + 200))),
        ("kaiming_uniform_", math.sqrt(2 / 300)),
        ("kaiming_normal_", math.sqrt(2 / 300)),
    ],
)
def test_initialisers_have_the_documented_spread(fn, expected_std):
    w = soma.empty(200, 300)
    kwargs = {"nonlinearity": "relu"} if fn.startswith("kaiming") else {}
    getattr(nn.init, fn)(w, **kwargs)
    assert abs(w.numpy().std() - expected_std) < 0.03 * expected_std
    assert abs(w.numpy().mean()) < 0.05 * expected_std


def test_conv_shaped_fans_and_orthogonal():
    w = soma.empty(16, 8, 3, 3)
    assert nn.init._calculate_fan_in_and_fan_out(w) == (72, 144)
    q = soma.empty(6, 4)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(soma.empty(3))
