"""Dropout layers: mask statistics and scaling, channel masks, alpha dropout, generators,
MC dropout."""

import warnings

import numpy as np
import pytest

import soma
from soma import nn
from soma.nn.functional import alpha_dropout, dropout, dropout2d, feature_alpha_dropout
from soma.nn.utils import mc_dropout_predict
from tests.torch_oracle import torch

N = 200_000


def _within(count, n, p, sigmas=5.0):
    return abs(count - n * p) <= sigmas * np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.3001, 0.9])
def test_dropout_rate_and_inverted_scaling(p):
    x = soma.ones(N, requires_grad=True)
    y = nn.Dropout(p)(x)
    values = y.detach().numpy()
    dropped = values == 0
    assert _within(dropped.sum(), N, p)
    np.testing.assert_allclose(values[~dropped], np.float32(1 / (1 - p)), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # dy/dx = mask / (1 − p)


def test_dropout_eval_is_identity_and_p_edges():
    x = soma.randn(5, 7)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert dropout(x, 0.0) is x
    assert float(dropout(x, 1.0).abs().sum()) == 0.0
    assert nn.Dropout(0.3).train()(soma.zeros(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("order", [(0, 2, 3, 1), (1, 0, 2, 3)])
def test_dropout_keeps_a_permuted_layout(order):
    """A channels-last (or channel-major) input keeps its memory layout through dropout, as
    PyTorch's dropout preserves channels_last: the layers after it, and the backward passes
    before it, then work in one layout. The mask is the one a row-major input of the same
    values gets from the same seed (drawn in logical order), and so is the gradient."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    stored = np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))
    gy = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for a in (x, stored):
        xs = soma.Tensor(a, requires_grad=True)
        ys = dropout(xs, 0.4, generator=soma.Generator().manual_seed(11))
        ys.backward(soma.tensor(gy))
        results.append((ys.detach().numpy(), xs.grad.numpy()))
    (y_rows, gx_rows), (y_kept, gx_kept) = results
    np.testing.assert_array_equal(y_kept, y_rows)
    np.testing.assert_array_equal(gx_kept, gx_rows)
    assert y_kept.transpose(order).flags.c_contiguous
    assert (y_rows == 0).any() and (y_rows != 0).any()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_validates_p(p):
    for make in (nn.Dropout, nn.Dropout2d, nn.AlphaDropout):
        with pytest.raises(ValueError, match=f"between 0 and 1, but got {p}"):
            make(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(soma.ones(3), p)


def test_generator_makes_masks_reproducible():
    x = soma.ones(1000)
    a = dropout(x, 0.5, generator=soma.Generator().manual_seed(3))
    b = dropout(x, 0.5, generator=soma.Generator().manual_seed(3))
    c = dropout(x, 0.5, generator=soma.Generator().manual_seed(4))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    layer = nn.Dropout(0.5, generator=soma.Generator().manual_seed(3))
    np.testing.assert_array_equal(layer(x).numpy(), a.numpy())
    soma.manual_seed(11)
    d = nn.Dropout(0.5)(x)
    soma.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), d.numpy())


@pytest.mark.parametrize(
    "layer,shape,plane_axes",
    [
        ("Dropout1d", (40, 50, 6), (2,)),
        ("Dropout1d", (400, 6), (1,)),
        ("Dropout2d", (40, 50, 3, 4), (2, 3)),
        ("Dropout3d", (40, 50, 2, 3, 2), (2, 3, 4)),
        ("Dropout3d", (400, 2, 3, 2), (1, 2, 3)),
    ],
)
def test_channel_dropout_zeroes_whole_channels(layer, shape, plane_axes):
    x = soma.ones(*shape, requires_grad=True)
    y = getattr(nn, layer)(0.4)(x)
    values = y.detach().numpy()
    per_channel = values.max(axis=plane_axes)
    np.testing.assert_array_equal(values.min(axis=plane_axes), per_channel)  # whole channels
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.6)}
    assert _within((per_channel == 0).sum(), per_channel.size, 0.4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)


def test_dropout2d_rank_rules_warn_like_pytorch():
    x = soma.ones(30, 40, 5)
    with pytest.warns(UserWarning, match="3D input"):
        y = dropout2d(x, 0.5)
    values = y.numpy()
    np.testing.assert_array_equal(values.min(axis=2), values.max(axis=2))  # (N, C, L) channels
    with pytest.warns(UserWarning, match="2-D input"):
        dropout2d(soma.ones(4, 5), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dropout2d(soma.ones(2, 3, 4, 4), 0.5)
    with pytest.raises(ValueError, match=r"dropout1d.*\(2, 3, 4, 5\)"):
        nn.Dropout1d()(soma.ones(2, 3, 4, 5))


def test_inplace_dropout_writes_into_input():
    x = soma.ones(1000)
    y = nn.Dropout(0.5, inplace=True)(x)
    assert y is x
    assert set(np.unique(x.numpy())) == {0.0, 2.0}


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_alpha_dropout_keeps_mean_and_variance(p):
    x = soma.randn(N, generator=soma.Generator().manual_seed(0))
    y = nn.AlphaDropout(p)(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # dropped units all take one value: a·(−1.7581) + b
    a = 1 / np.sqrt((1.7580993408473766**2 * p + 1) * (1 - p))
    low = -1.7580993408473766 * a * (1 - p)
    assert _within(np.isclose(y, low, atol=1e-6).sum(), N, p)


def test_alpha_dropout_eval_and_feature_variant():
    x = soma.randn(4, 6, 5)
    assert nn.AlphaDropout(0.5).eval()(x) is x
    assert alpha_dropout(x, 0.5) is x  # functional default training=False, as in PyTorch
    z = feature_alpha_dropout(soma.zeros(50, 60, 7), 0.5, training=True).numpy()
    np.testing.assert_array_equal(z.min(axis=2), z.max(axis=2))
    assert len(np.unique(z)) == 2
    y = nn.FeatureAlphaDropout(0.2)(soma.randn(400, 500, 2)).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Dropout(),
        lambda m: m.Dropout2d(0.2, True),
        lambda m: m.AlphaDropout(0.1),
        lambda m: m.Dropout1d(0.3),
    ],
)
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


# ---------------------------------------------------------------------------- MC dropout
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 32)
        self.bn = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        return self.fc2(self.drop(self.bn(self.fc1(x))))


def test_mc_dropout_predict_keeps_batchnorm_in_eval_and_restores_modes():
    net = _Net()
    net(soma.randn(16, 3))  # one training step: running statistics are no longer the defaults
    net.fc2.eval()  # a mixed state, restored exactly
    modes = {name: m.training for name, m in net.named_modules()}
    stats = net.bn.running_mean.numpy().copy()
    x = soma.randn(5, 3)
    mean, std = mc_dropout_predict(net, x, n=1500)
    assert tuple(mean.shape) == (5, 2) and tuple(std.shape) == (5, 2)
    assert not mean.requires_grad
    np.testing.assert_array_equal(net.bn.running_mean.numpy(), stats)
    assert {name: m.training for name, m in net.named_modules()} == modes
    assert bool((std > 0).all())
    # dropout sits before a linear layer: the Monte Carlo mean tends to the eval output
    net.eval()
    expected = net(x).detach().numpy()
    np.testing.assert_allclose(mean.numpy(), expected, atol=6 * std.numpy().max() / np.sqrt(1500))


def test_mc_dropout_predict_is_reproducible_and_restores_on_error():
    net = _Net()
    soma.manual_seed(5)
    a = mc_dropout_predict(net, soma.ones(2, 3), n=3)[0]
    soma.manual_seed(5)
    b = mc_dropout_predict(net, soma.ones(2, 3), n=3)[0]
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError):
        mc_dropout_predict(net, soma.ones(2, 4), n=3)
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="at least 2"):
        mc_dropout_predict(net, soma.ones(2, 3), n=1)
