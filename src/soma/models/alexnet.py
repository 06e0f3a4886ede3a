"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012).

The network that started the deep-learning era in vision: five convolutions and three fully
connected layers trained on two GPUs, with the ideas that made it work: ReLU instead of tanh
(training several times faster), dropout in the fully connected layers against overfitting,
overlapping max-pooling and heavy data augmentation.

This is torchvision's version (from Krizhevsky's "One weird trick" paper, 2014): 64, 192, 384,
256, 256 filters in one tower and no local response normalisation. The 2012 network had 96, 256,
384, 384, 256 filters split across two GPUs and LRN after the first two ReLUs; ``lrn=True`` adds
that normalisation (``LocalResponseNorm(5, 1e-4, 0.75, 2)``). Names are torchvision's
(``features.0.weight`` … ``features.10.weight``, ``classifier.1`` / ``.4`` / ``.6``), with
PyTorch's default initialisation as in torchvision.

Layout at 224×224:

    conv 11×11/4, 64 → ReLU → maxpool 3/2      55 → 27
    conv 5×5, 192 → ReLU → maxpool 3/2         27 → 13
    conv 3×3, 384 → conv 3×3, 256 → conv 3×3, 256 (ReLUs) → maxpool 3/2     13 → 6
    avgpool to 6×6 → dropout → fc 9216→4096 → ReLU → dropout → fc 4096→4096 → ReLU → fc
"""

from soma import functional as F
from soma import nn
from soma.models.registry import register_model


class AlexNet(nn.Module):
    """AlexNet.

    Args:
        num_classes: outputs of the last layer.
        in_channels: input channels.
        dropout: dropout probability in the classifier.
        cifar_stem: for 32×32 inputs: a 3×3 stride-1 first convolution (instead of 11×11 with
            stride 4), so the three poolings leave 3×3.
        lrn: local response normalisation after the first two ReLUs, as in the 2012 paper
            (``features.1`` and ``features.4`` become ReLU + LRN; parameter names unchanged).

    Shape:
        (N, in_channels, H, W) → (N, num_classes); H, W ≥ 63 (≥ 32 with ``cifar_stem``).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.5,
        cifar_stem: bool = False,
        lrn: bool = False,
    ):
        super().__init__()
        if cifar_stem:
            conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
        else:
            conv1 = nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2)
        self.features = nn.Sequential(
            conv1,
            _relu(lrn),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            _relu(lrn),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = F.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def _relu(lrn: bool) -> nn.Module:
    if not lrn:
        return nn.ReLU()
    return nn.Sequential(nn.ReLU(), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))


@register_model(
    "alexnet",
    "AlexNet (Krizhevsky et al. 2012), torchvision's one-tower version",
    reference_input=(3, 224, 224),
    min_input_size=(63, 63),
)
def alexnet(**kwargs) -> AlexNet:
    """AlexNet: 61,100,840 parameters at ImageNet settings.

    Example:
        >>> import soma
        >>> alexnet(num_classes=10, cifar_stem=True)(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    return AlexNet(**kwargs)
