"""Residual blocks (He et al., "Deep Residual Learning for Image Recognition", 2016).

A block learns a residual ``F(x)`` and outputs ``relu(F(x) + shortcut(x))``. The shortcut is
the identity, or a 1×1 convolution with batch norm (``downsample``) when the block changes the
size or the channel count (the paper's projection shortcut, option B).

* ``BasicBlock`` (ResNet-18/34): two 3×3 convolutions, ``expansion = 1``.
* ``Bottleneck`` (ResNet-50/101/152): 1×1 reduce, 3×3, 1×1 expand to ``4 · planes``
  (``expansion = 4``); the stride sits on the 3×3 convolution, as in torchvision ("ResNet v1.5").

Names as torchvision's: ``conv1``, ``bn1``, ``conv2``, ``bn2`` (``conv3``, ``bn3``) and
``downsample``.
"""

from soma import nn


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Conv2d:
    """3×3 convolution with padding, no bias (a batch norm follows)."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        3,
        stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, 1, stride, bias=False)


def projection(in_planes: int, out_planes: int, stride: int, norm_layer=nn.BatchNorm2d):
    """The projection shortcut: 1×1 convolution (strided) and batch norm, as ``downsample``."""
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), norm_layer(out_planes))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, plus the shortcut.

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the first convolution (2 halves the size).
        downsample: the shortcut module, needed when size or channels change
            (``projection(inplanes, planes, stride)``); ``None`` for the identity.

    Example:
        >>> import soma
        >>> block = BasicBlock(64, 128, stride=2, downsample=projection(64, 128, 2))
        >>> block(soma.zeros(1, 64, 8, 8)).shape
        soma.Size([1, 128, 4, 4])
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample=None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer=nn.BatchNorm2d,
    ):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(
                "BasicBlock only supports groups=1 and base_width=64, got "
                f"groups={groups}, base_width={base_width}"
            )
        if dilation > 1:
            raise ValueError(f"BasicBlock: dilation > 1 is not supported, got {dilation}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 (reduce to ``width``), 3×3 (strided), 1×1 (expand to ``4 · planes``), plus the shortcut.

    ``width = planes · base_width / 64 · groups`` (wide ResNets and ResNeXt change it; the plain
    ResNets keep ``width = planes``).

    Example:
        >>> import soma
        >>> block = Bottleneck(64, 64, downsample=projection(64, 256, 1))
        >>> block(soma.zeros(1, 64, 8, 8)).shape
        soma.Size([1, 256, 8, 8])
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample=None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer=nn.BatchNorm2d,
    ):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


__all__ = ["BasicBlock", "Bottleneck", "conv1x1", "conv3x3", "projection"]
