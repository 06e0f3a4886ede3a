"""FPN segmentation: a ResNet, a feature pyramid (Lin et al., "Feature Pyramid Networks for
Object Detection", CVPR 2017) and a light semantic head (Kirillov, Girshick, He & Dollár,
"Panoptic Feature Pyramid Networks", CVPR 2019).

The four ResNet stages (strides 4, 8, 16, 32) feed ``FeaturePyramidNetwork``: lateral 1×1
convolutions to 256 channels, top-down nearest up-sampling and addition, 3×3 smoothing. The
head brings each pyramid level to 128 channels with a 3×3 convolution (BN, ReLU), up-samples
them all to the finest level (stride 4), sums them and classifies each pixel with a 1×1
convolution; the scores are up-sampled bilinearly to the input's size. (The panoptic paper's
head repeats conv + ×2 up-sampling per level; one convolution per level is the simple variant.)

Names: ``backbone.*`` the ResNet's (torchvision's), ``fpn.inner_blocks.i.0`` /
``fpn.layer_blocks.i.0`` as ``torchvision.ops.FeaturePyramidNetwork``, ``head.*``.
Parameters at the reference settings (ResNet-50, 256 pyramid channels, 128 head channels,
21 classes): 28,035,797.
"""

from soma import functional as F
from soma import nn
from soma.models.blocks.fpn import FeaturePyramidNetwork, FPNSegmentationHead
from soma.models.deeplab import resnet_backbone, stage_channels
from soma.models.registry import register_model

_STAGES = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}


class FPNSegmentation(nn.Module):
    """Backbone stages → feature pyramid → semantic head → bilinear up-sampling.

    Args:
        backbone: a module returning an ordered dict of maps, finest first
            (``ResNetFeatures`` with layer1 … layer4).
        in_channels_list: the channels of those maps.
        num_classes: classes per pixel.
        fpn_channels: channels of the pyramid (256).
        head_channels: channels inside the head (128).

    Shape:
        (N, C, H, W) → (N, num_classes, H, W).
    """

    def __init__(
        self,
        backbone,
        in_channels_list,
        num_classes: int,
        fpn_channels: int = 256,
        head_channels: int = 128,
    ):
        super().__init__()
        self.backbone = backbone
        self.fpn = FeaturePyramidNetwork(in_channels_list, fpn_channels)
        self.head = FPNSegmentationHead(
            fpn_channels, num_classes, len(in_channels_list), head_channels
        )

    def forward(self, x):
        size = tuple(x.shape[-2:])
        pyramid = self.fpn(list(self.backbone(x).values()))
        return F.interpolate(self.head(pyramid), size=size, mode="bilinear", align_corners=False)


@register_model(
    "fpn",
    "FPN segmentation (Lin et al. 2017; Kirillov et al. 2019): ResNet + feature pyramid + head",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def fpn(
    num_classes: int = 21,
    in_channels: int = 3,
    backbone: str = "resnet50",
    fpn_channels: int = 256,
    head_channels: int = 128,
    **backbone_kwargs,
) -> FPNSegmentation:
    """FPN segmentation on ResNet ``backbone`` (``**backbone_kwargs`` go to the ResNet).

    Example:
        >>> import soma
        >>> m = fpn(num_classes=3, in_channels=1, backbone="resnet18", width=8,
        ...         fpn_channels=16, head_channels=8)
        >>> m.eval()(soma.zeros(1, 1, 64, 64)).shape
        soma.Size([1, 3, 64, 64])
    """
    body = resnet_backbone(backbone, in_channels, _STAGES, **backbone_kwargs)
    channels = [stage_channels(getattr(body, name)) for name in _STAGES]
    return FPNSegmentation(body, channels, num_classes, fpn_channels, head_channels)


__all__ = ["FPNSegmentation", "fpn"]
