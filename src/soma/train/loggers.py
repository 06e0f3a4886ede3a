"""Callbacks that record a run: the history as CSV or JSON, rewritten after every epoch.

Each file is rewritten atomically from ``trainer.history`` at the end of every epoch, so it is
always complete and readable (also after a resumed run, which carries the earlier epochs).
"""

import csv
import io
import os

from soma.io.serialization import write_atomic
from soma.train.callbacks import Callback


class CSVLogger(Callback):
    """Write one row per epoch (``epoch, loss, accuracy, val_loss, …, lr, time``) to ``path``."""

    def __init__(self, path, separator: str = ","):
        self.path, self.separator = os.fspath(path), separator

    def on_epoch_end(self, trainer, epoch, logs):
        history = trainer.history
        columns = [k for k in history.keys() if _scalar_column(history, k)]
        text = io.StringIO()
        writer = csv.DictWriter(
            text, columns, delimiter=self.separator, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(history.epochs)
        write_atomic(self.path, text.getvalue().encode())


def _scalar_column(history, key) -> bool:
    return all(v is None or isinstance(v, (int, float, str)) for v in history[key])


class JSONLogger(Callback):
    """Write the whole history (``History.to_json``) to ``path`` after every epoch."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, epoch, logs):
        trainer.history.to_json(self.path)
