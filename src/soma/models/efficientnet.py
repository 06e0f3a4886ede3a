"""EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019).

The idea: compound scaling. Instead of making a network only deeper, wider or fed larger
images, scale all three together: depth by αᶲ, width by βᶲ and resolution by γᶲ, with
α·β²·γ² ≈ 2 so each step of φ doubles the cost (the paper finds α = 1.2, β = 1.1, γ = 1.15).
B0, the baseline found by architecture search, is a stack of ``MBConv`` blocks (inverted
residuals with squeeze-and-excitation and SiLU, see ``soma.models.blocks.MBConv``); B1–B7 are
B0 scaled. Training regularises with dropout (0.2 for B0) and stochastic depth: the residual
branch of block ``i`` of ``n`` is dropped with probability ``0.2 · i / n``.

Stages of B0 at 224×224 (the paper's Table 1): expansion, kernel, stride, channels, repeats.

    stem 3×3/2, 32                                                     224 → 112
    MBConv1 3×3 16 ×1 | MBConv6 3×3 24 ×2 | MBConv6 5×5 40 ×2 | MBConv6 3×3 80 ×3
    MBConv6 5×5 112 ×3 | MBConv6 5×5 192 ×4 | MBConv6 3×3 320 ×1       112 → 7
    conv 1×1, 1280 → pooling → dropout → classifier

Names and initialisation are torchvision's (``features.1.0.block.0.0.weight``,
``features.2.0.block.2.fc1.weight``, ``classifier.1.weight`` …).
"""

import math

from soma import functional as F
from soma import nn
from soma.models.blocks.mobile import (
    ConvNormActivation,
    MBConv,
    init_mobile_weights,
    make_divisible,
)
from soma.models.registry import register_model
from soma.nn import init

# expansion, kernel, stride, input channels, output channels, repeats (B0)
B0_STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


class EfficientNet(nn.Module):
    """An EfficientNet from B0's stages scaled by ``width_mult`` and ``depth_mult``.

    Args:
        width_mult: channel multiplier (rounded to multiples of 8).
        depth_mult: repeats multiplier (rounded up).
        dropout: dropout before the classifier.
        stochastic_depth_prob: drop probability of the last block's residual branch.
        num_classes: outputs of the classifier.
        in_channels: input channels.
        cifar_stem: for 32×32 inputs: a stride-1 stem.

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar_stem: bool = False,
    ):
        super().__init__()
        stages = [
            (
                t,
                k,
                s,
                make_divisible(cin * width_mult),
                make_divisible(cout * width_mult),
                int(math.ceil(n * depth_mult)),
            )
            for t, k, s, cin, cout, n in B0_STAGES
        ]
        total_blocks = sum(stage[-1] for stage in stages)
        with init.no_init():  # every weight is drawn once, by init_mobile_weights
            layers = [
                ConvNormActivation(
                    in_channels, stages[0][3], 3, 1 if cifar_stem else 2, activation_layer=nn.SiLU
                )
            ]
            block_id = 0
            for t, k, s, cin, cout, n in stages:
                stage = []
                for i in range(n):
                    sd_prob = stochastic_depth_prob * block_id / total_blocks
                    stage.append(
                        MBConv(cin if i == 0 else cout, cout, t, k, s if i == 0 else 1, sd_prob)
                    )
                    block_id += 1
                layers.append(nn.Sequential(*stage))
            last = 4 * stages[-1][4]
            layers.append(ConvNormActivation(stages[-1][4], last, 1, activation_layer=nn.SiLU))
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))
        init_mobile_weights(self, _uniform_by_outputs)

    def forward(self, x):
        x = F.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


@register_model(
    "efficientnet_b0",
    "EfficientNet-B0 (Tan & Le 2019): MBConv with squeeze-excitation, SiLU, stochastic depth",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def efficientnet_b0(**kwargs) -> EfficientNet:
    """EfficientNet-B0: 5,288,548 parameters at ImageNet settings.

    Example:
        >>> import soma
        >>> efficientnet_b0(num_classes=10, cifar_stem=True)(soma.zeros(2, 3, 32, 32)).shape
        soma.Size([2, 10])
    """
    return EfficientNet(1.0, 1.0, **kwargs)


def _uniform_by_outputs(linear) -> None:
    """The classifier's weight: U(−1/√out, 1/√out), as torchvision's EfficientNet."""
    bound = 1.0 / math.sqrt(linear.out_features)
    init.uniform_(linear.weight, -bound, bound)
