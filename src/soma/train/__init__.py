"""Training: ``fit``/``evaluate``/``predict``, the ``Trainer``, callbacks, metrics, LR finder.

history = soma.train.fit(model, train_loader, loss="cross_entropy", optimizer="adam",
                         epochs=10, val_data=val_loader, metrics=["accuracy"])
"""

from soma.train import callbacks, metrics
from soma.train.callbacks import (
    Callback,
    EarlyStopping,
    GradientClipping,
    GradientMonitor,
    LRSchedulerCallback,
    ModelCheckpoint,
    TerminateOnNaN,
    WeightPenalty,
)
from soma.train.history import History
from soma.train.loggers import CSVLogger, JSONLogger
from soma.train.loop import Trainer, evaluate, fit, predict
from soma.train.lr_find import LRFinderResult, lr_find
from soma.train.progress import PlainProgress, ProgressBar

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "GradientClipping",
    "GradientMonitor",
    "History",
    "JSONLogger",
    "LRFinderResult",
    "LRSchedulerCallback",
    "ModelCheckpoint",
    "PlainProgress",
    "ProgressBar",
    "TerminateOnNaN",
    "Trainer",
    "WeightPenalty",
    "callbacks",
    "evaluate",
    "fit",
    "lr_find",
    "metrics",
    "predict",
]

# interruptions and failures (issue 14)
from soma.train.interrupts import TrainingInterrupted  # noqa: E402
from soma.train.loop import TrainingFailed  # noqa: E402

__all__ += ["TrainingFailed", "TrainingInterrupted"]
