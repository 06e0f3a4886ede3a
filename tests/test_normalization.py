"""Normalization layers against torch.nn: outputs, gradients, running statistics, state dicts."""

import numpy as np
import pytest

import soma
from soma import nn
from tests.layer_helpers import compare_layers
from tests.torch_oracle import torch

BN_CASES = [
    ("BatchNorm1d", (6, 4)),
    ("BatchNorm1d", (5, 4, 7)),
    ("BatchNorm2d", (3, 4, 5, 6)),
    ("BatchNorm2d", (2, 4, 1, 1)),
    ("BatchNorm3d", (2, 4, 3, 2, 5)),
]
BN_OPTIONS = [
    dict(),
    dict(affine=False),
    dict(momentum=None),
    dict(momentum=0.5, eps=1e-3),
    dict(track_running_stats=False),
    dict(affine=False, track_running_stats=False),
    dict(bias=False),
]


def _pair(layer, c, **kw):
    ours = getattr(nn, layer)(c, **kw).double()
    theirs = getattr(torch.nn, layer)(c, **kw).double()
    if kw.get("affine", True):  # non-trivial γ, β
        rng = np.random.default_rng(3)
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, c)))
            if theirs.bias is not None:
                theirs.bias.copy_(torch.tensor(rng.standard_normal(c)))
    return ours, theirs


def _assert_same_state(ours, theirs, rtol=1e-10):
    state_t = theirs.state_dict()
    state_s = ours.state_dict()
    assert list(state_s) == list(state_t)
    for key, value in state_t.items():
        assert state_s[key].dtype == value.numpy().dtype, key
        np.testing.assert_allclose(state_s[key].numpy(), value.numpy(), rtol=rtol, err_msg=key)


@pytest.mark.parametrize("layer,shape", BN_CASES, ids=str)
@pytest.mark.parametrize("kw", BN_OPTIONS, ids=str)
def test_batchnorm_training_steps_then_eval(layer, shape, kw):
    """Several training steps (outputs, all gradients, running statistics), then evaluation."""
    ours, theirs = _pair(layer, shape[1], **kw)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        compare_layers(ours, theirs, x, copy=step == 0, rtol=1e-9, atol=1e-10)
        _assert_same_state(ours, theirs)
        for p in list(ours.parameters()) + list(theirs.parameters()):
            p.grad = None
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    compare_layers(ours, theirs, x, copy=False, rtol=1e-9, atol=1e-10)
    _assert_same_state(ours, theirs)


def test_batchnorm_float32_matches_torch():
    ours, theirs = nn.BatchNorm2d(8), torch.nn.BatchNorm2d(8)
    x = np.random.default_rng(0).standard_normal((16, 8, 7, 7)).astype(np.float32)
    # large means take the two-pass statistics; float32 then resolves x only to ~1e-5·mean
    for shift, atol in ((0.0, 2e-5), (5.0, 2e-5), (300.0, 1e-4)):
        compare_layers(ours, theirs, x + np.float32(shift), rtol=2e-4, atol=atol)
        _assert_same_state(ours, theirs, rtol=1e-5)


def test_batchnorm_state_dict_transfers_both_ways():
    theirs = torch.nn.BatchNorm2d(5)
    theirs(torch.randn(4, 5, 3, 3) * 2 + 1)
    ours = nn.BatchNorm2d(5)
    ours.load_state_dict(theirs.state_dict())
    assert ours.num_batches_tracked.dtype == np.int64
    assert int(ours.num_batches_tracked.item()) == 1
    x = np.random.default_rng(0).standard_normal((2, 5, 3, 3)).astype(np.float32)
    ours.eval()
    theirs.eval()
    compare_layers(ours, theirs, x, copy=False, rtol=1e-5, atol=1e-6)
    back = torch.nn.BatchNorm2d(5)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    _assert_same_state(ours, back)


def test_batchnorm_cumulative_average_with_momentum_none():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.random.default_rng(i).standard_normal((8, 2)) + i for i in range(4)]
    for b in batches:
        bn(soma.tensor(b))
    np.testing.assert_allclose(
        bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        bn.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-5
    )


def test_batchnorm_eval_without_running_stats_uses_batch_statistics():
    bn = nn.BatchNorm2d(3, track_running_stats=False).eval()
    x = soma.randn(4, 3, 5, 5) * 3 + 2
    y = bn(x)
    assert y.mean((0, 2, 3)).abs().max().item() < 1e-5
    assert bn.running_mean is None and "running_mean" not in bn.state_dict()


