"""torchvision compatibility: a state dict of a PyTorch network of the same architecture loads
into the soma model 1:1 and gives the same logits and gradients.

torchvision is not a test dependency, so the PyTorch references are written here from
``torch.nn`` primitives, with torchvision's module names (``layer1.0.downsample.0``,
``features.1.conv.0.0``, ``features.2.0.block.1.fc1`` …). For the other models, known
torchvision keys and shapes are checked.
"""

import numpy as np
import pytest

import soma
from soma.models import get_model
from soma.nn.utils import skip_init
from tests.conftest import to_torch

# ---------------------------------------------------------------------- PyTorch references


def torch_resnet18(torch, num_classes=1000):
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            inplanes = 64
            for i, planes in enumerate((64, 128, 256, 512)):
                stride = 1 if i == 0 else 2
                layer = nn.Sequential(
                    BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes, 1)
                )
                setattr(self, f"layer{i + 1}", layer)
                inplanes = planes
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18()


def _conv_bn_act(nn, cin, cout, k=3, stride=1, groups=1, act=None):
    layers = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    return nn.Sequential(*layers, act()) if act is not None else nn.Sequential(*layers)


def torch_mobilenet_v2(torch, num_classes=1000):
    nn = torch.nn

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, t):
            super().__init__()
            hidden = inp * t
            self.use_res_connect = stride == 1 and inp == oup
            layers = [] if t == 1 else [_conv_bn_act(nn, inp, hidden, 1, act=nn.ReLU6)]
            layers += [
                _conv_bn_act(nn, hidden, hidden, 3, stride, hidden, nn.ReLU6),
                nn.Conv2d(hidden, oup, 1, bias=False),
                nn.BatchNorm2d(oup),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            features = [_conv_bn_act(nn, 3, 32, 3, 2, act=nn.ReLU6)]
            cin = 32
            for t, c, n, s in [
                [1, 16, 1, 1],
                [6, 24, 2, 2],
                [6, 32, 3, 2],
                [6, 64, 4, 2],
                [6, 96, 3, 1],
                [6, 160, 3, 2],
                [6, 320, 1, 1],
            ]:
                for i in range(n):
                    features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            features.append(_conv_bn_act(nn, 320, 1280, 1, act=nn.ReLU6))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return MobileNetV2()


def torch_efficientnet_b0(torch, num_classes=1000):
    """EfficientNet-B0 without stochastic depth (it is random while training)."""
    nn = torch.nn

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels, squeeze):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.activation = nn.SiLU()
            self.scale_activation = nn.Sigmoid()

        def forward(self, x):
            return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    class MBConv(nn.Module):
        def __init__(self, cin, cout, t, k, stride):
            super().__init__()
            self.use_res_connect = stride == 1 and cin == cout
            hidden = cin * t
            layers = [] if t == 1 else [_conv_bn_act(nn, cin, hidden, 1, act=nn.SiLU)]
            layers += [
                _conv_bn_act(nn, hidden, hidden, k, stride, hidden, nn.SiLU),
                SqueezeExcitation(hidden, max(1, cin // 4)),
                _conv_bn_act(nn, hidden, cout, 1),
            ]
            self.block = nn.Sequential(*layers)

        def forward(self, x):
            return self.block(x) + x if self.use_res_connect else self.block(x)

    class EfficientNetB0(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [_conv_bn_act(nn, 3, 32, 3, 2, act=nn.SiLU)]
            for t, k, s, cin, cout, n in [
                (1, 3, 1, 32, 16, 1),
                (6, 3, 2, 16, 24, 2),
                (6, 5, 2, 24, 40, 2),
                (6, 3, 2, 40, 80, 3),
                (6, 5, 1, 80, 112, 3),
                (6, 5, 2, 112, 192, 4),
                (6, 3, 1, 192, 320, 1),
            ]:
                layers.append(
                    nn.Sequential(
                        *[
                            MBConv(cin if i == 0 else cout, cout, t, k, s if i == 0 else 1)
                            for i in range(n)
                        ]
                    )
                )
            layers.append(_conv_bn_act(nn, 320, 1280, 1, act=nn.SiLU))
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return EfficientNetB0()


# ---------------------------------------------------------------------- the comparison
def _randomise_batch_norms(torch, model):
    """Non-trivial affine parameters and running statistics, so eval mode tests them."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def _load(torch_model, name, **kwargs):
    state = {k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()}
    model = skip_init(get_model, name, **kwargs)  # every value comes from the state dict
    assert list(model.state_dict()) == list(state)  # same names, in the same order
    for key, value in model.state_dict().items():
        assert tuple(value.shape) == state[key].shape, key
    model.load_state_dict(state)  # strict
    return model


REFERENCES = {
    "resnet18": (torch_resnet18, {}),
    "mobilenet_v2": (torch_mobilenet_v2, {}),
    "efficientnet_b0": (torch_efficientnet_b0, {"stochastic_depth_prob": 0.0}),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_torch_state_dict_loads_and_gives_the_same_logits(name, torch_or_skip):
    torch = torch_or_skip
    build, kwargs = REFERENCES[name]
    reference = build(torch)
    _randomise_batch_norms(torch, reference)
    model = _load(reference, name, **kwargs)
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)

    reference.eval()
    with torch.no_grad():
        expected = reference(to_torch(x)).numpy()
    with soma.no_grad():
        got = model.eval()(soma.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_training_mode_matches_torch_gradients_and_running_stats(name, torch_or_skip):
    torch = torch_or_skip
    reference = REFERENCES[name][0](torch, num_classes=10)
    if name == "mobilenet_v2":
        reference.classifier[0].p = 0.0  # no random dropout in either
    model = _load(
        reference, name, num_classes=10, **({"dropout": 0.0} if name == "mobilenet_v2" else {})
    )
    # float64: with batch statistics over 4 samples of 1×1 maps in the last stage, float32
    # rounding differences are amplified too much for a strict comparison
    reference.double()
    model.double()
    x = np.random.default_rng(1).normal(size=(4, 3, 32, 32))
    target = np.array([1, 5, 7, 9])

    reference.train()
    loss_t = torch.nn.functional.cross_entropy(reference(to_torch(x)), torch.from_numpy(target))
    loss_t.backward()
    loss = soma.nn.functional.cross_entropy(model.train()(soma.tensor(x)), soma.tensor(target))
    loss.backward()
    assert float(loss) == pytest.approx(loss_t.item(), rel=1e-10)
    torch_params = dict(reference.named_parameters())
    for pname, p in model.named_parameters():
        expected = torch_params[pname].grad.numpy()
        # the absolute tolerance scales with the tensor: rounding in the batch statistics moves
        # an entry near 0 by ~1e-11 of the tensor's largest, and by how much depends on the
        # CPU's vector unit (ATEN_CPU_CAPABILITY=default gave 2e-9 beside entries of 116)
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(
            p.grad.numpy(), expected, rtol=1e-7, atol=1e-9 * scale, err_msg=pname
        )
    torch_buffers = dict(reference.named_buffers())
    for bname, b in model.named_buffers():
        np.testing.assert_allclose(
            b.numpy(), torch_buffers[bname].numpy(), rtol=1e-9, atol=1e-12, err_msg=bname
        )


# torchvision keys and shapes for the models without a reference above (from torchvision's
# pretrained state dicts)
KNOWN_KEYS = {
    "alexnet": {
        "features.0.weight": (64, 3, 11, 11),
        "features.10.weight": (256, 256, 3, 3),
        "classifier.1.weight": (4096, 9216),
        "classifier.6.bias": (1000,),
    },
    "vgg16": {
        "features.28.weight": (512, 512, 3, 3),
        "classifier.0.weight": (4096, 25088),
        "classifier.3.weight": (4096, 4096),
        "classifier.6.weight": (1000, 4096),
    },
    "vgg16_bn": {
        "features.40.weight": (512, 512, 3, 3),
        "features.41.running_var": (512,),
        "features.1.num_batches_tracked": (),
    },
    "googlenet": {
        "conv1.conv.weight": (64, 3, 7, 7),
        "conv1.bn.running_mean": (64,),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
        "inception5b.branch4.1.conv.weight": (128, 832, 1, 1),
        "fc.weight": (1000, 1024),
    },
    "resnet50": {
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer3.5.conv2.weight": (256, 256, 3, 3),
        "layer4.2.bn3.weight": (2048,),
        "fc.weight": (1000, 2048),
    },
    "densenet121": {
        "features.conv0.weight": (64, 3, 7, 7),
        "features.denseblock1.denselayer1.norm1.weight": (64,),
        "features.denseblock4.denselayer16.conv2.weight": (32, 128, 3, 3),
        "features.transition3.conv.weight": (512, 1024, 1, 1),
        "features.norm5.running_var": (1024,),
        "classifier.weight": (1000, 1024),
    },
    "squeezenet1_1": {
        "features.0.weight": (64, 3, 3, 3),
        "features.3.squeeze.weight": (16, 64, 1, 1),
        "features.12.expand3x3.weight": (256, 64, 3, 3),
        "classifier.1.weight": (1000, 512, 1, 1),
    },
    "mobilenet_v1": {
        "conv1.weight": (32, 3, 3, 3),
        "conv1_bn.running_mean": (32,),
        "conv_dw_1.weight": (32, 1, 3, 3),
        "conv_pw_1.weight": (64, 32, 1, 1),
        "conv_dw_13_bn.weight": (1024,),
        "conv_preds.weight": (1000, 1024, 1, 1),
        "conv_preds.bias": (1000,),
    },
}


@pytest.mark.parametrize("name", sorted(KNOWN_KEYS))
def test_known_reference_keys(name):
    state = skip_init(get_model, name).state_dict()
    for key, shape in KNOWN_KEYS[name].items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key


def test_googlenet_auxiliary_keys_and_outputs():
    model = get_model("googlenet", num_classes=10, aux_logits=True)
    state = model.state_dict()
    assert tuple(state["aux1.fc1.weight"].shape) == (1024, 2048)
    assert tuple(state["aux2.conv.conv.weight"].shape) == (128, 528, 1, 1)
    out = model.train()(soma.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in out] == [(2, 10)] * 3
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    with soma.no_grad():
        assert tuple(model.eval()(soma.randn(1, 3, 64, 64)).shape) == (1, 10)
