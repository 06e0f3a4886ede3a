"""GoogLeNet, Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015).

The idea: the inception module (``soma.models.blocks.InceptionModule``) runs 1×1, 3×3 and 5×5
convolutions and a pooling side by side and concatenates them, with 1×1 "reduction"
convolutions in front of the expensive branches. Nine of them make a 22-layer network with
12× fewer parameters than AlexNet (6.6 M); global average pooling replaces the large fully
connected layers, and two auxiliary classifiers on inception 4a and 4d add gradient to the
middle of the network while training.

Layout at 224×224 (the paper's Table 1, as in torchvision, with batch norm in every convolution):

    conv1 7×7/2 → maxpool1 → conv2 1×1 → conv3 3×3 → maxpool2         112 → 56 → 28
    inception3a, 3b → maxpool3                                          28 → 14
    inception4a … 4e (aux1 after 4a, aux2 after 4d) → maxpool4          14 → 7
    inception5a, 5b → avgpool → dropout(0.2) → fc                        7 → 1

Names as torchvision's (``conv1.conv.weight``, ``inception3a.branch2.1.bn.weight``,
``aux1.fc1.weight``, ``fc.weight`` …), as is the initialisation (truncated normal, std 0.01).
NOTE: torchvision's "5×5" branch is a 3×3 convolution (a slip kept for its trained weights);
``googlenet()`` does the same so state dicts load, and ``ch5x5_kernel_size=5`` gives the paper's.
"""

from collections import namedtuple

from soma import functional as F
from soma import nn
from soma.models.blocks.inception import BasicConv2d, InceptionAux, InceptionModule
from soma.models.registry import register_model
from soma.nn import init

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

# in, 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool projection (the paper's Table 1)
INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """Inception v1.

    Args:
        num_classes: outputs of ``fc`` (and of the auxiliary classifiers).
        in_channels: input channels.
        aux_logits: add the two auxiliary classifiers. In training mode the model then
            returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` (train on
            ``loss(logits) + 0.3 · (loss(aux1) + loss(aux2))``); in evaluation, the logits.
            Off by default so the output is one tensor (torchvision defaults to on).
        cifar_stem: for 32×32 inputs: a 3×3 stride-1 ``conv1`` and no ``maxpool1``/``maxpool2``.
        dropout, dropout_aux: dropout before ``fc`` and in the auxiliary classifiers.
        ch5x5_kernel_size: kernel of the "5×5" branches (3 as torchvision's, 5 as the paper's).

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        aux_logits: bool = False,
        cifar_stem: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        ch5x5_kernel_size: int = 3,
    ):
        super().__init__()
        self.aux_logits = aux_logits
        if cifar_stem:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1 = nn.Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.Identity() if cifar_stem else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            module = InceptionModule(*INCEPTION[name], ch5x5_kernel_size=ch5x5_kernel_size)
            self.add_module(f"inception{name}", module)
            if name == "3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            elif name == "4e":
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(F.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@register_model(
    "googlenet",
    "GoogLeNet / Inception v1 (Szegedy et al. 2015): 9 inception modules",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def googlenet(**kwargs) -> GoogLeNet:
    """GoogLeNet: 6,624,904 parameters at ImageNet settings (13,004,888 with the auxiliary
    classifiers).

    Example:
        >>> import soma
        >>> googlenet(num_classes=10, cifar_stem=True).eval()(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 10])
    """
    return GoogLeNet(**kwargs)
