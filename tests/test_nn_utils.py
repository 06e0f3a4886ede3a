"""soma.nn.utils: gradient clipping against torch.nn.utils, parameter/vector conversion, and the
L1/L2 penalties checked by hand."""

import math

import numpy as np
import pytest

import soma
from soma.nn import utils
from tests.torch_oracle import torch

SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _params_with_grads(scale=1.0, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]
    ours, theirs = [], []
    for v, g in zip(values, grads):
        p = soma.nn.Parameter(soma.tensor(v))
        p.grad = soma.tensor(g.copy())
        q = torch.nn.Parameter(torch.tensor(v))
        q.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = _params_with_grads(dtype=dtype)
    total_s = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert isinstance(total_s, soma.Tensor) and total_s.ndim == 0
    assert total_s.dtype == total_t.numpy().dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(total_s.item(), total_t.item(), rtol=rtol)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_rescales_to_max_norm_and_keeps_direction():
    ours, _ = _params_with_grads(scale=10.0, dtype=np.float64)
    before = np.concatenate([p.grad.numpy().ravel() for p in ours])
    total = utils.clip_grad_norm_(ours, 2.0)
    after = np.concatenate([p.grad.numpy().ravel() for p in ours])
    np.testing.assert_allclose(total.item(), np.linalg.norm(before), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(after), 2.0 * total.item() / (total.item() + 1e-6))
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before))


def test_clip_grad_norm_accepts_a_tensor_a_generator_and_skips_missing_grads():
    layer = soma.nn.Linear(3, 2)
    layer(soma.ones(4, 3)).sum().backward()
    layer.bias.grad = None
    expected = np.linalg.norm(layer.weight.grad.numpy())
    for parameters in (layer.parameters(), layer.weight):
        total = utils.clip_grad_norm_(parameters, 100.0)
        np.testing.assert_allclose(total.item(), expected, rtol=1e-6)
    empty = utils.clip_grad_norm_([soma.nn.Parameter(soma.zeros(2))], 1.0)
    assert empty.item() == 0.0


def test_clip_grad_norm_keeps_the_grad_tensors_and_their_memory():
    ours, _ = _params_with_grads(scale=10.0)
    grads = [p.grad for p in ours]
    arrays = [p.grad.array for p in ours]
    utils.clip_grad_norm_(ours, 1.0)
    assert all(p.grad is g and p.grad.array is a for p, g, a in zip(ours, grads, arrays))


