"""Segmentation models: U-Net, DeepLabv3 (ASPP) and FPN.

Parameter counts at the reference settings, output shapes, the lectures' facts (U-Net keeps the
input's size with padding; ASPP at dilations 1, 2, 4 keeps the map's size), and forward and
backward against PyTorch twins written here from ``torch.nn`` primitives with torchvision's
names (torchvision is not a test dependency), weights copied by state dict.
"""

import numpy as np
import pytest

import soma
from soma.models import UNet, deeplabv3, fpn, get_model
from soma.models.blocks import ASPP, DeepLabHead, FeaturePyramidNetwork
from soma.nn.utils import skip_init
from tests.conftest import copy_weights


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------- counts and shapes
def test_unet_parameter_count_at_the_papers_settings_layer_by_layer():
    def conv(cin, cout, k=3):
        return cin * cout * k * k + cout

    widths = [64, 128, 256, 512, 1024]
    expected = conv(1, 64) + conv(64, 64)  # the first stage
    for cin, cout in zip(widths, widths[1:]):  # contracting path
        expected += conv(cin, cout) + conv(cout, cout)
    for cin, cout in zip(widths[::-1], widths[-2::-1]):  # expanding path
        expected += (cin * cout * 2 * 2 + cout) + conv(cin, cout) + conv(cout, cout)
    expected += conv(64, 2, 1)  # the 1×1 head
    assert expected == 31_030_658
    model = skip_init(UNet, in_channels=1, num_classes=2)  # the paper's settings
    assert n_params(model) == expected
    convs = [
        m for m in model.modules() if isinstance(m, (soma.nn.Conv2d, soma.nn.ConvTranspose2d))
    ]
    assert len(convs) == 23  # "In total the network has 23 convolutional layers."


def test_unet_paper_geometry_572_to_388_without_padding():
    # The paper's tile: 572×572 in, 388×388 out (unpadded 3×3 convolutions, cropped skips).
    # Width 2 keeps this cheap: the sizes depend only on depth and padding.
    model = UNet(1, 2, width=2, padding=False)
    with soma.no_grad():
        assert model(soma.zeros(1, 1, 572, 572)).shape == (1, 2, 388, 388)


@pytest.mark.parametrize("size", [(32, 32), (36, 44), (33, 35)])
def test_unet_output_has_the_inputs_size_with_padding(size):
    # the lecture: "Output dimensionality same as input" (odd sizes: the up-sampled map is padded)
    model = UNet(3, 5, depth=3, width=4)
    with soma.no_grad():
        assert model(soma.randn(2, 3, *size)).shape == (2, 5, *size)


@pytest.mark.parametrize("rates", [(1, 2, 4), (1,), (6, 12, 18)])
def test_aspp_at_any_dilation_keeps_the_map_size(rates):
    # the lecture's ASPP with dilation = 1, 2, 4: every branch keeps H×W
    aspp = ASPP(8, rates, out_channels=6).eval()
    with soma.no_grad():
        assert aspp(soma.randn(2, 8, 13, 9)).shape == (2, 6, 13, 9)
        for branch in aspp.convs:
            assert branch(soma.randn(1, 8, 13, 9)).shape == (1, 6, 13, 9)


def test_deeplabv3_counts_match_torchvision():
    # torchvision's deeplabv3_resnet50(num_classes=21, aux_loss=True): 42,004,074 parameters
    assert n_params(skip_init(deeplabv3, num_classes=21, aux_loss=True)) == 42_004_074
    assert n_params(skip_init(deeplabv3, num_classes=21)) == 39_638_869


def test_deeplabv3_state_dict_keys_are_torchvisions():
    keys = set(skip_init(deeplabv3, num_classes=21, aux_loss=True).state_dict())
    for key in [
        "backbone.conv1.weight",
        "backbone.layer4.2.conv3.weight",
        "backbone.layer3.0.downsample.1.running_var",
        "classifier.0.convs.0.0.weight",
        "classifier.0.convs.3.1.bias",
        "classifier.0.convs.4.1.weight",  # the pooling branch's convolution
        "classifier.0.project.0.weight",
        "classifier.1.weight",
        "classifier.4.bias",
        "aux_classifier.0.weight",
        "aux_classifier.4.bias",
    ]:
        assert key in keys, key
    assert not any(k.startswith(("backbone.fc", "backbone.avgpool")) for k in keys)


