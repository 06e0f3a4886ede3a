"""Optimizers (``torch.optim``): SGD, Adam, AdamW, and the learning-rate schedulers."""

from soma.optim.adam import Adam, AdamW
from soma.optim.optimizer import Optimizer
from soma.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
