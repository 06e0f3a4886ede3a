"""Layers and loss modules added for issue 11 against their torch.nn twins (copied weights,
outputs and every gradient), lazy layers' materialisation, and argument errors."""

import numpy as np
import pytest

import soma
from tests.conftest import torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference oracle) is missing")


def _run(module, arrays, grads, fw):
    tensors = [
        fw.tensor(a, requires_grad=(i in grads and a.dtype.kind == "f"))
        for i, a in enumerate(arrays)
    ]
    out = module(*tensors)
    return out, tensors


def _compare(ours, theirs, arrays, grads=(0,), rtol=1e-9):
    """Same inputs through both modules; outputs, then gradients of a random weighting."""
    out_s, in_s = _run(ours, arrays, grads, soma)
    out_t, in_t = _run(theirs, arrays, grads, torch)
    expected = out_t.detach().numpy()
    assert tuple(out_s.shape) == expected.shape
    np.testing.assert_allclose(out_s.detach().numpy(), expected, rtol=rtol, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(expected.shape)
    (out_s * soma.tensor(v)).sum().backward()
    (out_t * torch.tensor(v)).sum().backward()
    for i in grads:
        np.testing.assert_allclose(
            in_s[i].grad.numpy(), in_t[i].grad.numpy(), rtol=rtol, atol=1e-12, err_msg=str(i)
        )
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params_t[name].grad.numpy(), rtol=rtol)
    return out_s


R = np.random.default_rng(0)
X34 = R.standard_normal((3, 4))

LAYERS = [
    ("GLU", (), (R.standard_normal((2, 6)),)),
    ("GLU", (0,), (R.standard_normal((4, 3)),)),
    ("Softmax2d", (), (R.standard_normal((2, 3, 4, 5)),)),
    ("Softmax2d", (), (R.standard_normal((3, 4, 5)),)),
    ("ChannelShuffle", (2,), (R.standard_normal((2, 4, 3, 3)),)),
    ("RMSNorm", (4,), (R.standard_normal((3, 4)),)),
    ("RMSNorm", ((2, 4), 1e-3), (R.standard_normal((3, 2, 4)),)),
    ("CosineSimilarity", (), (X34, R.standard_normal((3, 4)))),
    ("CosineSimilarity", (0, 1e-6), (X34, R.standard_normal((3, 4)))),
    ("PairwiseDistance", (), (X34, R.standard_normal((3, 4)))),
    ("PairwiseDistance", (1.5, 1e-4, True), (X34, R.standard_normal((3, 4)))),
]


@needs_torch
@pytest.mark.parametrize("name, args, arrays", LAYERS, ids=[f"{n}{a}" for n, a, _ in LAYERS])
def test_layer_matches_torch(name, args, arrays):
    ours, theirs = getattr(soma.nn, name)(*args).double(), getattr(torch.nn, name)(*args)
    theirs = theirs.double()
    if list(theirs.parameters()):
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.randn(p.shape, dtype=p.dtype))
        ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    _compare(ours, theirs, arrays, grads=range(len(arrays)))
    assert repr(ours).startswith(name)


def _signs(shape):
    return R.choice([-1.0, 1.0], size=shape)


LOSSES = [
    (
        "MarginRankingLoss",
        dict(margin=0.2),
        (R.standard_normal(5), R.standard_normal(5), _signs(5)),
        (0, 1),
    ),
    ("HingeEmbeddingLoss", dict(margin=2.0), (R.uniform(0, 3, (3, 4)), _signs((3, 4))), (0,)),
    ("SoftMarginLoss", dict(reduction="sum"), (X34, _signs((3, 4))), (0,)),
    ("MultiLabelSoftMarginLoss", dict(), (X34, R.integers(0, 2, (3, 4)) * 1.0), (0,)),
    ("MultiMarginLoss", dict(p=2, margin=0.5), (X34, R.integers(0, 4, 3)), (0,)),
    (
        "TripletMarginLoss",
        dict(margin=2.0),
        (X34, R.standard_normal((3, 4)), R.standard_normal((3, 4))),
        (0, 1, 2),
    ),
    (
        "GaussianNLLLoss",
        dict(full=True),
        (X34, R.standard_normal((3, 4)), R.uniform(0.1, 2, (3, 4))),
        (0, 1, 2),
    ),
    ("PoissonNLLLoss", dict(reduction="none"), (X34, R.integers(0, 4, (3, 4)) * 1.0), (0,)),
    (
        "PoissonNLLLoss",
        dict(log_input=False, full=True),
        (R.uniform(0.1, 3, (3, 4)), R.integers(0, 4, (3, 4)) * 1.0),
        (0,),
    ),
]


