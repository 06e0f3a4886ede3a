"""The inception module (Szegedy et al., "Going Deeper with Convolutions", 2015).

Four branches look at the same input at different scales and their outputs are concatenated
along the channels: a 1×1 convolution; 1×1 then 3×3; 1×1 then 5×5; 3×3 max-pooling then 1×1.
The 1×1 convolutions in front of the large kernels are the paper's "reductions": they shrink the
channel count first, so the 3×3 and 5×5 convolutions cost a fraction of what they would on the
full input.

Every convolution is a ``BasicConv2d`` (convolution without bias, batch norm with eps 0.001,
ReLU), as in torchvision's GoogLeNet (the 2014 network had no batch norm).
"""

from soma import functional as F
from soma import nn
from soma.autograd.tensor import Tensor


class BasicConv2d(nn.Module):
    """Convolution (no bias) → BatchNorm2d(eps=0.001) → ReLU; names ``conv``, ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    """One inception module: four parallel branches concatenated along the channels.

    Args:
        in_channels: input channels.
        ch1x1: outputs of the 1×1 branch.
        ch3x3red, ch3x3: reduction and outputs of the 3×3 branch.
        ch5x5red, ch5x5: reduction and outputs of the 5×5 branch.
        pool_proj: outputs of the 1×1 projection after the 3×3 max-pooling.
        ch5x5_kernel_size: kernel of the "5×5" branch. The paper's is 5; torchvision's
            GoogLeNet uses 3 there (a known slip kept for its trained weights), so
            ``googlenet()`` passes 3 by default.

    Shape:
        (N, in_channels, H, W) → (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).

    Example:
        >>> import soma
        >>> inception_3a = InceptionModule(192, 64, 96, 128, 16, 32, 32)
        >>> inception_3a(soma.zeros(1, 192, 28, 28)).shape
        soma.Size([1, 256, 28, 28])
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        ch5x5_kernel_size: int = 5,
    ):
        super().__init__()
        k = ch5x5_kernel_size
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=k, padding=k // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return F.cat(branches, 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate feature map (GoogLeNet trains with two, their
    losses weighted 0.3, to push gradient into the lower layers).

    Average-pools to 4×4, reduces to 128 channels with a 1×1 convolution, then
    ``fc1`` (2048 → 1024), ReLU, dropout and ``fc2`` (1024 → classes).
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(F.relu(self.fc1(F.flatten(x, 1))))
        return self.fc2(x)


__all__ = ["BasicConv2d", "InceptionAux", "InceptionModule"]
