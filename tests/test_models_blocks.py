"""The zoo's building blocks, initialisation schemes, ``no_init``/``skip_init``, and MobileNet
v1 against the lecture's layer table."""

import math

import numpy as np
import pytest

import soma
from soma import nn
from soma.inspection import summary
from soma.models import get_model
from soma.models.blocks import (
    BasicBlock,
    Bottleneck,
    DenseBlock,
    DenseLayer,
    DepthwiseSeparableConv,
    InceptionModule,
    InvertedResidual,
    MBConv,
    SqueezeExcitation,
    StochasticDepth,
    make_divisible,
    projection,
)
from soma.nn import init
from soma.nn.utils import skip_init


# ---------------------------------------------------------------------- no_init / skip_init
def test_no_init_leaves_tensors_untouched_and_nests():
    t = soma.ones(3, 4)
    with init.no_init():
        init.normal_(t)
        with init.no_init():
            init.kaiming_uniform_(t)
        init.xavier_normal_(t)
        init.constant_(t, 5.0)
    assert t.tolist() == [[1.0] * 4] * 3
    init.constant_(t, 5.0)  # active again after the block
    assert float(t.sum()) == 60.0


def test_no_init_is_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with init.no_init():
            raise RuntimeError("boom")
    t = soma.zeros(2, 2)
    init.ones_(t)
    assert float(t.sum()) == 4.0


def test_skip_init_builds_the_same_module_without_drawing():
    state = soma.backend.random.default_generator.get_state()
    layer = skip_init(nn.Conv2d, 3, 8, 3, bias=True)
    assert soma.backend.random.default_generator.get_state() == state  # no random draws
    assert tuple(layer.weight.shape) == (8, 3, 3, 3) and tuple(layer.bias.shape) == (8,)


class _NaNEmpty:
    """Stands in for the array module: ``empty`` returns NaN-filled float arrays."""

    def __init__(self, xp):
        self._xp = xp

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def empty(self, shape, dtype=None):
        array = self._xp.empty(shape, dtype=dtype)
        if array.dtype.kind == "f":
            array.fill(np.nan)
        return array


