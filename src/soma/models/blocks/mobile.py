"""The blocks of the mobile networks: depthwise-separable convolutions, inverted residuals,
squeeze-and-excitation and stochastic depth.

* ``DepthwiseSeparableConv`` (MobileNet v1, Howard et al. 2017): a 3×3 convolution per channel
  (``groups = channels``) followed by a 1×1 "pointwise" convolution mixing the channels. It
  costs ``9·C + C·C'`` weights instead of ``9·C·C'``: about 8–9× fewer for 3×3 kernels.
* ``InvertedResidual`` (MobileNet v2, Sandler et al. 2018): expand with a 1×1 convolution, filter
  depthwise, project back with a *linear* 1×1 convolution; the shortcut joins the thin ends.
* ``SqueezeExcitation`` (Hu et al. 2018): pool each channel to one number, pass the vector
  through a small bottleneck and rescale the channels with the sigmoid of the result.
* ``MBConv`` (EfficientNet, Tan & Le 2019): an inverted residual with squeeze-and-excitation,
  SiLU activations and stochastic depth on the residual branch.

Module and parameter names follow torchvision's (``Conv2dNormActivation`` is ``ConvNormActivation``
here), so state dicts load 1:1.
"""

from functools import partial

from soma import nn
from soma.autograd.factory import empty