@needs_torch
@pytest.mark.parametrize("name, kwargs, arrays, grads", LOSSES, ids=[n for n, *_ in LOSSES])
def test_loss_module_matches_torch(name, kwargs, arrays, grads):
    _compare(getattr(soma.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), arrays, grads)


@needs_torch
def test_multilabel_soft_margin_weight_is_a_buffer():
    w = R.uniform(0.5, 2, 4)
    ours = soma.nn.MultiLabelSoftMarginLoss(weight=soma.tensor(w))
    theirs = torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    _compare(ours, theirs, (X34, R.integers(0, 2, (3, 4)) * 1.0))


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_module_matches_torch_with_concatenated_targets(reduction):
    logits = R.standard_normal((8, 2, 6))
    targets, in_len, tg_len = np.array([1, 5, 5, 2, 3]), np.array([8, 6]), np.array([3, 2])
    results = []
    for fw in (soma, torch):
        x = fw.tensor(logits, requires_grad=True)
        loss = fw.nn.CTCLoss(blank=0, reduction=reduction)(
            x.log_softmax(2), fw.tensor(targets), fw.tensor(in_len), fw.tensor(tg_len)
        )
        loss.sum().backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-12)


def test_ctc_loss_by_hand():
    """Two frames, one label "1": alignments "1 1", "b 1", "1 b" → p = Σ of their products."""
    probs = np.array([[0.6, 0.4], [0.3, 0.7]])  # frame × class (0 = blank)
    lp = soma.tensor(np.log(probs)[:, None, :])
    loss = soma.nn.functional.ctc_loss(lp, soma.tensor([[1]]), [2], [1], reduction="sum")
    p = 0.4 * 0.7 + 0.6 * 0.7 + 0.4 * 0.3
    assert loss.item() == pytest.approx(-np.log(p), rel=1e-12)


def test_ctc_loss_unbatched_and_errors():
    lp = soma.randn(5, 4).log_softmax(1)
    assert soma.nn.functional.ctc_loss(lp, soma.tensor([1, 2]), 5, 2, reduction="none").shape == ()
    with pytest.raises(ValueError, match="input_lengths must be in"):
        soma.nn.functional.ctc_loss(lp.unsqueeze(1), soma.tensor([[1]]), [9], [1])
    with pytest.raises(ValueError, match="concatenated targets hold 2 labels"):
        soma.nn.functional.ctc_loss(lp.unsqueeze(1), soma.tensor([1, 2]), [5], [3])


# ---------------------------------------------------------------------- lazy layers
LAZY = [
    ("LazyLinear", "Linear", (3,), dict(), (4, 5)),
    ("LazyConv1d", "Conv1d", (4, 3), dict(padding=1), (2, 3, 7)),
    ("LazyConv2d", "Conv2d", (4, 3), dict(stride=2, groups=2), (2, 6, 7, 7)),
    ("LazyConv3d", "Conv3d", (2, 2), dict(bias=False), (1, 3, 4, 4, 4)),
]