SMALL = {
    "alexnet": {"cifar_stem": True},
    "vgg11_bn": {"cifar_stem": True},
    "googlenet": {"aux_logits": True},
    "resnet18": {"width": 8},
    "resnet50": {"width": 8},
    "densenet121": {"growth_rate": 4, "num_init_features": 8},
    "mobilenet_v1": {"alpha": 0.25},
    "mobilenet_v2": {"width_mult": 0.25},
    "efficientnet_b0": {},
    "squeezenet1_1": {},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_parameter_and_buffer_is_initialised(name, monkeypatch):
    """Memory from ``empty`` is NaN here: a value left uninitialised would show."""
    import soma.autograd.factory as factory

    monkeypatch.setattr(factory, "_xp", _NaNEmpty(factory._xp))
    model = get_model(name, num_classes=10, **SMALL[name])
    for key, value in model.state_dict().items():
        assert np.isfinite(value.numpy()).all(), f"{name}: {key} was not initialised"


# ---------------------------------------------------------------------- initialisation schemes
def test_resnet_initialisation_is_torchvisions():
    model = get_model("resnet50", zero_init_residual=True)
    w = model.layer3[0].conv2.weight.detach().numpy()  # 256 × 256 × 3 × 3
    assert w.std() == pytest.approx(math.sqrt(2 / (256 * 9)), rel=0.02)  # He, fan-out
    assert (model.layer3[0].bn1.weight.detach().numpy() == 1).all()
    assert (model.layer3[0].bn3.weight.detach().numpy() == 0).all()  # zero_init_residual
    bound = 1 / math.sqrt(2048)  # fc keeps PyTorch's default
    assert np.abs(model.fc.weight.detach().numpy()).max() <= bound
    assert model.fc.weight.detach().numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_vgg_mobilenet_v2_and_efficientnet_classifier_schemes():
    vgg = get_model("vgg11", num_classes=10, cifar_stem=True)
    assert vgg.classifier[0].weight.detach().numpy().std() == pytest.approx(0.01, rel=0.02)
    assert (vgg.classifier[0].bias.detach().numpy() == 0).all()
    assert (vgg.features[0].bias.detach().numpy() == 0).all()
    v2 = get_model("mobilenet_v2")
    assert v2.classifier[1].weight.detach().numpy().std() == pytest.approx(0.01, rel=0.02)
    eff = get_model("efficientnet_b0")
    w = eff.classifier[1].weight.detach().numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(1000)
    assert w.std() == pytest.approx(1 / math.sqrt(3000), rel=0.02)
    assert (eff.features[2][0].block[2].fc1.bias.detach().numpy() == 0).all()


def test_googlenet_squeezenet_densenet_schemes():
    g = get_model("googlenet")
    w = g.inception4a.branch2[1].conv.weight.detach().numpy()
    assert w.std() == pytest.approx(0.01, rel=0.03) and np.abs(w).max() < 0.06
    sq = get_model("squeezenet1_1")
    assert sq.classifier[1].weight.detach().numpy().std() == pytest.approx(0.01, rel=0.05)
    fire = sq.features[3].expand3x3.weight.detach().numpy()  # He-uniform, gain √2
    assert np.abs(fire).max() <= math.sqrt(6 / (16 * 9))
    d = get_model("densenet121")
    assert (d.classifier.bias.detach().numpy() == 0).all()
    conv = d.features.denseblock2.denselayer3.conv1.weight.detach().numpy()  # He-normal, fan-in
    assert conv.std() == pytest.approx(math.sqrt(2 / conv[0].size), rel=0.03)


def test_mobilenet_v1_uses_keras_glorot_with_keras_fans():
    model = get_model("mobilenet_v1")
    pw = model.conv_pw_13.weight.detach().numpy()  # 1×1, 1024 → 1024
    assert np.abs(pw).max() <= math.sqrt(6 / 2048)
    assert pw.std() == pytest.approx(math.sqrt(6 / 2048) / math.sqrt(3), rel=0.02)
    dw = model.conv_dw_13.weight.detach().numpy()  # Keras kernel (3, 3, 1024, 1)
    limit = math.sqrt(6 / (9 * 1024 + 9))
    assert np.abs(dw).max() <= limit and np.abs(dw).max() > 0.9 * limit
    bn = model.conv_dw_13_bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)  # Keras' defaults


# ---------------------------------------------------------------------- blocks
def test_residual_blocks_add_the_shortcut():
    block = BasicBlock(8, 8).eval()
    x = soma.randn(2, 8, 5, 5)
    with soma.no_grad():
        inner = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
        np.testing.assert_allclose(
            block(x).numpy(), np.maximum(inner.numpy() + x.numpy(), 0), rtol=1e-5, atol=1e-6
        )
    bottleneck = Bottleneck(256, 64, stride=2, downsample=projection(256, 256, 2))
    assert tuple(bottleneck(soma.randn(1, 256, 8, 8)).shape) == (1, 256, 4, 4)
    assert bottleneck.conv2.stride == (2, 2)  # v1.5: stride on the 3×3
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        BasicBlock(8, 8, groups=2)


def test_inception_module_concatenates_four_branches():
    module = InceptionModule(32, 8, 4, 16, 2, 4, 4, ch5x5_kernel_size=5)
    assert module.branch3[1].conv.kernel_size == (5, 5)
    out = module(soma.randn(2, 32, 7, 7))
    assert tuple(out.shape) == (2, 8 + 16 + 4 + 4, 7, 7)
    with soma.no_grad():
        module.eval()
        x = soma.randn(1, 32, 7, 7)
        np.testing.assert_allclose(
            module(x).numpy()[:, 8:24], module.branch2(x).numpy(), rtol=1e-6
        )


def test_dense_block_grows_by_the_growth_rate():
    block = DenseBlock(3, 16, bn_size=2, growth_rate=4).eval()
    x = soma.randn(1, 16, 6, 6)
    with soma.no_grad():
        out = block(x)
        assert tuple(out.shape) == (1, 16 + 3 * 4, 6, 6)
        np.testing.assert_array_equal(out.numpy()[:, :16], x.numpy())  # the input is kept
        first = block.denselayer1([x])
        np.testing.assert_allclose(out.numpy()[:, 16:20], first.numpy(), rtol=1e-6)
    assert block.denselayer3.conv1.in_channels == 24
    assert isinstance(block.denselayer1, DenseLayer)