def test_fpn_count_and_keys():
    model = skip_init(fpn, num_classes=21)
    assert n_params(model) == 28_035_797
    keys = set(model.state_dict())
    assert {"fpn.inner_blocks.0.0.weight", "fpn.layer_blocks.3.0.bias"} <= keys


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("unet", dict(in_channels=1, num_classes=2, width=2), (1, 1, 64, 64)),
        ("deeplabv3", dict(num_classes=21, width=4, channels=8), (1, 3, 224, 224)),
        ("fpn", dict(num_classes=21, width=4, fpn_channels=8, head_channels=4), (1, 3, 224, 224)),
    ],
)
def test_output_shapes_at_reference_sizes(name, kwargs, shape):
    model = get_model(name, **kwargs).eval()
    with soma.no_grad():
        out = model(soma.randn(*shape))
    assert out.shape == (shape[0], kwargs["num_classes"], *shape[2:])


def test_deeplabv3_dilated_backbone_has_output_stride_8():
    model = deeplabv3(num_classes=3, width=4, channels=8).eval()
    with soma.no_grad():
        assert model.backbone(soma.zeros(1, 3, 64, 64))["out"].shape[-2:] == (8, 8)
    assert model.backbone.layer4[0].conv2.dilation == (2, 2)
    assert model.backbone.layer4[1].conv2.dilation == (4, 4)


# ---------------------------------------------------------------------- PyTorch twins
torch = pytest.importorskip("torch")
tnn = torch.nn
tF = torch.nn.functional


def twin_double_conv(cin, cout, padding, bn):
    layers = []
    for c in (cin, cout):
        layers.append(tnn.Conv2d(c, cout, 3, padding=int(padding), bias=not bn))
        if bn:
            layers.append(tnn.BatchNorm2d(cout))
        layers.append(tnn.ReLU())
    return tnn.Sequential(*layers)


class TwinUNet(tnn.Module):
    def __init__(self, cin, classes, depth, width, padding, bn):
        super().__init__()
        self.padding = padding
        self.inc = twin_double_conv(cin, width, padding, bn)
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = tnn.ModuleList()
        for i in range(depth):
            stage = tnn.Module()
            stage.pool = tnn.MaxPool2d(2)
            stage.conv = twin_double_conv(widths[i], widths[i + 1], padding, bn)
            self.down.append(stage)
        self.up = tnn.ModuleList()
        for i in reversed(range(depth)):
            stage = tnn.Module()
            stage.up = tnn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            stage.conv = twin_double_conv(widths[i + 1], widths[i], padding, bn)
            self.up.append(stage)
        self.head = tnn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for stage in self.down:
            skips.append(stage.conv(stage.pool(skips[-1])))
        x = skips.pop()
        for stage in self.up:
            x = stage.up(x)
            skip = skips.pop()
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            if self.padding:
                x = tF.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
            else:
                skip = skip[..., dh // 2 : dh // 2 + x.shape[-2], dw // 2 : dw // 2 + x.shape[-1]]
            x = stage.conv(torch.cat([skip, x], 1))
        return self.head(x)


def compare(soma_model, torch_model, x, train=True, atol=2e-4):
    """Same outputs and the same gradients for the input and every parameter."""
    soma_model.train(train)
    torch_model.train(train)
    copy_weights(soma_model, torch_model)
    xs = soma.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = soma_model(xs), torch_model(xt)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=atol)
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    (ys * soma.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=atol)
    grads = dict(torch_model.named_parameters())
    for name, p in soma_model.named_parameters():
        expected = grads[name].grad.numpy()
        scale = float(np.abs(expected).max())  # float32 sums: errors grow with the largest term
        np.testing.assert_allclose(
            p.grad.numpy(), expected, rtol=1e-3, atol=atol + 1e-5 * scale, err_msg=name
        )


@pytest.mark.parametrize(
    "padding, bn, size",
    [(True, False, (16, 16)), (True, True, (18, 21)), (False, False, (44, 44))],
)
def test_unet_matches_its_torch_twin(padding, bn, size):
    torch.manual_seed(0)
    twin = TwinUNet(2, 3, depth=2, width=4, padding=padding, bn=bn)
    model = UNet(2, 3, depth=2, width=4, padding=padding, batch_norm=bn)
    assert set(model.state_dict()) == set(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 2, *size)).astype(np.float32)
    compare(model, twin, x)


