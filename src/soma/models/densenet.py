"""DenseNet (Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017).

The idea: dense connectivity. Within a block each layer takes the concatenation of *all* earlier
feature maps and contributes only ``growth_rate`` (k = 32) new ones, so features are reused
rather than relearned and the network stays narrow: DenseNet-121 has 8.0 M parameters against
ResNet-50's 25.6 M at similar accuracy. See ``soma.models.blocks.DenseBlock``.

Layout at 224×224 (DenseNet-121, the paper's Table 1):

    conv0 7×7/2, 64 → norm0 → relu0 → pool0 3×3/2                112 → 56
    denseblock1 (6 layers) → transition1 (½ channels, 2×2 avg)    56 → 28
    denseblock2 (12) → transition2 → denseblock3 (24) → transition3 → denseblock4 (16)   28 → 7
    norm5 → ReLU → global average pooling → classifier (1024 → classes)

Names as torchvision's (``features.conv0.weight``,
``features.denseblock1.denselayer1.norm1.weight``, ``features.transition1.conv.weight``,
``classifier.bias`` …), and so is the initialisation
(He-normal with fan-in for convolutions, BN γ = 1, β = 0, zero classifier bias).
"""

from collections import OrderedDict

from soma import functional as F
from soma import nn
from soma.models.blocks.dense import DenseBlock, Transition
from soma.models.registry import register_model
from soma.nn import init


class DenseNet(nn.Module):
    """A densely connected network.

    Args:
        growth_rate: channels each layer adds (k).
        block_config: layers per dense block, e.g. ``(6, 12, 24, 16)`` for DenseNet-121.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck factor (1×1 convolutions output ``bn_size · k`` channels).
        drop_rate: dropout after each dense layer.
        num_classes: outputs of the classifier.
        in_channels: input channels.
        cifar_stem: for 32×32 inputs: a 3×3 stride-1 ``conv0`` and no ``pool0`` (the blocks then
            see 32, 16, 8, 4 pixels).

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config=(6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar_stem: bool = False,
    ):
        super().__init__()
        kernel, stride, padding = (3, 1, 1) if cifar_stem else (7, 2, 3)
        with init.no_init():  # the convolutions are drawn once, by _init_weights
            self.features = nn.Sequential(
                OrderedDict(
                    [
                        (
                            "conv0",
                            nn.Conv2d(
                                in_channels, num_init_features, kernel, stride, padding, bias=False
                            ),
                        ),
                        ("norm0", nn.BatchNorm2d(num_init_features)),
                        ("relu0", nn.ReLU()),
                        ("pool0", nn.Identity() if cifar_stem else nn.MaxPool2d(3, 2, padding=1)),
                    ]
                )
            )
            channels = num_init_features
            for i, num_layers in enumerate(block_config):
                block = DenseBlock(num_layers, channels, bn_size, growth_rate, drop_rate)
                self.features.add_module(f"denseblock{i + 1}", block)
                channels += num_layers * growth_rate
                if i != len(block_config) - 1:
                    self.features.add_module(
                        f"transition{i + 1}", Transition(channels, channels // 2)
                    )
                    channels //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)  # weight: PyTorch's default init
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                init.constant_(m.bias, 0)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


@register_model(
    "densenet121",
    "DenseNet-121 (Huang et al. 2017): dense blocks (6,12,24,16), k=32",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121: 7,978,856 parameters at ImageNet settings (``growth_rate`` and
    ``num_init_features`` may be lowered for quick experiments).

    Example:
        >>> import soma
        >>> densenet121(num_classes=10, cifar_stem=True)(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    config = dict(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64)
    return DenseNet(**{**config, **kwargs})
