"""Layers, containers, losses and initialisers: PyTorch's ``torch.nn``."""

from soma.nn import functional, init, parallel, utils
from soma.nn.module import Module
from soma.nn.modules.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Exponential,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Maxout,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Step,
    Swish,
    Tanh,
    Tanhshrink,
    Threshold,
)
from soma.nn.modules.adaptive_pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from soma.nn.modules.attention import MultiheadAttention
from soma.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from soma.nn.modules.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from soma.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from soma.nn.modules.dropout import (
    AlphaDropout,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    FeatureAlphaDropout,
)
from soma.nn.modules.embedding import Embedding, EmbeddingBag
from soma.nn.modules.fold import Fold, Unfold
from soma.nn.modules.generative_loss import GANLoss, VAELoss
from soma.nn.modules.linear import Bilinear, Identity, Linear
from soma.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from soma.nn.modules.normalization import (
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
)
from soma.nn.modules.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from soma.nn.modules.pooling import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MinPool1d,
    MinPool2d,
    MinPool3d,
    SumPool1d,
    SumPool2d,
    SumPool3d,
)
from soma.nn.modules.positional import LearnedPositionalEncoding, PositionalEncoding
from soma.nn.modules.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)
from soma.nn.modules.reshape import Flatten, Unflatten
from soma.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from soma.nn.modules.upsampling import (
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from soma.nn.parallel import DataParallel  # PyTorch's one-device pass-through (issue 11)
from soma.nn.parameter import Buffer, Parameter
from soma.nn.registry import list_activations, list_losses, register_activation, register_loss

__all__ = [
    "GANLoss",
    "VAELoss",
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
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Bilinear",
    "Buffer",
    "CELU",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
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
    "Fold",
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
    "HuberLoss",
    "Identity",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "KLDivLoss",
    "L1Loss",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "LearnedPositionalEncoding",
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
    "MultiheadAttention",
    "NLLLoss",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "PixelShuffle",
    "PixelUnshuffle",
    "PositionalEncoding",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "ReLU6",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "SELU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
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
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Unflatten",
    "Unfold",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "functional",
    "init",
    "utils",
    "DataParallel",
    "parallel",
]

# issue 11 (optim helper): more layers and losses, lazy layers
from soma.nn.modules.activation import GLU, Softmax2d
from soma.nn.modules.distance import CosineSimilarity, PairwiseDistance
from soma.nn.modules.lazy import LazyConv1d, LazyConv2d, LazyConv3d, LazyLinear, LazyModuleMixin
from soma.nn.modules.loss import (
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from soma.nn.modules.normalization import RMSNorm
from soma.nn.modules.reshape import ChannelShuffle

__all__ += [
    "CTCLoss",
    "ChannelShuffle",
    "CosineSimilarity",
    "GLU",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyLinear",
    "LazyModuleMixin",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "PairwiseDistance",
    "PoissonNLLLoss",
    "RMSNorm",
    "SoftMarginLoss",
    "Softmax2d",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]


def __getattr__(name):
    # NOTE: a lazy import guarding a cycle: SyncBatchNorm lives in soma.distributed (above nn
    # in the tree), which imports nn.
    if name == "SyncBatchNorm":
        from soma.distributed.sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'soma.nn' has no attribute {name!r}")


__all__ += ["list_activations", "list_losses", "register_activation", "register_loss"]

# segmentation losses
from soma.nn.modules.loss_segmentation import DiceCELoss, DiceLoss, FocalLoss  # noqa: E402

__all__ += ["DiceCELoss", "DiceLoss", "FocalLoss"]

# PyTorch's randomised leaky ReLU and the older name of NLLLoss for images
from soma.nn.modules.activation import RReLU  # noqa: E402
from soma.nn.modules.loss import NLLLoss2d  # noqa: E402

__all__ += ["NLLLoss2d", "RReLU"]