def test_depthwise_separable_keras_padding_pads_bottom_right():
    block = DepthwiseSeparableConv(4, 8, stride=2, keras_padding=True).eval()
    x = soma.randn(1, 4, 6, 6)
    with soma.no_grad():
        padded = soma.nn.functional.pad(x, (0, 1, 0, 1))
        expected = soma.nn.functional.conv2d(padded, block.conv_dw.weight, stride=2, groups=4)
        np.testing.assert_allclose(
            block.conv_dw(block.conv_pad(x)).numpy(), expected.numpy(), rtol=1e-6
        )
        assert tuple(block(x).shape) == (1, 8, 3, 3)
    symmetric = DepthwiseSeparableConv(4, 8, stride=2)
    assert not hasattr(symmetric, "conv_pad") and symmetric.conv_dw.padding == (1, 1)
    doubled = DepthwiseSeparableConv(4, 8, depth_multiplier=2)
    assert tuple(doubled.conv_dw.weight.shape) == (8, 1, 3, 3)


def test_inverted_residual_and_mbconv_residuals():
    block = InvertedResidual(16, 16, 1, 6).eval()
    assert block.use_res_connect and len(block.conv) == 4
    x = soma.randn(1, 16, 5, 5)
    with soma.no_grad():
        np.testing.assert_allclose((block(x) - x).numpy(), block.conv(x).numpy(), atol=1e-5)
    assert not InvertedResidual(16, 24, 2, 6).use_res_connect
    assert len(InvertedResidual(16, 16, 1, 1).conv) == 3  # no expansion at t = 1
    mb = MBConv(16, 16, 6, 5, 1, stochastic_depth_prob=0.5).eval()
    with soma.no_grad():  # evaluation: no dropping
        np.testing.assert_allclose((mb(x) - x).numpy(), mb.block(x).numpy(), atol=1e-5)


def test_squeeze_excitation_formula():
    se = SqueezeExcitation(6, 2)
    x = soma.randn(2, 6, 3, 3)
    pooled = x.numpy().mean(axis=(2, 3))
    w1, b1 = se.fc1.weight.detach().numpy()[:, :, 0, 0], se.fc1.bias.detach().numpy()
    w2, b2 = se.fc2.weight.detach().numpy()[:, :, 0, 0], se.fc2.bias.detach().numpy()
    hidden = np.maximum(pooled @ w1.T + b1, 0)
    scale = 1 / (1 + np.exp(-(hidden @ w2.T + b2)))
    expected = x.numpy() * scale[:, :, None, None]
    np.testing.assert_allclose(se(x).detach().numpy(), expected, rtol=1e-5)


def test_stochastic_depth_drops_whole_samples_and_keeps_the_mean():
    layer = StochasticDepth(0.25, "row", generator=soma.Generator().manual_seed(0))
    x = soma.ones(4000, 3, 2, 2)
    y = layer(x).numpy().reshape(4000, -1)
    rows = np.unique(y, axis=1)  # each sample: all zero or all 1 / 0.75
    assert rows.shape[1] == 1 and set(np.unique(rows)) <= {0.0, np.float32(1 / 0.75)}
    assert y.mean() == pytest.approx(1.0, abs=0.05)
    assert layer.eval()(x) is x
    batch = StochasticDepth(0.5, "batch")(soma.ones(8, 2)).numpy()
    assert len(np.unique(batch)) == 1
    assert float(StochasticDepth(1.0)(soma.ones(3, 2)).sum()) == 0.0
    with pytest.raises(ValueError, match="p must be in"):
        StochasticDepth(1.5)


def test_make_divisible():
    assert [make_divisible(v) for v in (32 * 0.25, 16 * 0.35, 96, 24 * 1.1, 1280 * 0.75)] == [
        8,
        8,
        96,
        24,
        960,
    ]


