"""Optimizers (``torch.optim``) and, in ``soma.optim.lr_scheduler``, learning-rate schedules."""

from soma.optim import lr_scheduler

# issue 11: the rest of torch.optim
from soma.optim.adadelta import Adadelta
from soma.optim.adagrad import Adagrad
from soma.optim.adam import Adam, AdamW
from soma.optim.adamax import Adamax
from soma.optim.asgd import ASGD
from soma.optim.lbfgs import LBFGS
from soma.optim.nadam import NAdam, RAdam
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
from soma.optim.rprop import Rprop
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
__all__ += ["ASGD", "LBFGS", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop"]

from soma.optim import swa_utils  # noqa: E402

__all__ += ["swa_utils"]
