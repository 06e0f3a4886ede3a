"""Learning-rate schedules (``torch.optim.lr_scheduler``).

    scheduler = soma.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        train(...)                  # optimizer.step() for every batch
        scheduler.step()

The sequences of rates match PyTorch's exactly (same recursive formulas, same order of
operations), and ``state_dict()``/``load_state_dict()`` resume a schedule mid-way.
"""

from soma.optim._scheduler import LRScheduler
from soma.optim._schedulers_combined import ChainedScheduler, SequentialLR
from soma.optim._schedulers_cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from soma.optim._schedulers_cyclic import CyclicLR, OneCycleLR
from soma.optim._schedulers_decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from soma.optim._schedulers_plateau import ReduceLROnPlateau

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