def test_nonfinite_norm_raises_only_when_asked():
    ours, theirs = _params_with_grads()
    ours[1].grad.array[2] = np.nan
    theirs[1].grad[2] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    total_s = utils.clip_grad_norm_(ours, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isnan(total_s.item()) and math.isnan(total_t.item())
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.numpy()), np.isnan(q.grad.numpy()))


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    ours, theirs = _params_with_grads(scale=3.0)
    total_s = utils.get_total_norm([p.grad for p in ours], 2.0)
    total_t = torch.nn.utils.get_total_norm([q.grad for q in theirs], 2.0)
    np.testing.assert_allclose(total_s.item(), total_t.item(), rtol=1e-6)
    utils.clip_grads_with_norm_(ours, 1.5, total_s)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.5, total_t)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("clip_value", [0.1, 0.7, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _params_with_grads()
    assert utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


# ---------------------------------------------------------------------------- vectors
def test_parameters_to_vector_matches_torch_and_round_trips():
    ours, theirs = _params_with_grads()
    vec = utils.parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs).detach().numpy()
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    new = np.arange(vec.numel(), dtype=np.float32)
    utils.vector_to_parameters(soma.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert isinstance(p, soma.nn.Parameter) and p.requires_grad
    np.testing.assert_array_equal(utils.parameters_to_vector(ours).detach().numpy(), new)


def test_parameters_to_vector_is_differentiable():
    layer = soma.nn.Linear(2, 2)
    weights = soma.tensor(np.arange(6, dtype=np.float32))
    (utils.parameters_to_vector(layer.parameters()) * weights).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(layer.bias.grad.numpy(), [4, 5])


def test_vector_to_parameters_does_not_alias_the_vector():
    p = soma.nn.Parameter(soma.zeros(2, 2))
    vec = soma.ones(4)
    utils.vector_to_parameters(vec, [p])
    vec.array[:] = 7
    np.testing.assert_array_equal(p.detach().numpy(), np.ones((2, 2)))


@pytest.mark.parametrize(
    "vec,error,match",
    [
        (np.zeros(4), TypeError, "expected a Tensor"),
        (soma.zeros(5), ValueError, r"hold 4 values.*\(5,\)"),
        (soma.zeros(2, 2), ValueError, r"expected \(4,\)"),
    ],
)
def test_vector_to_parameters_errors(vec, error, match):
    with pytest.raises(error, match=match):
        utils.vector_to_parameters(vec, [soma.nn.Parameter(soma.zeros(2, 2))])


# ---------------------------------------------------------------------------- penalties
def _net():
    net = soma.nn.Sequential(soma.nn.Linear(2, 2), soma.nn.Tanh(), soma.nn.Linear(2, 1))
    net[0].weight.data = soma.tensor([[1.0, -2.0], [0.0, 0.5]])
    net[0].bias.data = soma.tensor([3.0, -3.0])
    net[2].weight.data = soma.tensor([[-1.5, 2.0]])
    net[2].bias.data = soma.tensor([10.0])
    return net


def test_penalties_of_a_module_skip_biases_by_hand():
    net = _net()
    l1 = utils.l1_penalty(net, 0.1)
    l2 = utils.l2_penalty(net, 0.01)
    np.testing.assert_allclose(l1.item(), 0.1 * (1 + 2 + 0 + 0.5 + 1.5 + 2), rtol=1e-6)
    np.testing.assert_allclose(l2.item(), 0.01 * (1 + 4 + 0 + 0.25 + 2.25 + 4), rtol=1e-6)
    np.testing.assert_allclose(utils.l1_penalty(net.named_parameters(), 0.1).item(), l1.item())


def test_penalty_gradients_by_hand():
    net = _net()
    (utils.l1_penalty(net, 0.1) + utils.l2_penalty(net, 0.01)).backward()
    w0 = np.array([[1.0, -2.0], [0.0, 0.5]])
    w2 = np.array([[-1.5, 2.0]])
    # d/dw λ1 |w| + λ2 w² = λ1 sign(w) + 2 λ2 w  (sign(0) = 0)
    for layer, w in [(net[0], w0), (net[2], w2)]:
        expected = 0.1 * np.sign(w) + 0.02 * w
        np.testing.assert_allclose(layer.weight.grad.numpy(), expected, rtol=1e-6)
    assert net[0].bias.grad is None and net[2].bias.grad is None


def test_a_plain_list_of_tensors_is_penalised_in_full():
    w = soma.tensor([1.0, -2.0], requires_grad=True)
    b = soma.tensor([4.0], requires_grad=True)
    penalty = utils.l2_penalty([w, b], 0.5)
    np.testing.assert_allclose(penalty.item(), 0.5 * (1 + 4 + 16))
    penalty.backward()
    np.testing.assert_allclose(b.grad.numpy(), [4.0])
    assert utils.l1_penalty([], 0.3).item() == 0.0


def test_regularised_training_step_shrinks_weights_like_weight_decay():
    # E(w) + λ Σ w² with SGD equals SGD with weight_decay = 2λ on the penalised weights
    torch_net = torch.nn.Linear(3, 1)
    net = soma.nn.Linear(3, 1)
    net.load_state_dict({k: v.detach().numpy().copy() for k, v in torch_net.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32)
    error = soma.nn.functional.mse_loss(net(soma.tensor(x)), soma.tensor(y))
    loss = error + utils.l2_penalty(net, 0.05)
    loss.backward()
    torch_loss = torch.nn.functional.mse_loss(torch_net(torch.tensor(x)), torch.tensor(y))
    torch_loss.backward()
    decayed = torch_net.weight.grad.numpy() + 0.1 * torch_net.weight.detach().numpy()
    np.testing.assert_allclose(net.weight.grad.numpy(), decayed, rtol=1e-5)
    np.testing.assert_allclose(net.bias.grad.numpy(), torch_net.bias.grad.numpy(), rtol=1e-5)