def test_batchnorm_errors_name_layer_and_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm2d.*32 channels.*\(8, 16, 4, 4\)"):
        nn.BatchNorm2d(32)(soma.zeros(8, 16, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d.*expected 4D input, got 3D"):
        nn.BatchNorm2d(3)(soma.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\[1, 3\]"):
        nn.BatchNorm1d(3)(soma.zeros(1, 3))
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(5))
    with pytest.raises(ValueError, match=r"layer '1' \(BatchNorm1d\).*5 channels"):
        net(soma.zeros(2, 4))
    nn.BatchNorm1d(3).eval()(soma.zeros(1, 3))  # one sample is fine in evaluation


def test_batchnorm_repr_matches_torch():
    for kw in (dict(), dict(momentum=None, affine=False), dict(bias=False)):
        assert repr(nn.BatchNorm2d(16, **kw)) == repr(torch.nn.BatchNorm2d(16, **kw))


# ---------------------------------------------------------------------------- per-sample norms
@pytest.mark.parametrize(
    "shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)), ((3, 2, 4), (3, 2, 4))], ids=str
)
@pytest.mark.parametrize(
    "kw", [dict(), dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-2)], ids=str
)
def test_layernorm_matches_torch(shape, normalized, kw):
    ours, theirs = (
        nn.LayerNorm(normalized, **kw).double(),
        torch.nn.LayerNorm(normalized, **kw).double(),
    )
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.normal_()
    x = np.random.default_rng(0).standard_normal(shape)
    compare_layers(ours, theirs, x, rtol=1e-9)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "groups,channels,shape",
    [(2, 6, (3, 6, 5)), (3, 6, (2, 6, 4, 4)), (1, 4, (2, 4, 3)), (4, 4, (2, 4, 2, 2, 3))],
)
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_matches_torch(groups, channels, shape, affine):
    ours = nn.GroupNorm(groups, channels, affine=affine).double()
    theirs = torch.nn.GroupNorm(groups, channels, affine=affine).double()
    if affine:
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    compare_layers(ours, theirs, np.random.default_rng(0).standard_normal(shape), rtol=1e-9)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "layer,shape",
    [
        ("InstanceNorm1d", (3, 4, 7)),
        ("InstanceNorm1d", (4, 7)),
        ("InstanceNorm2d", (2, 4, 5, 6)),
        ("InstanceNorm2d", (4, 5, 6)),
        ("InstanceNorm3d", (2, 4, 3, 2, 5)),
    ],
    ids=str,
)
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(affine=True),
        dict(track_running_stats=True),
        dict(affine=True, track_running_stats=True, momentum=0.4),
    ],
    ids=str,
)
def test_instancenorm_matches_torch(layer, shape, kw):
    c = shape[-4 if layer == "InstanceNorm3d" else -3 if layer == "InstanceNorm2d" else -2]
    ours, theirs = getattr(nn, layer)(c, **kw).double(), getattr(torch.nn, layer)(c, **kw).double()
    if kw.get("affine"):
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    rng = np.random.default_rng(0)
    for step in range(2):
        compare_layers(ours, theirs, rng.standard_normal(shape) + step, copy=step == 0, rtol=1e-9)
        _assert_same_state(ours, theirs)
    ours.eval()
    theirs.eval()
    compare_layers(ours, theirs, rng.standard_normal(shape), copy=False, rtol=1e-9)
    assert repr(ours) == repr(theirs)


def test_instancenorm_channel_mismatch():
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*3 channels"):
        nn.InstanceNorm2d(3, affine=True)(soma.zeros(2, 4, 5, 5))
    with pytest.warns(UserWarning, match="InstanceNorm2d"):
        nn.InstanceNorm2d(3)(soma.randn(2, 4, 5, 5))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 7, 5), (2, 6, 3, 4), (1, 5, 2, 3, 2)], ids=str)
def test_local_response_norm_matches_torch(size, shape):
    ours = nn.LocalResponseNorm(size, alpha=0.1, beta=0.75, k=2.0)
    theirs = torch.nn.LocalResponseNorm(size, alpha=0.1, beta=0.75, k=2.0)
    compare_layers(ours, theirs, np.random.default_rng(0).standard_normal(shape), rtol=1e-9)
    assert repr(ours) == repr(theirs)


def test_norm_errors():
    with pytest.raises(ValueError, match=r"GroupNorm.*divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm.*6 channels.*\(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(soma.zeros(2, 4, 3))
    with pytest.raises(ValueError, match=r"LayerNorm.*does not end with normalized_shape \(5,\)"):
        nn.LayerNorm(5)(soma.zeros(2, 4))
    with pytest.raises(ValueError, match=r"local_response_norm.*3D or higher"):
        nn.LocalResponseNorm(2)(soma.zeros(2, 4))