def init_mobile_weights(model: nn.Module, init_linear) -> None:
    """torchvision's initialisation of its mobile networks (MobileNet v2, EfficientNet).

    Convolutions: He-normal with fan-out, zero bias; batch and group norms: unit scale, zero
    shift; each Linear: ``init_linear(layer)`` for the weight, zero bias. Modules are visited
    in registration order, so the random draws come in torchvision's order.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            init_linear(m)
            nn.init.zeros_(m.bias)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never more than 10% down
    (the rule MobileNet v2 and EfficientNet use to scale widths)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormActivation(nn.Sequential):
    """Convolution → normalisation → activation, as ``Sequential`` children ``0``, ``1``, ``2``.

    The padding keeps the size at stride 1 (``(kernel_size - 1) // 2 · dilation``); the
    convolution has a bias only when there is no normalisation layer.

    Example:
        >>> import soma
        >>> ConvNormActivation(3, 8, stride=2)(soma.zeros(1, 3, 32, 32)).shape
        soma.Size([1, 8, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        dilation: int = 1,
    ):
        padding = (kernel_size - 1) // 2 * dilation
        layers = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=norm_layer is None,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


class DepthwiseSeparableConv(nn.Sequential):
    """MobileNet v1's unit: depthwise 3×3 convolution, BN, ReLU6, then pointwise 1×1, BN, ReLU6.

    Children carry Keras' names without the block number: ``conv_dw``, ``conv_dw_bn``,
    ``conv_dw_relu``, ``conv_pw``, ``conv_pw_bn``, ``conv_pw_relu`` (and ``conv_pad`` before a
    strided block). No convolution has a bias: the batch norm that follows supplies one.

    Args:
        in_channels: input channels.
        out_channels: channels of the pointwise convolution.
        stride: 1, or 2 to halve the size.
        depth_multiplier: depthwise outputs per input channel (Keras' ``depth_multiplier``).
        norm_layer: the normalisation (default ``BatchNorm2d``).
        activation_layer: the activation (default ``ReLU6``, as in Keras).
        keras_padding: pad strided blocks by one row and column at the bottom and right only,
            as Keras does (``conv_pad``); otherwise one on every side, as PyTorch code usually
            does. Both give the same output size; the pixels sampled differ by one.

    Example:
        >>> import soma
        >>> block = DepthwiseSeparableConv(32, 64)
        >>> block(soma.zeros(1, 32, 8, 8)).shape
        soma.Size([1, 64, 8, 8])
        >>> sum(p.numel() for p in block.parameters())   # 9·32 + 32·64, BN: 2·32 + 2·64
        2528
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        depth_multiplier: int = 1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU6,
        keras_padding: bool = False,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"DepthwiseSeparableConv: stride must be 1 or 2, got {stride}")
        padding = 1
        if stride == 2 and keras_padding:
            self.conv_pad = nn.ZeroPad2d((0, 1, 0, 1))
            padding = 0
        depthwise = in_channels * depth_multiplier
        self.conv_dw = nn.Conv2d(
            in_channels, depthwise, 3, stride, padding, groups=in_channels, bias=False
        )
        self.conv_dw_bn = norm_layer(depthwise)
        self.conv_dw_relu = activation_layer()
        self.conv_pw = nn.Conv2d(depthwise, out_channels, 1, bias=False)
        self.conv_pw_bn = norm_layer(out_channels)
        self.conv_pw_relu = activation_layer()


class InvertedResidual(nn.Module):
    """MobileNet v2's block: 1×1 expansion (ReLU6), 3×3 depthwise (ReLU6), linear 1×1 projection.

    The expansion is skipped when ``expand_ratio`` is 1; the input is added to the output when
    the block keeps both the size (stride 1) and the channel count. Children as torchvision's:
    ``conv.0`` … ``conv.3``.

    Example:
        >>> import soma
        >>> InvertedResidual(16, 24, stride=2, expand_ratio=6)(soma.zeros(1, 16, 8, 8)).shape
        soma.Size([1, 24, 4, 4])
    """

    def __init__(
        self, inp: int, oup: int, stride: int, expand_ratio: float, norm_layer=nn.BatchNorm2d
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(
                ConvNormActivation(
                    inp, hidden, 1, norm_layer=norm_layer, activation_layer=nn.ReLU6
                )
            )
        layers += [
            ConvNormActivation(
                hidden,
                hidden,
                3,
                stride,
                groups=hidden,
                norm_layer=norm_layer,
                activation_layer=nn.ReLU6,
            ),
            nn.Conv2d(hidden, oup, 1, bias=False),  # linear bottleneck: no activation
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class SqueezeExcitation(nn.Module):
    """Channel attention: ``x · σ(fc2(act(fc1(mean over H, W of x))))``, with 1×1 convolutions
    as the two fully connected layers (names ``fc1``, ``fc2`` as torchvision's).

    Example:
        >>> import soma
        >>> SqueezeExcitation(32, 8)(soma.ones(2, 32, 4, 4)).shape
        soma.Size([2, 32, 4, 4])
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation=nn.ReLU,
        scale_activation=nn.Sigmoid,
    ):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return x * self.scale_activation(scale)


class StochasticDepth(nn.Module):
    """Randomly drop a residual branch while training (Huang et al. 2016).

    In ``"row"`` mode each sample's branch is zeroed with probability ``p`` (in ``"batch"`` mode
    the whole batch's), and survivors are scaled by ``1 / (1 - p)`` so the expectation is
    unchanged; in evaluation it is the identity.

    Example:
        >>> import soma
        >>> StochasticDepth(0.5).eval()(soma.ones(2, 3)).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, p: float, mode: str = "row", generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"StochasticDepth: p must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"StochasticDepth: mode must be 'row' or 'batch', got {mode!r}")
        self.p, self.mode, self.generator = p, mode, generator

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = (x.shape[0],) + (1,) * (x.ndim - 1) if self.mode == "row" else (1,) * x.ndim
        keep = empty(*size, dtype=x.dtype).bernoulli_(survival, generator=self.generator)
        if survival > 0.0:
            keep = keep / survival
        return x * keep

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


class MBConv(nn.Module):
    """EfficientNet's mobile inverted bottleneck: expand (1×1), depthwise (k×k), squeeze-and-
    excitation, project (1×1, linear), each convolution with BN and SiLU; stochastic depth on
    the residual branch. Children ``block.0`` … and ``stochastic_depth``, as torchvision's.

    Example:
        >>> import soma
        >>> MBConv(16, 24, expand_ratio=6, kernel_size=3, stride=2)(soma.zeros(1, 16, 8, 8)).shape
        soma.Size([1, 24, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: float,
        kernel_size: int,
        stride: int,
        stochastic_depth_prob: float = 0.0,
        norm_layer=nn.BatchNorm2d,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"MBConv: stride must be 1 or 2, got {stride}")
        self.use_res_connect = stride == 1 and in_channels == out_channels
        expanded = make_divisible(in_channels * expand_ratio, 8)
        layers = []
        if expanded != in_channels:
            layers.append(
                ConvNormActivation(
                    in_channels, expanded, 1, norm_layer=norm_layer, activation_layer=nn.SiLU
                )
            )
        layers += [
            ConvNormActivation(
                expanded,
                expanded,
                kernel_size,
                stride,
                groups=expanded,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            ),
            SqueezeExcitation(expanded, max(1, in_channels // 4), activation=nn.SiLU),
            ConvNormActivation(
                expanded, out_channels, 1, norm_layer=norm_layer, activation_layer=None
            ),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = out_channels

    def forward(self, x):
        y = self.block(x)
        if self.use_res_connect:
            y = self.stochastic_depth(y) + x
        return y


# Keras' BatchNormalization defaults (epsilon 1e-3, moving-average momentum 0.99)
KerasBatchNorm2d = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)

__all__ = [
    "ConvNormActivation",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "KerasBatchNorm2d",
    "MBConv",
    "SqueezeExcitation",
    "StochasticDepth",
    "make_divisible",
]
