"""ResNet (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016).

The idea: let each block learn a *residual* ``F(x)`` added to its input, ``y = F(x) + x``.
Identity shortcuts let gradients reach the early layers unchanged, so networks of 50–150 layers
train as easily as shallow ones (a plain 34-layer network trains worse than an 18-layer one; a
residual one better). Where a block halves the size and doubles the channels, the shortcut is a
strided 1×1 convolution with batch norm (the paper's projection shortcut).

Layout at 224×224 (torchvision's, with the stride of bottlenecks on the 3×3 convolution):

    conv1 7×7/2, 64 → bn1 → relu → maxpool 3×3/2          112×112 → 56×56
    layer1 … layer4: [2,2,2,2] (18), [3,4,6,3] (34, 50), [3,4,23,3] (101), [3,8,36,3] (152)
        blocks of 64, 128, 256, 512 channels (×4 for bottlenecks)  56, 28, 14, 7
    avgpool (global) → fc

Module and parameter names are torchvision's (``conv1.weight``, ``layer1.0.conv1.weight``,
``layer2.0.downsample.0.weight``, ``fc.bias`` …) so its state dicts load 1:1; initialisation
is torchvision's too (He-normal with fan-out for convolutions, BN γ = 1, β = 0).
"""

from soma import functional as F
from soma import nn
from soma.models.blocks.residual import BasicBlock, Bottleneck, projection
from soma.models.registry import register_model
from soma.nn import init


class ResNet(nn.Module):
    """A residual network of ``block`` s, ``layers[i]`` of them in stage ``i + 1``.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes: outputs of ``fc``.
        in_channels: input channels.
        cifar_stem: for 32×32 inputs: a 3×3 stride-1 ``conv1`` and no max-pooling, so the
            stages see 32, 16, 8, 4 pixels (as in the paper's CIFAR-10 experiments' spirit).
        width: channels of the stem and the first stage (64); each later stage doubles it.
            Smaller values give the narrow networks used for quick experiments.
        zero_init_residual: start each block's last BN at γ = 0, so every block begins as the
            identity (Goyal et al. 2017).
        groups, width_per_group: grouped bottlenecks (ResNeXt, wide ResNets), as torchvision's.
        norm_layer: normalisation layer (default ``BatchNorm2d``).
        replace_stride_with_dilation: three booleans for layer2 … layer4: keep the size there
            and dilate the 3×3 convolutions instead (Bottleneck only; DeepLabv3's backbone
            uses ``[False, True, True]``, output stride 8), as torchvision's.

    Shape:
        (N, in_channels, H, W) → (N, num_classes).
    """

    def __init__(
        self,
        block,
        layers,
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar_stem: bool = False,
        width: int = 64,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        norm_layer=nn.BatchNorm2d,
        replace_stride_with_dilation=None,
    ):
        super().__init__()
        dilate = list(replace_stride_with_dilation or [False, False, False])
        if len(dilate) != 3:
            raise ValueError(
                f"ResNet: replace_stride_with_dilation needs 3 booleans, got {dilate}"
            )
        self._norm_layer = norm_layer
        self.dilation = 1
        self.groups, self.base_width = groups, width_per_group
        self.inplanes = width
        with init.no_init():  # every weight here is drawn once, by _init_weights below
            if cifar_stem:
                self.conv1 = nn.Conv2d(in_channels, width, 3, 1, padding=1, bias=False)
            else:
                self.conv1 = nn.Conv2d(in_channels, width, 7, 2, padding=3, bias=False)
            self.bn1 = norm_layer(width)
            self.relu = nn.ReLU()
            self.maxpool = nn.Identity() if cifar_stem else nn.MaxPool2d(3, 2, padding=1)
            self.layer1 = self._make_layer(block, width, layers[0])
            self.layer2 = self._make_layer(block, width * 2, layers[1], 2, dilate[0])
            self.layer3 = self._make_layer(block, width * 4, layers[2], 2, dilate[1])
            self.layer4 = self._make_layer(block, width * 8, layers[3], 2, dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)  # PyTorch's default init
        self._init_weights(zero_init_residual)

    def _make_layer(
        self, block, planes: int, blocks: int, stride: int = 1, dilate: bool = False
    ) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:  # keep the size, widen the 3×3 kernels' reach instead
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = projection(
                self.inplanes, planes * block.expansion, stride, self._norm_layer
            )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                norm_layer=self._norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=self._norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    init.constant_(m.bn2.weight, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.flatten(self.avgpool(x), 1)
        return self.fc(x)


_IMAGENET = dict(reference_input=(3, 224, 224), min_input_size=(32, 32))


@register_model(
    "resnet18", "ResNet-18 (He et al. 2016): residual BasicBlocks [2,2,2,2]", **_IMAGENET
)
def resnet18(**kwargs) -> ResNet:
    """ResNet-18: 11,689,512 parameters, 1.8 G mult-adds at 224×224 (1000 classes).

    Example:
        >>> import soma
        >>> resnet18(num_classes=10, cifar_stem=True, width=8)(soma.zeros(2, 3, 32, 32)).shape
        soma.Size([2, 10])
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


@register_model(
    "resnet34", "ResNet-34 (He et al. 2016): residual BasicBlocks [3,4,6,3]", **_IMAGENET
)
def resnet34(**kwargs) -> ResNet:
    """ResNet-34: 21,797,672 parameters at ImageNet settings."""
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


@register_model("resnet50", "ResNet-50 (He et al. 2016): Bottlenecks [3,4,6,3]", **_IMAGENET)
def resnet50(**kwargs) -> ResNet:
    """ResNet-50: 25,557,032 parameters at ImageNet settings."""
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


@register_model("resnet101", "ResNet-101 (He et al. 2016): Bottlenecks [3,4,23,3]", **_IMAGENET)
def resnet101(**kwargs) -> ResNet:
    """ResNet-101: 44,549,160 parameters at ImageNet settings."""
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


@register_model("resnet152", "ResNet-152 (He et al. 2016): Bottlenecks [3,8,36,3]", **_IMAGENET)
def resnet152(**kwargs) -> ResNet:
    """ResNet-152: 60,192,808 parameters at ImageNet settings."""
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)
