"""The model zoo: parameter counts at reference settings, output shapes at 224×224 and with the
CIFAR stems at 32×32, forward and backward for every model, mult-adds against published
figures, the registry and the command line.

Building the ImageNet-size models with random weights is slow (VGG-19 has 144 M parameters), so
parameter counts use ``skip_init``, which builds the same modules without drawing weights.
"""

import numpy as np
import pytest

import soma
from soma import nn
from soma.inspection import summary
from soma.models import get_model, list_models, model_info
from soma.nn.init import no_init as init_skipped
from soma.nn.utils import skip_init

# torchvision's published parameter counts (``weights.meta["num_params"]``); MobileNet v1 is
# Keras' trainable count (its summary's 4,253,864 adds the 21,888 batch-norm statistics)
PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "densenet121": 7_978_856,
    "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
    "efficientnet_b0": 5_288_548,
    "squeezenet1_1": 1_235_496,
}
ZOO = sorted(PARAMS)


def count(model, trainable_only=False):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@pytest.mark.parametrize("name", ZOO)
def test_parameter_count_at_imagenet_settings(name):
    model = skip_init(get_model, name)
    assert count(model) == PARAMS[name]
    assert count(model, trainable_only=True) == PARAMS[name]


def test_googlenet_with_auxiliary_classifiers_and_the_papers_5x5():
    assert count(skip_init(get_model, "googlenet", aux_logits=True)) == 13_004_888
    # the paper's 5×5 kernels: (25 - 9) more weights per input-output pair of those branches
    extra = 16 * sum(
        red * out
        for red, out in [
            (16, 32),
            (32, 96),
            (16, 48),
            (24, 64),
            (24, 64),
            (32, 64),
            (32, 128),
            (32, 128),
            (48, 128),
        ]
    )
    assert count(skip_init(get_model, "googlenet", ch5x5_kernel_size=5)) == 6_624_904 + extra


def test_mobilenet_v1_counts_like_keras():
    model = skip_init(get_model, "mobilenet_v1")
    statistics = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    assert statistics == 21_888 and count(model) + statistics == 4_253_864
    # the width multiplier: Keras' MobileNet(alpha=0.25) has 470,072 trainable parameters
    assert count(skip_init(get_model, "mobilenet_v1", alpha=0.25)) == 470_072


@pytest.mark.parametrize("name", ZOO)
def test_num_classes_and_in_channels_change_only_the_ends(name):
    model = skip_init(get_model, name, num_classes=10, in_channels=1)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    assert first.in_channels == 1
    assert (last.out_features if isinstance(last, nn.Linear) else last.out_channels) == 10


# ---------------------------------------------------------------------- forward passes
def _narrow(name, **kwargs):
    """The model with 10 classes, narrow where the model allows it (cheap to run)."""
    if name.startswith("resnet"):
        kwargs.setdefault("width", 8)
    if name == "mobilenet_v1":
        kwargs.setdefault("alpha", 0.25)
    if name == "mobilenet_v2":
        kwargs.setdefault("width_mult", 0.25)
    if name == "densenet121":
        kwargs.update(growth_rate=8, num_init_features=16)
    if name.startswith("vgg"):
        kwargs.setdefault("cifar_stem", True)  # same convolutions, a 512-wide classifier
    return get_model(name, num_classes=10, **kwargs)


def _zeroed(name, **kwargs):
    """The model at ImageNet settings with all weights zero (built without random draws: only
    shapes and mult-adds are looked at)."""
    model = skip_init(get_model, name, **kwargs)
    for p in model.parameters():
        nn.init.zeros_(p)
    return model


