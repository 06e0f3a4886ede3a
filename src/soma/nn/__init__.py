"""Layers, containers, losses and initialisers: PyTorch's ``torch.nn``."""

from soma.nn import functional, init, utils
from soma.nn.module import Module
from soma.nn.modules.activation import (
    CELU, ELU, GELU, SELU, Exponential, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
    LogSigmoid, LogSoftmax, Maxout, Mish, PReLU, ReLU, ReLU6, SiLU, Sigmoid, Softmax, Softmin,
    Softplus, Softshrink, Softsign, Step, Swish, Tanh, Tanhshrink, Threshold,
)
from soma.nn.modules.adaptive_pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
    AdaptiveMaxPool3d, GlobalAvgPool2d, GlobalMaxPool2d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d,
)
from soma.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from soma.nn.modules.dropout import (
    AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout,
)
from soma.nn.modules.normalization import (
    GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm, LocalResponseNorm,
)
from soma.nn.modules.pooling import (
    AvgPool1d, AvgPool2d, AvgPool3d, LPPool1d, LPPool2d, LPPool3d, MaxPool1d, MaxPool2d,
    MaxPool3d, MinPool1d, MinPool2d, MinPool3d, SumPool1d, SumPool2d, SumPool3d,
)
from soma.nn.modules.upsampling import (
    PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d,
)
from soma.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from soma.nn.modules.embedding import Embedding, EmbeddingBag
from soma.nn.modules.linear import Bilinear, Identity, Linear
from soma.nn.modules.loss import MSELoss
from soma.nn.modules.recurrent import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from soma.nn.modules.reshape import Flatten, Unflatten
from soma.nn.parameter import Buffer, Parameter

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AlphaDropout",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Bilinear",
    "Buffer",
    "CELU",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "ELU",
    "Embedding",
    "EmbeddingBag",
    "Exponential",
    "FeatureAlphaDropout",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "GlobalAvgPool2d",
    "GlobalMaxPool2d",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "Identity",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LocalResponseNorm",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Maxout",
    "MinPool1d",
    "MinPool2d",
    "MinPool3d",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "PixelShuffle",
    "PixelUnshuffle",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "ReLU6",
    "SELU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Step",
    "SumPool1d",
    "SumPool2d",
    "SumPool3d",
    "Swish",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "Unflatten",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "functional",
    "init",
    "utils",
]