def twin_aspp(cin, rates, cout):
    class Pooling(tnn.Sequential):
        def forward(self, x):
            size = x.shape[-2:]
            for m in self:
                x = m(x)
            return tF.interpolate(x, size=size, mode="bilinear", align_corners=False)

    class TwinASPP(tnn.Module):
        def __init__(self):
            super().__init__()

            def cbr(conv):
                return tnn.Sequential(conv, tnn.BatchNorm2d(cout), tnn.ReLU())

            branches = [cbr(tnn.Conv2d(cin, cout, 1, bias=False))]
            for r in rates:
                branches.append(cbr(tnn.Conv2d(cin, cout, 3, padding=r, dilation=r, bias=False)))
            branches.append(
                Pooling(
                    tnn.AdaptiveAvgPool2d(1),
                    tnn.Conv2d(cin, cout, 1, bias=False),
                    tnn.BatchNorm2d(cout),
                    tnn.ReLU(),
                )
            )
            self.convs = tnn.ModuleList(branches)
            self.project = tnn.Sequential(
                tnn.Conv2d(len(branches) * cout, cout, 1, bias=False),
                tnn.BatchNorm2d(cout),
                tnn.ReLU(),
                tnn.Dropout(0.5),
            )

        def forward(self, x):
            return self.project(torch.cat([b(x) for b in self.convs], 1))

    return TwinASPP()


def twin_deeplab_head(cin, classes, rates, channels):
    return tnn.Sequential(
        twin_aspp(cin, rates, channels),
        tnn.Conv2d(channels, channels, 3, padding=1, bias=False),
        tnn.BatchNorm2d(channels),
        tnn.ReLU(),
        tnn.Conv2d(channels, classes, 1),
    )


def _randomise_bn(model):
    """Non-trivial running statistics and affine parameters (eval mode then means something)."""
    rng = np.random.default_rng(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.running_mean.copy_(torch.tensor(rng.normal(0, 0.1, m.num_features)))
                m.running_var.copy_(torch.tensor(rng.uniform(0.5, 1.5, m.num_features)))
                m.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, m.num_features)))
                m.bias.copy_(torch.tensor(rng.normal(0, 0.1, m.num_features)))


def test_deeplab_head_with_aspp_1_2_4_matches_its_torch_twin():
    torch.manual_seed(0)
    twin = twin_deeplab_head(6, 3, (1, 2, 4), 8)
    _randomise_bn(twin)
    head = DeepLabHead(6, 3, (1, 2, 4), 8)
    assert list(head.state_dict()) == list(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 6, 9, 11)).astype(np.float32)
    compare(head, twin, x, train=False)  # eval: dropout off, running statistics


def test_aspp_in_train_mode_matches_without_dropout():
    torch.manual_seed(0)
    twin = twin_aspp(4, (1, 2, 4), 5)
    twin.project[3].p = 0.0
    aspp = ASPP(4, (1, 2, 4), 5, dropout=0.0)
    x = np.random.default_rng(0).standard_normal((3, 4, 7, 7)).astype(np.float32)
    compare(aspp, twin, x, train=True)


# A torchvision-named ResNet trunk (Bottleneck or BasicBlock, optional dilation) as twin backbone
class TwinBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride, dilation, bottleneck, downsample):
        super().__init__()
        self.bottleneck = bottleneck
        if bottleneck:
            self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(
                planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False
            )
            self.bn2 = tnn.BatchNorm2d(planes)
            self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = tnn.BatchNorm2d(planes * 4)
        else:
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
        else:
            out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TwinTrunk(tnn.Module):
    def __init__(self, cin, width, layers, bottleneck, dilate, returns, cifar_stem=False):
        super().__init__()
        self.returns = returns
        if cifar_stem:
            self.conv1 = tnn.Conv2d(cin, width, 3, 1, 1, bias=False)
        else:
            self.conv1 = tnn.Conv2d(cin, width, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.Identity() if cifar_stem else tnn.MaxPool2d(3, 2, 1)
        expansion = 4 if bottleneck else 1
        inplanes, dilation = width, 1
        for i, blocks in enumerate(layers):
            planes, stride = width * 2**i, (1 if i == 0 else 2)
            previous = dilation
            if i > 0 and dilate[i - 1]:
                dilation, stride = dilation * stride, 1
            down = None
            if stride != 1 or inplanes != planes * expansion:
                down = tnn.Sequential(
                    tnn.Conv2d(inplanes, planes * expansion, 1, stride, bias=False),
                    tnn.BatchNorm2d(planes * expansion),
                )
            stage = [TwinBlock(inplanes, planes, stride, previous, bottleneck, down)]
            inplanes = planes * expansion
            stage += [
                TwinBlock(inplanes, planes, 1, dilation, bottleneck, None)
                for _ in range(blocks - 1)
            ]
            setattr(self, f"layer{i + 1}", tnn.Sequential(*stage))
            if f"layer{i + 1}" == max(returns):
                break

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = {}
        for i in range(1, 5):
            if not hasattr(self, f"layer{i}"):
                break
            x = getattr(self, f"layer{i}")(x)
            if f"layer{i}" in self.returns:
                out[self.returns[f"layer{i}"]] = x
        return out


class TwinDeepLab(tnn.Module):
    def __init__(self, trunk, head):
        super().__init__()
        self.backbone, self.classifier = trunk, head

    def forward(self, x):
        out = self.classifier(self.backbone(x)["out"])
        return tF.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_deeplabv3_resnet50_dilated_matches_its_torch_twin():
    torch.manual_seed(0)
    trunk = TwinTrunk(3, 4, [3, 4, 6, 3], True, [False, True, True], {"layer4": "out"})
    twin = TwinDeepLab(trunk, twin_deeplab_head(128, 3, (1, 2, 4), 8))
    _randomise_bn(twin)
    model = deeplabv3(num_classes=3, width=4, atrous_rates=(1, 2, 4), channels=8)
    assert list(model.state_dict()) == list(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 40, 40)).astype(np.float32)
    compare(model, twin, x, train=False)


