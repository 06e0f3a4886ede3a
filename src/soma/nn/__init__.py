"""Layers, containers, losses and initialisers: PyTorch's ``torch.nn``."""

from soma.nn import functional, init, utils
from soma.nn.module import Module
from soma.nn.modules.activation import (
    CELU, ELU, GELU, SELU, Exponential, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
    LogSigmoid, LogSoftmax, Maxout, Mish, PReLU, ReLU, ReLU6, SiLU, Sigmoid, Softmax, Softmin,
    Softplus, Softshrink, Softsign, Step, Swish, Tanh, Tanhshrink, Threshold,
)
from soma.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from soma.nn.modules.linear import Bilinear, Identity, Linear
from soma.nn.modules.loss import (
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HuberLoss, KLDivLoss,
    L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
from soma.nn.modules.reshape import Flatten, Unflatten
from soma.nn.parameter import Buffer, Parameter

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "Bilinear",
    "Buffer",
    "CELU",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "ELU",
    "Exponential",
    "Flatten",
    "GELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "Maxout",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "ReLU6",
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
    "Swish",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
