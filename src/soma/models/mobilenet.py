"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018).

**v1**, "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications":
replace each convolution by a depthwise-separable pair, a 3×3 convolution per channel then a
1×1 convolution mixing channels (``blocks.DepthwiseSeparableConv``), about 8–9× cheaper. The
width multiplier α thins every layer to ``int(α · channels)`` (cost ∝ α²), the depth multiplier
gives each channel several depthwise filters. It follows Keras' ``MobileNet`` layer by layer and
name by name (``conv1``, ``conv1_bn``, ``conv_dw_1``, ``conv_dw_1_bn``, ``conv_pw_1`` …
``conv_preds``): convolutions without biases, batch norm with Keras' epsilon 1e-3 and momentum
0.99, ReLU6, Glorot-uniform weights, and the classifier a 1×1 convolution on the pooled features.
The lecture's table, rows of (type / stride, filter shape, input size) at 224×224 and α = 1:

    Conv / s2        3×3×3×32          224×224×3       conv1 (+ conv1_pad)
    Conv dw / s1     3×3×32 dw         112×112×32      conv_dw_1
    Conv / s1        1×1×32×64         112×112×32      conv_pw_1
    Conv dw / s2     3×3×64 dw         112×112×64      conv_dw_2 … and so on to
    Conv dw / s2     3×3×1024 dw       7×7×1024        conv_dw_13: stride 1 (see below)
    Conv / s1        1×1×1024×1024     7×7×1024        conv_pw_13
    Avg Pool / s1    Pool 7×7          7×7×1024        global_average_pooling2d
    FC / s1          1024×1000         1×1×1024        conv_preds

NOTE: the table prints the last depthwise row as "s2", but its input is already 7×7 and its
output feeds the 7×7 average pooling: in the paper's network (and in Keras) that layer has
stride 1. Strided layers pad one row and column at the bottom and right only (``conv_pad_N``),
as Keras does; the table's sizes are unchanged by that.

**v2**, "MobileNetV2: Inverted Residuals and Linear Bottlenecks": blocks that expand the channels
6×, filter depthwise and project back with a *linear* 1×1 convolution, the shortcut joining the
thin ends (``blocks.InvertedResidual``). Names, widths (``_make_divisible`` by 8) and
initialisation are torchvision's (``features.0.0.weight``, ``features.1.conv.0.0.weight``,
``classifier.1.weight`` …).
"""

import math
from collections import OrderedDict

from soma import functional as F
from soma import nn
from soma.models.blocks.mobile import (
    ConvNormActivation,
    DepthwiseSeparableConv,
    InvertedResidual,
    KerasBatchNorm2d,
    init_mobile_weights,
    make_divisible,
)
from soma.models.registry import register_model
from soma.nn import init

# MobileNet v1: (pointwise channels, stride) of the 13 depthwise-separable blocks, as in Keras
V1_BLOCKS = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
]


def _keras_name(part: str, block_id: int) -> str:
    """``conv_dw_bn`` of block 3 → ``conv_dw_3_bn``; ``conv_pad`` → ``conv_pad_3``."""
    for prefix in ("conv_dw", "conv_pw", "conv_pad"):
        if part.startswith(prefix):
            return f"{prefix}_{block_id}{part[len(prefix) :]}"
    raise ValueError(f"unexpected layer {part!r} in a depthwise-separable block")


def _keras_glorot_uniform_(conv: nn.Conv2d) -> None:
    """Keras' default initialiser, with Keras' fans: a depthwise kernel (3, 3, C, multiplier)
    has fan-in 9·C and fan-out 9·multiplier."""
    k = math.prod(conv.kernel_size)
    fan_in = conv.in_channels * k
    fan_out = conv.out_channels * k
    if conv.groups > 1:
        fan_out = conv.out_channels // conv.in_channels * k
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    init.uniform_(conv.weight, -limit, limit)
    if conv.bias is not None:
        init.zeros_(conv.bias)


class MobileNetV1(nn.Sequential):
    """MobileNet v1 with Keras' layers and names (a ``Sequential``: ``model.conv_dw_3`` …).

    Args:
        alpha: width multiplier α (1.0, 0.75, 0.5, 0.25 in the paper): every layer has
            ``int(α · channels)`` channels.
        depth_multiplier: depthwise filters per input channel.
        dropout: dropout before the classifier (Keras' default 1e-3).
        num_classes: outputs of ``conv_preds``.
        in_channels: input channels.
        cifar_stem: for 32×32 inputs: ``conv1`` with stride 1 (the blocks then see 32 … 2).

    Shape:
        (N, in_channels, H, W) → (N, num_classes) logits (Keras' model adds the softmax).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        depth_multiplier: int = 1,
        dropout: float = 1e-3,
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar_stem: bool = False,
    ):
        if alpha <= 0 or depth_multiplier < 1:
            raise ValueError(
                f"MobileNetV1: alpha must be > 0 and depth_multiplier >= 1, got "
                f"alpha={alpha}, depth_multiplier={depth_multiplier}"
            )
        channels = int(32 * alpha)
        with init.no_init():  # every weight is drawn once, by _init_weights
            layers = OrderedDict()
            if cifar_stem:
                layers["conv1"] = nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False)
            else:
                layers["conv1_pad"] = nn.ZeroPad2d((0, 1, 0, 1))
                layers["conv1"] = nn.Conv2d(in_channels, channels, 3, 2, bias=False)
            layers["conv1_bn"] = KerasBatchNorm2d(channels)
            layers["conv1_relu"] = nn.ReLU6()
            for block_id, (filters, stride) in enumerate(V1_BLOCKS, start=1):
                block = DepthwiseSeparableConv(
                    channels,
                    int(filters * alpha),
                    stride,
                    depth_multiplier,
                    norm_layer=KerasBatchNorm2d,
                    keras_padding=True,
                )
                for part, layer in block.named_children():
                    layers[_keras_name(part, block_id)] = layer
                channels = int(filters * alpha)
            layers["global_average_pooling2d"] = nn.AdaptiveAvgPool2d(1)
            layers["dropout"] = nn.Dropout(dropout)
            layers["conv_preds"] = nn.Conv2d(channels, num_classes, 1)
            layers["reshape_2"] = nn.Flatten()
            super().__init__(layers)
        self.alpha, self.depth_multiplier = alpha, depth_multiplier
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _keras_glorot_uniform_(m)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)