@pytest.mark.parametrize("name", ZOO)
def test_forward_and_backward_on_a_small_batch(name):
    """ImageNet stems on the smallest inputs they accept: every layer runs, cheaply."""
    model = _narrow(name)
    size = model_info(name).min_input_size[0]
    logits = model(soma.randn(2, 3, size, size))
    assert tuple(logits.shape) == (2, 10)
    soma.nn.functional.cross_entropy(logits, soma.tensor([3, 7])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert np.isfinite(p.grad.numpy()).all(), f"{name}: non-finite gradient for {pname}"
    assert any(float(abs(p.grad).sum()) > 0 for p in model.parameters())


# the first stage after the stem, which a CIFAR stem feeds with all 32×32 pixels
FIRST_STAGE = {
    "alexnet": "features.1",
    "googlenet": "inception3a",
    "densenet121": "features.denseblock1",
    "mobilenet_v1": "conv_dw_1",
    "mobilenet_v2": "features.1",
    "efficientnet_b0": "features.1",
    "squeezenet1_1": "features.1",
    "resnet18": "layer1",
    "resnet50": "layer1",
    "vgg11_bn": "features.1",
}


@pytest.mark.parametrize("name", sorted(FIRST_STAGE))
def test_cifar_stems_at_32(name):
    model = _narrow(name, cifar_stem=True)
    s = summary(model, (1, 3, 32, 32), depth=2)
    assert s.calls[0].output_shape == (1, 10)
    stage = next(c for c in s.calls if c.name == FIRST_STAGE[name])
    assert stage.input_shape[2:] == (32, 32)


# at 224×224: output shapes, the size of the last feature map, and the mult-adds of the
# convolutions and linear layers, which torchvision publishes (rounded, as "GFLOPS") per model;
# MobileNet v1's 569 million is the paper's Table 1 figure
MULT_ADDS_224 = {
    "alexnet": ("features", (256, 6, 6), 0.71e9),
    "squeezenet1_1": ("features", (512, 13, 13), 0.35e9),
    "mobilenet_v1": ("conv_pw_13_relu", (1024, 7, 7), 569e6),
    "mobilenet_v2": ("features", (1280, 7, 7), 0.30e9),
    "efficientnet_b0": ("features", (1280, 7, 7), 0.39e9),
    "resnet18": ("layer4", (512, 7, 7), 1.81e9),
    "resnet50": ("layer4", (2048, 7, 7), 4.09e9),
    "googlenet": ("inception5b", (1024, 7, 7), 1.50e9),
    "densenet121": ("features", (1024, 7, 7), 2.83e9),
}


def conv_linear_mult_adds(s):
    return sum(c.own_mult_adds for c in s.calls if c.kind in ("Conv2d", "Linear"))


@pytest.mark.parametrize("name", sorted(MULT_ADDS_224))
def test_imagenet_shapes_and_mult_adds_at_224(name):
    layer, shape, published = MULT_ADDS_224[name]
    s = summary(_zeroed(name), (1, 3, 224, 224))
    assert s.calls[0].output_shape == (1, 1000)
    assert next(c for c in s.calls if c.name == layer).output_shape == (1, *shape)
    macs = conv_linear_mult_adds(s)
    digits = 2 if published >= 1e8 else 0
    scale = 1e9 if published >= 1e8 else 1e6
    assert round(macs / scale, digits) == round(published / scale, digits), macs


def test_resnet18_mult_adds_by_hand():
    """ResNet-18 at 224: Σ over convolutions of out_pixels · C_out · C_in · k², plus the fc."""

    def conv(hw, cin, cout, k):
        return hw * hw * cout * cin * k * k

    total = conv(112, 3, 64, 7)
    widths = [(56, 64), (28, 128), (14, 256), (7, 512)]
    cin = 64
    for stage, (hw, c) in enumerate(widths):
        total += conv(hw, cin, c, 3) + 3 * conv(hw, c, c, 3)  # four 3×3 convolutions
        if stage:
            total += conv(hw, cin, c, 1)  # the projection shortcut
        cin = c
    total += 512 * 1000
    assert total == 1_814_073_344
    assert conv_linear_mult_adds(summary(_zeroed("resnet18"), (1, 3, 224, 224))) == total


def test_vgg11_at_224():
    s = summary(_zeroed("vgg11"), (1, 3, 224, 224))
    assert s.calls[0].output_shape == (1, 1000)
    assert next(c for c in s.calls if c.name == "features").output_shape == (1, 512, 7, 7)
    assert round(conv_linear_mult_adds(s) / 1e9, 2) == 7.61


# ---------------------------------------------------------------------- registry and CLI
def test_every_zoo_model_is_registered_with_its_reference_input():
    names = list_models()
    for name in ZOO:
        assert name in names and names[name]
        assert model_info(name).reference_input == (3, 224, 224)
    assert "lenet5" in names


def test_lenet5_is_the_1998_layout():
    model = get_model("lenet5")
    s = summary(model, (1, 1, 32, 32))
    shapes = [c.output_shape[1:] for c in s.calls if c.kind in ("Conv2d", "AvgPool2d")]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert count(model) == 61_706


def test_cli_lists_and_summarises_the_zoo(capsys):
    from soma.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("resnet18", "mobilenet_v1", "efficientnet_b0", "vgg16_bn"):
        assert name in out
    assert main(["summary", "--model", "mobilenet_v1", "--model-arg", "alpha=0.25"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 470,072" in out and "Total mult-adds:" in out
    assert "output shape for one input: (1, 1000)" in out
    assert main(["summary", "--model", "lenet5"]) == 0  # its fixed size, 1×32×32
    assert "Total params: 61,706" in capsys.readouterr().out
    assert main(["summary", "--model", "mlp"]) == 2  # any size: --input needed
    assert "give one with --input" in capsys.readouterr().err


def test_cli_rejects_unknown_model_arguments(capsys):
    from soma.cli import main

    assert main(["summary", "--model", "resnet18", "--model-arg", "nope=1"]) == 2
    assert "cannot build 'resnet18'" in capsys.readouterr().err


def test_small_images_are_enlarged_to_the_models_minimum():
    from soma.train.workflow import prepare_data

    prepared = prepare_data("digits", "resnet18")
    assert prepared.input_shape == (1, 32, 32)
    assert prepared.notes == ["inputs resized from 8x8 to 32x32 for resnet18"]
    assert prepare_data("digits", "alexnet").input_shape == (1, 63, 63)


@pytest.mark.slow
def test_train_resnet18_on_digits_from_the_command_line(tmp_path, capsys):
    """A very short run (1 epoch, narrow network): it trains and learns something."""
    from soma.cli import main

    code = main(
        [
            "train",
            "--model",
            "resnet18",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--model-arg",
            "cifar_stem=True",
            "--model-arg",
            "width=4",
            "--quiet",
            "--batch-size",
            "32",
            "--lr",
            "0.01",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "inputs resized from 8x8 to 32x32 for resnet18" in out
    accuracy = float(out.split("test: loss")[1].split("accuracy")[1].split()[0])
    assert accuracy > 0.5, out[-400:]


@pytest.mark.parametrize(
    "case, name", [("vgg11_train", "vgg11"), ("densenet121_train", "densenet121")]
)
def test_benchmark_networks_are_the_zoo_models(case, name):
    """The benchmark builds its networks from nn primitives; they are the zoo's CIFAR variants."""
    from benchmarks.cases import zoo

    build = {"vgg11_train": zoo._vgg11, "densenet121_train": zoo._densenet121}[case]
    with init_skipped():
        bench = build(soma).state_dict()
        model = get_model(name, num_classes=10, cifar_stem=True).state_dict()
    assert [(k, tuple(v.shape)) for k, v in bench.items()] == [
        (k, tuple(v.shape)) for k, v in model.items()
    ]
