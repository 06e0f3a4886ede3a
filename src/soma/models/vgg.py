"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015).

The idea: use only small 3×3 convolutions (stride 1, padding 1) and 2×2 max-pooling, and go
deep. Two stacked 3×3 layers see a 5×5 window and three see 7×7, with fewer weights
(3·9·C² against 49·C²) and more non-linearities than one large kernel. Configurations A, B, D
and E of the paper's Table 1 are VGG-11, -13, -16 and -19; the ``_bn`` variants add batch norm
after every convolution (not in the paper, as in torchvision).

Names are torchvision's: ``features.0.weight`` … (convolutions, ReLUs and poolings numbered in
order), ``classifier.0`` / ``.3`` / ``.6`` for the three fully connected layers; so is the
initialisation (He-normal with fan-out for convolutions, N(0, 0.01) for the linear layers, zero
biases). The classifier holds most of the weights: 25088 × 4096 = 102.8 M of VGG-16's 138.4 M.
"""

from soma import functional as F
from soma import nn
from soma.models.registry import register_model
from soma.nn import init

# numbers are 3×3 convolutions' output channels, "M" a 2×2 max-pooling (the paper's Table 1)
CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


def make_layers(config, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part of a VGG from a configuration list (see ``CONFIGS``)."""
    layers = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """Convolutional ``features``, average-pooled to 7×7, then three fully connected layers.

    Args:
        features: the convolutional part (``make_layers``).
        num_classes: outputs of the last layer.
        dropout: dropout probability before the second and third fully connected layers.
        cifar_stem: for 32×32 inputs, where the five poolings leave 1×1: pool to 1×1 and use
            a classifier on 512 features (512 → 512 → 512 → classes) instead of 25088 → 4096
            → 4096 (VGG's convolutions need no stem change).

    Shape:
        (N, C, H, W) → (N, num_classes); any H, W ≥ 32.
    """

    def __init__(
        self,
        features: nn.Module,
        num_classes: int = 1000,
        dropout: float = 0.5,
        cifar_stem: bool = False,
    ):
        super().__init__()
        self.features = features
        pooled, hidden = (1, 512) if cifar_stem else (7, 4096)
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            nn.Linear(512 * pooled * pooled, hidden),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )

    def init_weights(self) -> None:
        """torchvision's scheme: He-normal (fan-out) convolutions, N(0, 0.01) linear layers."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, 0, 0.01)
                init.constant_(m.bias, 0)

    def forward(self, x):
        x = F.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def _vgg(
    config: str,
    batch_norm: bool,
    num_classes: int = 1000,
    in_channels: int = 3,
    dropout: float = 0.5,
    cifar_stem: bool = False,
) -> VGG:
    with init.no_init():  # every weight is drawn once, by init_weights
        model = VGG(
            make_layers(CONFIGS[config], batch_norm, in_channels), num_classes, dropout, cifar_stem
        )
    model.init_weights()
    return model


_IMAGENET = dict(reference_input=(3, 224, 224), min_input_size=(32, 32))


@register_model("vgg11", "VGG-11 (Simonyan & Zisserman 2015), configuration A", **_IMAGENET)
def vgg11(**kwargs) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters at ImageNet settings.

    Example:
        >>> import soma
        >>> vgg11(num_classes=10, cifar_stem=True)(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    return _vgg("A", False, **kwargs)


@register_model("vgg11_bn", "VGG-11 with batch norm", **_IMAGENET)
def vgg11_bn(**kwargs) -> VGG:
    """VGG-11 with batch norm after each convolution: 132,868,840 parameters."""
    return _vgg("A", True, **kwargs)


@register_model("vgg13", "VGG-13 (Simonyan & Zisserman 2015), configuration B", **_IMAGENET)
def vgg13(**kwargs) -> VGG:
    """VGG-13 (configuration B): 133,047,848 parameters at ImageNet settings."""
    return _vgg("B", False, **kwargs)


@register_model("vgg13_bn", "VGG-13 with batch norm", **_IMAGENET)
def vgg13_bn(**kwargs) -> VGG:
    """VGG-13 with batch norm: 133,053,736 parameters."""
    return _vgg("B", True, **kwargs)


@register_model("vgg16", "VGG-16 (Simonyan & Zisserman 2015), configuration D", **_IMAGENET)
def vgg16(**kwargs) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters at ImageNet settings."""
    return _vgg("D", False, **kwargs)


@register_model("vgg16_bn", "VGG-16 with batch norm", **_IMAGENET)
def vgg16_bn(**kwargs) -> VGG:
    """VGG-16 with batch norm: 138,365,992 parameters."""
    return _vgg("D", True, **kwargs)


@register_model("vgg19", "VGG-19 (Simonyan & Zisserman 2015), configuration E", **_IMAGENET)
def vgg19(**kwargs) -> VGG:
    """VGG-19 (configuration E): 143,667,240 parameters at ImageNet settings."""
    return _vgg("E", False, **kwargs)


@register_model("vgg19_bn", "VGG-19 with batch norm", **_IMAGENET)
def vgg19_bn(**kwargs) -> VGG:
    """VGG-19 with batch norm: 143,678,248 parameters."""
    return _vgg("E", True, **kwargs)
