"""SqueezeNet 1.1 (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size", 2016; version 1.1 from the authors' repository).

The idea: the Fire module. A 1×1 "squeeze" convolution cuts the channels, then 1×1 and 3×3
"expand" convolutions run side by side on the squeezed maps and are concatenated. Most filters
are 1×1 (9× cheaper than 3×3) and the 3×3 ones see few input channels, so the whole network has
1.2 M parameters; a final 1×1 convolution and global average pooling replace fully connected
layers. Version 1.1 starts with a 3×3 convolution and pools earlier: 2.4× less computation than
1.0 at the same accuracy.

Names and initialisation are torchvision's (``features.3.squeeze.weight``,
``features.3.expand3x3.weight``, ``classifier.1.weight`` …).
"""

from soma import functional as F
from soma import nn
from soma.models.registry import register_model
from soma.nn import init


class Fire(nn.Module):
    """Squeeze (1×1) then expand (1×1 ‖ 3×3), each followed by ReLU; outputs concatenated.

    Example:
        >>> import soma
        >>> Fire(64, 16, 64, 64)(soma.zeros(1, 64, 8, 8)).shape
        soma.Size([1, 128, 8, 8])
    """

    def __init__(
        self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int
    ):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return F.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1.

    Args:
        num_classes: outputs of the final 1×1 convolution.
        in_channels: input channels.
        dropout: dropout before the final convolution.
        cifar_stem: for 32×32 inputs: the first convolution with stride 1 and padding 1.

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.5,
        cifar_stem: bool = False,
    ):
        super().__init__()
        stride, padding = (1, 1) if cifar_stem else (2, 0)
        with init.no_init():  # every weight is drawn once, by _init_weights
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=stride, padding=padding),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
            final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), final_conv, nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1))
            )
        self._init_weights(final_conv)

    def _init_weights(self, final_conv) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                init.constant_(m.bias, 0)

    def forward(self, x):
        return F.flatten(self.classifier(self.features(x)), 1)


@register_model(
    "squeezenet1_1",
    "SqueezeNet 1.1 (Iandola et al. 2016): Fire modules, 1.2 M parameters",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def squeezenet1_1(**kwargs) -> SqueezeNet:
    """SqueezeNet 1.1: 1,235,496 parameters at ImageNet settings.

    Example:
        >>> import soma
        >>> squeezenet1_1(num_classes=10, cifar_stem=True)(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    return SqueezeNet(**kwargs)