# ---------------------------------------------------------------------- the lecture's table
# "MobileNet v1" layer table of lecture 002 (type / stride, filter shape, input size H×W×C)
LECTURE_TABLE = [
    ("conv", 2, (3, 3, 3, 32), (224, 224, 3)),
    ("dw", 1, (3, 3, 32), (112, 112, 32)),
    ("conv", 1, (1, 1, 32, 64), (112, 112, 32)),
    ("dw", 2, (3, 3, 64), (112, 112, 64)),
    ("conv", 1, (1, 1, 64, 128), (56, 56, 64)),
    ("dw", 1, (3, 3, 128), (56, 56, 128)),
    ("conv", 1, (1, 1, 128, 128), (56, 56, 128)),
    ("dw", 2, (3, 3, 128), (56, 56, 128)),
    ("conv", 1, (1, 1, 128, 256), (28, 28, 128)),
    ("dw", 1, (3, 3, 256), (28, 28, 256)),
    ("conv", 1, (1, 1, 256, 256), (28, 28, 256)),
    ("dw", 2, (3, 3, 256), (28, 28, 256)),
    ("conv", 1, (1, 1, 256, 512), (14, 14, 256)),
    *[("dw", 1, (3, 3, 512), (14, 14, 512)), ("conv", 1, (1, 1, 512, 512), (14, 14, 512))] * 5,
    ("dw", 2, (3, 3, 512), (14, 14, 512)),
    ("conv", 1, (1, 1, 512, 1024), (7, 7, 512)),
    # printed "Conv dw / s2", but its 7×7 input stays 7×7: stride 1 in the paper's network
    ("dw", 1, (3, 3, 1024), (7, 7, 1024)),
    ("conv", 1, (1, 1, 1024, 1024), (7, 7, 1024)),
    ("pool", 1, (7, 7), (7, 7, 1024)),
    ("fc", 1, (1024, 1000), (1, 1, 1024)),
]


def _rows(s):
    """(kind, stride, filter shape, input H×W×C) per layer, as the lecture's table prints them;
    a strided block's input is taken before its Keras padding."""
    rows, pending_pad = [], None
    for call in s.calls[1:]:
        m, shape = call.module, call.input_shape
        if isinstance(m, nn.ZeroPad2d):
            pending_pad = shape
            continue
        size = pending_pad or shape
        hwc = (size[2], size[3], size[1]) if len(size) == 4 else None
        pending_pad = None
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size
            if m.groups > 1:
                rows.append(("dw", m.stride[0], (*k, m.in_channels), hwc))
            elif m.out_channels == 1000:
                rows.append(("fc", m.stride[0], (m.in_channels, 1000), hwc))
            else:
                rows.append(("conv", m.stride[0], (*k, m.in_channels, m.out_channels), hwc))
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            rows.append(("pool", 1, shape[2:], hwc))
    return rows


def test_mobilenet_v1_reproduces_the_lecture_table():
    model = skip_init(get_model, "mobilenet_v1")
    for p in model.parameters():
        init.zeros_(p)
    s = summary(model, (1, 3, 224, 224))
    assert _rows(s) == LECTURE_TABLE
    assert s.total_params == 4_231_976
    convs = sum(c.own_mult_adds for c in s.calls if c.kind == "Conv2d")
    assert round(convs / 1e6) == 569  # the paper's 569 million mult-adds


def test_mobilenet_v1_width_and_depth_multipliers():
    model = skip_init(get_model, "mobilenet_v1", alpha=0.5, depth_multiplier=2)
    assert model.conv1.out_channels == 16
    assert tuple(model.conv_dw_1.weight.shape) == (32, 1, 3, 3)  # 16 channels × 2
    assert tuple(model.conv_pw_1.weight.shape) == (32, 32, 1, 1)
    assert model.conv_pw_13.out_channels == 512
    names = [n for n, _ in model.named_children()]
    assert names[:8] == [
        "conv1_pad",
        "conv1",
        "conv1_bn",
        "conv1_relu",
        "conv_dw_1",
        "conv_dw_1_bn",
        "conv_dw_1_relu",
        "conv_pw_1",
    ]
    assert (
        "conv_pad_2" in names
        and "conv_pad_3" not in names
        and names[-2:] == ["conv_preds", "reshape_2"]
    )
    with pytest.raises(ValueError, match="alpha must be > 0"):
        get_model("mobilenet_v1", alpha=0)
