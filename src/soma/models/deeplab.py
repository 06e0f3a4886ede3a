"""DeepLabv3 (Chen, Papandreou, Schroff & Adam, "Rethinking Atrous Convolution for Semantic
Image Segmentation", 2017) on a ResNet backbone.

The backbone is a ResNet without its pooling and classifier. Its last two stages keep the
size and dilate their convolutions instead of striding (output stride 8: a 224×224 image gives
28×28 features with the receptive field of the strided network). ``DeepLabHead`` (ASPP at rates
12, 24, 36, a 3×3 convolution, a 1×1 classifier) labels the features, and bilinear
up-sampling brings the scores back to the input's size. An optional auxiliary ``FCNHead`` on
``layer3`` helps training (``aux_loss=True``).

Layout and names are torchvision's ``deeplabv3_resnet50`` (``backbone.layer4.2.conv3.weight``,
``classifier.0.convs.1.0.weight``, ``aux_classifier.4.bias`` …), so its state dicts transfer.
Parameters at its reference settings (21 classes): 39,638,869; 42,004,074 with the auxiliary
head (torchvision's published count).

NOTE: torchvision returns ``{"out": scores}``; here the model returns the scores tensor (so
``fit`` and the losses take it directly), and ``{"out": …, "aux": …}`` only with ``aux_loss``.
"""

from collections import OrderedDict

from soma import functional as F
from soma import nn
from soma.models.blocks.aspp import DeepLabHead
from soma.models.registry import get_model, register_model
from soma.models.resnet import ResNet


class ResNetFeatures(nn.Module):
    """A ResNet's stem and stages, returning the maps of ``return_layers`` (torchvision's
    ``IntermediateLayerGetter``): stages after the last returned one are dropped, and so are
    ``avgpool`` and ``fc``. Parameter names stay the ResNet's (``conv1.weight``, ``layer1.0…``).

    Args:
        resnet: a ``soma.models.ResNet``.
        return_layers: ``{stage name: output name}``, e.g. ``{"layer4": "out"}``.

    Returns:
        an ``OrderedDict`` of the requested maps, in stage order.
    """

    def __init__(self, resnet: ResNet, return_layers: dict):
        super().__init__()
        self.return_layers = dict(return_layers)
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        missing = set(self.return_layers) - set(names)
        if missing:
            raise ValueError(f"ResNetFeatures: no stages named {sorted(missing)} in a ResNet")
        remaining = set(self.return_layers)
        self._stages = []
        for name in names:
            setattr(self, name, getattr(resnet, name))
            self._stages.append(name)
            remaining.discard(name)
            if not remaining:
                break

    def forward(self, x):
        out = OrderedDict()
        for name in self._stages:
            x = getattr(self, name)(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


def stage_channels(stage) -> int:
    """Output channels of a ResNet stage (its last block's last batch norm)."""
    last = stage[-1]
    return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features


def resnet_backbone(name: str, in_channels: int, return_layers: dict, **kwargs) -> ResNetFeatures:
    """The stages of registered ResNet ``name`` (``"resnet50"`` …) as a ``ResNetFeatures``."""
    if not name.startswith("resnet"):
        raise ValueError(f"resnet_backbone: expected a ResNet name, got {name!r}")
    return ResNetFeatures(get_model(name, in_channels=in_channels, **kwargs), return_layers)


class FCNHead(nn.Sequential):
    """torchvision's auxiliary head: 3×3 convolution to ``in_channels // 4``, BN, ReLU,
    dropout 0.1, 1×1 convolution to ``channels``."""

    def __init__(self, in_channels: int, channels: int):
        inter = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter, channels, 1),
        )


class DeepLabV3(nn.Module):
    """A backbone returning ``{"out": map}`` (and ``"aux"``), a classifier, an optional
    auxiliary classifier; scores up-sampled bilinearly to the input's size.

    Shape:
        (N, C, H, W) → (N, num_classes, H, W).
    """

    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x):
        size = tuple(x.shape[-2:])
        features = self.backbone(x)
        out = self.classifier(features["out"])
        out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        if self.aux_classifier is None:
            return out
        aux = self.aux_classifier(features["aux"])
        aux = F.interpolate(aux, size=size, mode="bilinear", align_corners=False)
        return {"out": out, "aux": aux}


_BOTTLENECK_RESNETS = ("resnet50", "resnet101", "resnet152")


@register_model(
    "deeplabv3",
    "DeepLabv3 (Chen et al. 2017): dilated ResNet + ASPP head, bilinear up-sampling; per pixel",
    reference_input=(3, 224, 224),
    min_input_size=(32, 32),
)
def deeplabv3(
    num_classes: int = 21,
    in_channels: int = 3,
    backbone: str = "resnet50",
    atrous_rates=(12, 24, 36),
    channels: int = 256,
    aux_loss: bool = False,
    **backbone_kwargs,
) -> DeepLabV3:
    """DeepLabv3 on ResNet ``backbone``; Bottleneck ResNets (50, 101, 152) are dilated in
    layer3 and layer4 (output stride 8), BasicBlock ones (18, 34) keep their strides.

    Args:
        num_classes: classes per pixel (21 for PASCAL VOC).
        in_channels: input channels.
        backbone: ``"resnet18"`` … ``"resnet152"``.
        atrous_rates: ASPP's dilations.
        channels: ASPP's and the head's width (256).
        aux_loss: add the auxiliary FCN head on layer3 (the model then returns a dict).
        **backbone_kwargs: to the ResNet (``width=16``, ``cifar_stem=True`` for small images…).

    Example:
        >>> import soma
        >>> m = deeplabv3(num_classes=3, in_channels=1, backbone="resnet18", width=8,
        ...               atrous_rates=(1, 2, 4), channels=16)
        >>> m.eval()(soma.zeros(1, 1, 64, 64)).shape
        soma.Size([1, 3, 64, 64])
    """
    if backbone in _BOTTLENECK_RESNETS:
        backbone_kwargs.setdefault("replace_stride_with_dilation", [False, True, True])
    return_layers = {"layer4": "out"}
    if aux_loss:
        return_layers["layer3"] = "aux"
    body = resnet_backbone(backbone, in_channels, return_layers, **backbone_kwargs)
    out_channels = stage_channels(body.layer4)
    classifier = DeepLabHead(out_channels, num_classes, atrous_rates, channels)
    aux = FCNHead(out_channels // 2, num_classes) if aux_loss else None
    return DeepLabV3(body, classifier, aux)


__all__ = [
    "DeepLabV3",
    "FCNHead",
    "ResNetFeatures",
    "deeplabv3",
    "resnet_backbone",
    "stage_channels",
]
