"""Utilities around modules: ``mc_dropout_predict`` (and gradient clipping, from ``ops``)."""

from soma.nn.utils.mc_dropout import mc_dropout_predict
from soma.nn.utils.skip_init import skip_init

__all__ = ["mc_dropout_predict", "skip_init"]