class TwinFPNSeg(tnn.Module):
    def __init__(self, trunk, chans, fpn_channels, head_channels, classes):
        super().__init__()
        self.backbone = trunk
        self.fpn = tnn.Module()
        self.fpn.inner_blocks = tnn.ModuleList(
            tnn.Sequential(tnn.Conv2d(c, fpn_channels, 1)) for c in chans
        )
        self.fpn.layer_blocks = tnn.ModuleList(
            tnn.Sequential(tnn.Conv2d(fpn_channels, fpn_channels, 3, padding=1)) for _ in chans
        )
        self.head = tnn.Module()
        self.head.blocks = tnn.ModuleList(
            tnn.Sequential(
                tnn.Conv2d(fpn_channels, head_channels, 3, padding=1, bias=False),
                tnn.BatchNorm2d(head_channels),
                tnn.ReLU(),
            )
            for _ in chans
        )
        self.head.classifier = tnn.Conv2d(head_channels, classes, 1)

    def forward(self, x):
        feats = list(self.backbone(x).values())
        inner, layer = self.fpn.inner_blocks, self.fpn.layer_blocks
        last = inner[-1](feats[-1])
        pyramid = [layer[-1](last)]
        for i in range(len(feats) - 2, -1, -1):
            lateral = inner[i](feats[i])
            last = lateral + tF.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            pyramid.insert(0, layer[i](last))
        out = self.head.blocks[0](pyramid[0])
        for block, p in zip(self.head.blocks[1:], pyramid[1:]):
            out = out + tF.interpolate(
                block(p), size=pyramid[0].shape[-2:], mode="bilinear", align_corners=False
            )
        out = self.head.classifier(out)
        return tF.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_fpn_resnet18_matches_its_torch_twin():
    torch.manual_seed(0)
    returns = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}
    trunk = TwinTrunk(1, 4, [2, 2, 2, 2], False, [False] * 3, returns)
    twin = TwinFPNSeg(trunk, [4, 8, 16, 32], 6, 5, 3)
    model = fpn(num_classes=3, in_channels=1, backbone="resnet18", width=4, fpn_channels=6,
                head_channels=5)  # fmt: skip
    assert list(model.state_dict()) == list(twin.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 1, 48, 40)).astype(np.float32)
    compare(model, twin, x, train=True)


def test_feature_pyramid_alone_matches_torch_arithmetic():
    torch.manual_seed(0)
    block = FeaturePyramidNetwork([3, 5], 4)
    maps = [np.random.default_rng(i).standard_normal(s).astype(np.float32)
            for i, s in enumerate([(1, 3, 8, 6), (1, 5, 4, 3)])]  # fmt: skip
    outs = block([soma.tensor(m) for m in maps])
    w = {k: torch.tensor(v.numpy()) for k, v in block.state_dict().items()}
    inner1 = tF.conv2d(
        torch.tensor(maps[1]), w["inner_blocks.1.0.weight"], w["inner_blocks.1.0.bias"]
    )
    inner0 = tF.conv2d(
        torch.tensor(maps[0]), w["inner_blocks.0.0.weight"], w["inner_blocks.0.0.bias"]
    )
    merged = inner0 + tF.interpolate(inner1, size=(8, 6), mode="nearest")
    expected0 = tF.conv2d(
        merged, w["layer_blocks.0.0.weight"], w["layer_blocks.0.0.bias"], padding=1
    )
    np.testing.assert_allclose(outs[0].detach().numpy(), expected0.numpy(), rtol=1e-5, atol=1e-5)
