"""Utilities around modules: ``mc_dropout_predict``, packed sequences (``rnn``), and gradient
clipping (from ``ops``)."""

from soma.nn.utils import rnn
from soma.nn.utils.mc_dropout import mc_dropout_predict

__all__ = ["mc_dropout_predict", "rnn"]
