"""Optimizers (``torch.optim``) and, in ``soma.optim.lr_scheduler``, learning-rate schedules."""

from soma.optim import lr_scheduler
from soma.optim.adagrad import Adagrad
from soma.optim.adam import Adam, AdamW
from soma.optim.optimizer import Optimizer
from soma.optim.registry import (
    OPTIMIZERS,
    SCHEDULERS,
    list_optimizers,
    list_schedulers,
    register_optimizer,
    register_scheduler,
)
from soma.optim.rmsprop import RMSprop
from soma.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
__all__ += [
    "OPTIMIZERS",
    "SCHEDULERS",
    "list_optimizers",
    "list_schedulers",
    "register_optimizer",
    "register_scheduler",
]
