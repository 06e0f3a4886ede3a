"""Atrous spatial pyramid pooling (Chen, Papandreou, Schroff & Adam, "Rethinking Atrous
Convolution for Semantic Image Segmentation", 2017: DeepLabv3).

A 3×3 convolution with dilation ``d`` spreads its nine taps ``d`` pixels apart: it sees a
``(2d + 1)``-pixel window with nine weights, and with padding ``d`` it keeps the map's size.
ASPP runs several of them side by side on the same map, at different rates, so each output
pixel mixes context from several scales; an image-level branch (global average pooling, 1×1
convolution, broadcast back) adds the whole picture. The branches are concatenated and
projected by a 1×1 convolution.

Names and layout are torchvision's (``torchvision.models.segmentation.deeplabv3``):
``convs.0`` the 1×1 branch, ``convs.1 …`` one ``ASPPConv`` per rate, ``convs.-1`` the
``ASPPPooling`` branch, ``project`` the 1×1 projection with dropout 0.5; each convolution has
no bias and is followed by ``BatchNorm2d`` and ReLU. State dicts transfer 1:1.
"""

from soma import functional as F
from soma import nn


class ASPPConv(nn.Sequential):
    """3×3 convolution with dilation ``dilation`` (padding ``dilation``: size kept), BN, ReLU.

    Example:
        >>> import soma
        >>> ASPPConv(4, 8, dilation=4)(soma.zeros(1, 4, 9, 9)).shape
        soma.Size([1, 8, 9, 9])
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__(
            nn.Conv2d(
                in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level features: global average pooling, 1×1 convolution, BN, ReLU, then bilinear
    up-sampling of the 1×1 result back to the input's size (a constant map per channel).

    Example:
        >>> import soma
        >>> ASPPPooling(4, 8).eval()(soma.zeros(1, 4, 5, 7)).shape
        soma.Size([1, 8, 5, 7])
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x):
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Parallel 1×1, atrous 3×3 (one per rate) and image-pooling branches, concatenated and
    projected to ``out_channels``.

    Args:
        in_channels: channels of the input map.
        atrous_rates: dilations of the 3×3 branches ((12, 24, 36) in DeepLabv3 at output
            stride 8; the lecture shows 1, 2, 4).
        out_channels: channels of every branch and of the output (256 in the paper).
        dropout: dropout after the projection (0.5 in torchvision).

    Shape:
        (N, in_channels, H, W) → (N, out_channels, H, W): every branch keeps the size.

    Example:
        >>> import soma
        >>> aspp = ASPP(8, [1, 2, 4], out_channels=16).eval()
        >>> aspp(soma.zeros(2, 8, 10, 10)).shape
        soma.Size([2, 16, 10, 10])
    """

    def __init__(
        self, in_channels: int, atrous_rates, out_channels: int = 256, dropout: float = 0.5
    ):
        super().__init__()
        branches = [
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            )
        ]
        branches += [ASPPConv(in_channels, out_channels, int(rate)) for rate in atrous_rates]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.project(F.cat([branch(x) for branch in self.convs], 1))


class DeepLabHead(nn.Sequential):
    """DeepLabv3's classifier: ``ASPP``, a 3×3 convolution with BN and ReLU, a 1×1 convolution
    to ``num_classes`` (children ``0`` … ``4``, as torchvision's).

    Example:
        >>> import soma
        >>> head = DeepLabHead(8, 3, atrous_rates=(1, 2, 4), channels=16).eval()
        >>> head(soma.zeros(1, 8, 6, 6)).shape
        soma.Size([1, 3, 6, 6])
    """

    def __init__(
        self, in_channels: int, num_classes: int, atrous_rates=(12, 24, 36), channels: int = 256
    ):
        super().__init__(
            ASPP(in_channels, atrous_rates, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )


__all__ = ["ASPP", "ASPPConv", "ASPPPooling", "DeepLabHead"]
