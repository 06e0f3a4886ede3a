"""Helpers around layers: packed sequences for recurrent networks (``soma.nn.utils.rnn``)."""

from soma.nn.utils import rnn

__all__ = ["rnn"]
