"""Feature pyramid network (Lin, Dollár, Girshick, He, Hariharan & Belongie, "Feature Pyramid
Networks for Object Detection", CVPR 2017).

A backbone's stages see the image at strides 4, 8, 16, 32: the deep maps know *what* is there,
the shallow ones *where*. FPN gives every scale both: a 1×1 "lateral" convolution brings each
stage to the same channel count, a top-down pass up-samples the coarser merged map (nearest
neighbour, ×2) and adds it to the lateral one, and a 3×3 convolution smooths each sum (against
the aliasing of up-sampling). The outputs have the stages' sizes and ``out_channels`` each.

Names and arithmetic are torchvision's (``torchvision.ops.FeaturePyramidNetwork``):
``inner_blocks.i.0`` the lateral 1×1 convolutions, ``layer_blocks.i.0`` the 3×3 ones, both with
biases; up-sampling with ``interpolate(mode="nearest")`` to the lateral map's size.
"""

from soma import functional as F
from soma import nn
from soma.nn import init


class FeaturePyramidNetwork(nn.Module):
    """Top-down pathway with lateral connections over a list of feature maps (finest first).

    Args:
        in_channels_list: channels of each input map, finest (largest) first.
        out_channels: channels of every output map (256 in the paper).

    Shape:
        maps [(N, C_i, H_i, W_i)] → [(N, out_channels, H_i, W_i)], same order.

    Example:
        >>> import soma
        >>> fpn = FeaturePyramidNetwork([4, 8], 6)
        >>> [tuple(m.shape) for m in fpn([soma.zeros(1, 4, 8, 8), soma.zeros(1, 8, 4, 4)])]
        [(1, 6, 8, 8), (1, 6, 4, 4)]
    """

    def __init__(self, in_channels_list, out_channels: int):
        super().__init__()
        if not in_channels_list or any(c <= 0 for c in in_channels_list):
            raise ValueError(
                f"FeaturePyramidNetwork: in_channels_list must be positive, got {in_channels_list}"
            )
        with init.no_init():  # drawn once, below
            self.inner_blocks = nn.ModuleList(
                nn.Sequential(nn.Conv2d(c, out_channels, 1)) for c in in_channels_list
            )
            self.layer_blocks = nn.ModuleList(
                nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1))
                for _ in in_channels_list
            )
        for m in self.modules():  # torchvision: kaiming_uniform_(a=1), zero bias
            if isinstance(m, nn.Conv2d):
                init.kaiming_uniform_(m.weight, a=1)
                init.zeros_(m.bias)

    def forward(self, features):
        features = list(features)
        if len(features) != len(self.inner_blocks):
            raise ValueError(
                f"FeaturePyramidNetwork: expected {len(self.inner_blocks)} feature maps, "
                f"got {len(features)}"
            )
        last_inner = self.inner_blocks[-1](features[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for i in range(len(features) - 2, -1, -1):
            lateral = self.inner_blocks[i](features[i])
            top_down = F.interpolate(last_inner, size=tuple(lateral.shape[-2:]), mode="nearest")
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[i](last_inner))
        return results


class FPNSegmentationHead(nn.Module):
    """A simple semantic head on FPN maps, after Kirillov et al.'s panoptic FPN (2019): each map
    goes through a 3×3 convolution (BN, ReLU) to ``channels``, is bilinearly up-sampled to the
    finest map's size, the maps are summed, and a 1×1 convolution gives the class scores.

    Example:
        >>> import soma
        >>> head = FPNSegmentationHead(6, 3, num_levels=2, channels=4)
        >>> head([soma.zeros(1, 6, 8, 8), soma.zeros(1, 6, 4, 4)]).shape
        soma.Size([1, 3, 8, 8])
    """

    def __init__(self, in_channels: int, num_classes: int, num_levels: int, channels: int = 128):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
            )
            for _ in range(num_levels)
        )
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features):
        size = tuple(features[0].shape[-2:])
        out = self.blocks[0](features[0])
        for block, feature in zip(self.blocks[1:], features[1:], strict=True):
            y = block(feature)
            out = out + F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return self.classifier(out)


__all__ = ["FPNSegmentationHead", "FeaturePyramidNetwork"]
