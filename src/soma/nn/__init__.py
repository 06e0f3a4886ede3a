"""Layers, containers, losses and initialisers: PyTorch's ``torch.nn``."""

from soma.nn import functional, init, utils
from soma.nn.module import Module
from soma.nn.modules.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from soma.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from soma.nn.modules.embedding import Embedding, EmbeddingBag
from soma.nn.modules.linear import Bilinear, Identity, Linear
from soma.nn.modules.loss import MSELoss
from soma.nn.modules.recurrent import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from soma.nn.modules.reshape import Flatten, Unflatten
from soma.nn.parameter import Buffer, Parameter

__all__ = [
    "Bilinear",
    "Buffer",
    "Embedding",
    "EmbeddingBag",
    "Flatten",
    "GRU",
    "GRUCell",
    "Identity",
    "LSTM",
    "LSTMCell",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