@needs_torch
@pytest.mark.parametrize("lazy, eager, args, kwargs, shape", LAZY, ids=[c[0] for c in LAZY])
def test_lazy_layer_materialises_as_torchs(lazy, eager, args, kwargs, shape):
    ours = getattr(soma.nn, lazy)(*args, **kwargs, dtype=soma.float64)
    theirs = getattr(torch.nn, lazy)(*args, **kwargs, dtype=torch.float64)
    assert ours.has_uninitialized_params()
    x = R.standard_normal(shape)
    theirs(torch.tensor(x))  # materialise torch's, then copy its weights over ours
    ours(soma.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ == eager
    assert repr(ours) == repr(theirs)
    for name, p in theirs.named_parameters():
        assert tuple(dict(ours.named_parameters())[name].shape) == tuple(p.shape)
    ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    _compare(ours, theirs, (x,))


def test_lazy_linear_trains_with_an_optimizer_built_before_the_first_call():
    soma.manual_seed(0)
    model = soma.nn.Sequential(soma.nn.LazyLinear(8), soma.nn.Tanh(), soma.nn.LazyLinear(1))
    opt = soma.optim.Adam(model.parameters(), lr=0.05)
    x = soma.randn(32, 3)
    y = x.sum(1, keepdim=True)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model[0].weight.shape == (8, 3) and isinstance(model[0], soma.nn.Linear)
    assert losses[-1] < 0.1 * losses[0]
    # the default initialisation is Linear's: U(−1/√3, 1/√3) for the first layer
    fresh = soma.nn.LazyLinear(100)
    fresh(soma.zeros(1, 3))
    assert np.abs(fresh.weight.detach().numpy()).max() <= 1 / np.sqrt(3)


def test_lazy_layers_take_their_shapes_from_a_state_dict():
    trained = soma.nn.Sequential(soma.nn.Linear(5, 2), soma.nn.Conv1d(2, 3, 1))
    fresh = soma.nn.Sequential(soma.nn.LazyLinear(2), soma.nn.LazyConv1d(3, 1))
    fresh.load_state_dict(trained.state_dict())
    x = soma.randn(2, 2, 5)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), trained(x).detach().numpy())


def test_lazy_conv_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="5 channels, not a multiple of groups=2"):
        soma.nn.LazyConv2d(4, 3, groups=2)(soma.zeros(1, 5, 6, 6))


# ---------------------------------------------------------------------- hand values, errors
def test_hand_values():
    F = soma.nn.functional
    assert F.glu(soma.tensor([[1.0, 2.0, 0.0, 100.0]])).tolist()[0] == pytest.approx([0.5, 2.0])
    x, y = soma.tensor([[0.0, 3.0], [4.0, 0.0]]), soma.tensor([[0.0, 1.0], [1.0, 1.0]])
    assert F.cosine_similarity(x, y).tolist() == pytest.approx([1.0, 0.5**0.5])
    assert F.pairwise_distance(soma.tensor([1.0, 1.0]), soma.tensor([4.0, 5.0]), eps=0).item() == 5
    rms = soma.nn.RMSNorm(2, eps=0.0)(soma.tensor([[1.0, 7.0]]))
    assert rms.tolist()[0] == pytest.approx([1 / 5, 7 / 5])  # rms of (1, 7) is 5
    shuffled = soma.nn.ChannelShuffle(3)(soma.arange(6.0).reshape(1, 6, 1))
    assert shuffled.flatten().tolist() == [0, 2, 4, 1, 3, 5]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: soma.nn.functional.glu(soma.zeros(3)), ValueError, "even size"),
        (lambda: soma.nn.functional.rms_norm(soma.zeros(3, 4), (3,)), ValueError, "normalized"),
        (lambda: soma.nn.ChannelShuffle(4)(soma.zeros(1, 6, 2)), ValueError, "divisible"),
        (lambda: soma.nn.Softmax2d()(soma.zeros(4, 4)), ValueError, "3 or 4 dimensions"),
        (lambda: soma.nn.TripletMarginLoss(margin=0), ValueError, "greater than 0"),
        (lambda: soma.nn.MultiMarginLoss(p=3), ValueError, "p = 1 and p = 2"),
        (
            lambda: soma.nn.GaussianNLLLoss()(soma.zeros(2), soma.zeros(2), -soma.ones(2)),
            ValueError,
            "negative",
        ),
        (
            lambda: soma.nn.functional.margin_ranking_loss(
                soma.zeros(2), soma.zeros(3), soma.ones(2)
            ),
            ValueError,
            "shapes must match",
        ),
        (
            lambda: soma.nn.functional.cosine_similarity(soma.zeros(2, 3), soma.zeros(4, 3)),
            ValueError,
            "do not broadcast",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
