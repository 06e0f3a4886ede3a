"""Dense connectivity (Huang et al., "Densely Connected Convolutional Networks", 2017).

Inside a dense block every layer receives the concatenation of the block's input and of all
earlier layers' outputs, and adds ``growth_rate`` new channels of its own: layer ``l`` sees
``c0 + (l - 1) · k`` channels. Features are reused instead of relearned, so the layers can be
narrow (k = 32 in DenseNet-121). Each layer is BN-ReLU-Conv1×1 (a bottleneck to ``bn_size · k``
channels) then BN-ReLU-Conv3×3; transitions between blocks halve the channels (1×1 convolution)
and the size (2×2 average pooling).

Names as torchvision's: ``denselayer1`` … with ``norm1``, ``relu1``, ``conv1``, ``norm2``,
``relu2``, ``conv2``; transitions ``norm``, ``relu``, ``conv``, ``pool``.
"""

from soma import functional as F
from soma import nn


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1×1 (to ``bn_size · growth_rate``) then BN-ReLU-Conv3×3 (to ``growth_rate``).

    ``forward`` takes the list of all earlier feature maps and returns only the new channels.
    """

    def __init__(
        self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float = 0.0
    ):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = F.cat(features, 1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.Module):
    """``num_layers`` dense layers, each fed with everything before it.

    Args:
        num_layers: layers in the block.
        num_input_features: channels of the block's input.
        bn_size: bottleneck width factor (the 1×1 convolution outputs ``bn_size · growth_rate``).
        growth_rate: channels each layer adds (``k``).
        drop_rate: dropout after each layer.

    Shape:
        (N, C, H, W) → (N, C + num_layers · growth_rate, H, W).

    Example:
        >>> import soma
        >>> DenseBlock(6, 64, bn_size=4, growth_rate=32)(soma.zeros(1, 64, 8, 8)).shape
        soma.Size([1, 256, 8, 8])
    """

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        bn_size: int = 4,
        growth_rate: int = 32,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(
                num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate
            )
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x):
        features = [x]
        for layer in self.children():
            features.append(layer(features))
        return F.cat(features, 1)


class Transition(nn.Sequential):
    """Between dense blocks: BN, ReLU, 1×1 convolution to ``num_output_features``, 2×2 average
    pooling.

    Example:
        >>> import soma
        >>> Transition(256, 128)(soma.zeros(1, 256, 8, 8)).shape
        soma.Size([1, 128, 4, 4])
    """

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(num_input_features, num_output_features, 1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


__all__ = ["DenseBlock", "DenseLayer", "Transition"]
