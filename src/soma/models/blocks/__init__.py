"""Building blocks of the classic convolutional networks, public so learners compose their own.

* residual: ``BasicBlock``, ``Bottleneck`` (ResNet) and the ``projection`` shortcut;
* inception: ``InceptionModule``, ``InceptionAux``, ``BasicConv2d`` (GoogLeNet);
* dense: ``DenseLayer``, ``DenseBlock``, ``Transition`` (DenseNet);
* mobile: ``DepthwiseSeparableConv`` (MobileNet v1), ``InvertedResidual`` (MobileNet v2),
  ``SqueezeExcitation``, ``MBConv``, ``StochasticDepth`` (EfficientNet), ``ConvNormActivation``;
* time_embedding: ``sinusoidal_embedding``, ``SinusoidalTimeEmbedding``, ``TimeResBlock``
  (diffusion denoisers).

Example:
    >>> import soma
    >>> from soma.models.blocks import BasicBlock, projection
    >>> net = soma.nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, 2, projection(16, 32, 2)))
    >>> net(soma.zeros(1, 16, 8, 8)).shape
    soma.Size([1, 32, 4, 4])
"""

from soma.models.blocks.dense import DenseBlock, DenseLayer, Transition
from soma.models.blocks.inception import BasicConv2d, InceptionAux, InceptionModule
from soma.models.blocks.mobile import (
    ConvNormActivation,
    DepthwiseSeparableConv,
    InvertedResidual,
    KerasBatchNorm2d,
    MBConv,
    SqueezeExcitation,
    StochasticDepth,
    make_divisible,
)
from soma.models.blocks.residual import BasicBlock, Bottleneck, conv1x1, conv3x3, projection
from soma.models.blocks.time_embedding import (
    SinusoidalTimeEmbedding,
    TimeResBlock,
    sinusoidal_embedding,
)

__all__ = [
    "SinusoidalTimeEmbedding",
    "TimeResBlock",
    "sinusoidal_embedding",
    "BasicBlock",
    "BasicConv2d",
    "Bottleneck",
    "ConvNormActivation",
    "DenseBlock",
    "DenseLayer",
    "DepthwiseSeparableConv",
    "InceptionAux",
    "InceptionModule",
    "InvertedResidual",
    "KerasBatchNorm2d",
    "MBConv",
    "SqueezeExcitation",
    "StochasticDepth",
    "Transition",
    "conv1x1",
    "conv3x3",
    "make_divisible",
    "projection",
]