class MobileNetV2(nn.Module):
    """MobileNet v2 (torchvision's layout and names).

    Args:
        num_classes: outputs of the classifier.
        width_mult: width multiplier (channels rounded to multiples of ``round_nearest``).
        inverted_residual_setting: rows of (expansion t, channels c, repeats n, stride s); the
            paper's Table 2 by default.
        round_nearest: channel rounding.
        dropout: dropout before the classifier.
        in_channels: input channels.
        cifar_stem: for 32×32 inputs: the first convolution with stride 1.

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    SETTING = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 3, 2],
        [6, 64, 4, 2],
        [6, 96, 3, 1],
        [6, 160, 3, 2],
        [6, 320, 1, 1],
    ]

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        inverted_residual_setting=None,
        round_nearest: int = 8,
        dropout: float = 0.2,
        in_channels: int = 3,
        cifar_stem: bool = False,
    ):
        super().__init__()
        setting = inverted_residual_setting or self.SETTING
        if any(len(row) != 4 for row in setting):
            raise ValueError(
                f"MobileNetV2: inverted_residual_setting rows must be (t, c, n, s), got {setting}"
            )
        channels = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        with init.no_init():  # every weight is drawn once, by init_mobile_weights
            features = [
                ConvNormActivation(
                    in_channels, channels, stride=1 if cifar_stem else 2, activation_layer=nn.ReLU6
                )
            ]
            for t, c, n, s in setting:
                out = make_divisible(c * width_mult, round_nearest)
                for i in range(n):
                    features.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                    channels = out
            features.append(
                ConvNormActivation(channels, self.last_channel, 1, activation_layer=nn.ReLU6)
            )
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes)
            )
        init_mobile_weights(self, lambda linear: init.normal_(linear.weight, 0, 0.01))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(F.flatten(x, 1))


@register_model(
    "mobilenet_v1",
    "MobileNet v1 (Howard et al. 2017), Keras layout: "
    "depthwise-separable convolutions, width multiplier alpha",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def mobilenet_v1(**kwargs) -> MobileNetV1:
    """MobileNet v1: 4,231,976 trainable parameters at α = 1 and ImageNet settings (Keras'
    summary shows 4,253,864, counting the 21,888 batch-norm running statistics too).

    Example:
        >>> import soma
        >>> net = mobilenet_v1(alpha=0.25, num_classes=10, cifar_stem=True)
        >>> net(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    return MobileNetV1(**kwargs)


@register_model(
    "mobilenet_v2",
    "MobileNet v2 (Sandler et al. 2018): inverted residuals, linear bottlenecks",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def mobilenet_v2(**kwargs) -> MobileNetV2:
    """MobileNet v2: 3,504,872 parameters at ImageNet settings."""
    return MobileNetV2(**kwargs)
