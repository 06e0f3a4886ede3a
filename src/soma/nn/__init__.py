"""Layers, containers, losses and initialisers: PyTorch's ``torch.nn``."""

from soma.nn import functional, init
from soma.nn.module import Module
from soma.nn.modules.activation import (
    CELU, ELU, GELU, SELU, Exponential, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
    LogSigmoid, LogSoftmax, Maxout, Mish, PReLU, ReLU, ReLU6, SiLU, Sigmoid, Softmax, Softmin,
    Softplus, Softshrink, Softsign, Step, Swish, Tanh, Tanhshrink, Threshold,
)
from soma.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from soma.nn.modules.linear import Bilinear, Identity, Linear
from soma.nn.modules.loss import MSELoss
from soma.nn.modules.reshape import Flatten, Unflatten
from soma.nn.parameter import Buffer, Parameter

__all__ = [
    "Bilinear",
    "Buffer",
    "CELU",
    "ELU",
    "Exponential",
    "Flatten",
    "GELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "Identity",
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
]
