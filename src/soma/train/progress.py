"""Showing progress: a tqdm bar per epoch, or one plain line per epoch, or nothing.

``fit(verbose=True)`` uses tqdm when it is installed (``pip install soma[progress]``) and
falls back to plain lines otherwise; ``verbose="plain"`` asks for the plain lines and
``verbose=False`` is quiet (for scripts and CI).
"""

import sys

from soma.train.callbacks import Callback


def format_logs(logs: dict, skip=("epoch",)) -> str:
    """``loss 0.1234  accuracy 0.9712  lr 1.00e-03  time 2.1s``: scalars only, 4 digits."""
    parts = []
    for key, value in logs.items():
        if key in skip or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if key == "time":
            parts.append(f"time {value:.1f}s")
        elif key == "lr":
            parts.append(f"lr {value:.2e}")
        else:
            parts.append(f"{key} {value:.4g}")
    return "  ".join(parts)


def _short(logs: dict) -> dict:
    return {
        k: f"{v:.4f}"
        for k, v in logs.items()
        if isinstance(v, float) and k not in ("time", "lr", "batch_loss")
    }


class PlainProgress(Callback):
    """Print one line per epoch: ``epoch 3/12  loss 0.0812  accuracy 0.9751 … time 2.3s``."""

    def __init__(self, file=None):
        self.file = file

    def on_epoch_end(self, trainer, epoch, logs):
        width = len(str(trainer.epochs))
        print(
            f"epoch {epoch:>{width}}/{trainer.epochs}  {format_logs(logs)}",
            file=self.file or sys.stdout,
            flush=True,
        )


class ProgressBar(Callback):
    """A tqdm bar per epoch showing the running loss and metrics, left with the epoch's logs."""

    def __init__(self, file=None):
        try:
            from tqdm.auto import tqdm  # optional dependency (soma[progress])
        except ImportError:
            raise ImportError(
                "the progress bar needs tqdm: pip install soma[progress] (or use verbose='plain')"
            ) from None
        self._tqdm, self.file, self.bar = tqdm, file, None

    def on_epoch_begin(self, trainer, epoch):
        try:
            total = len(trainer.train_loader)
        except TypeError:
            total = None
        width = len(str(trainer.epochs))
        self.bar = self._tqdm(
            total=total,
            desc=f"epoch {epoch:>{width}}/{trainer.epochs}",
            unit="batch",
            leave=True,
            dynamic_ncols=True,
            file=self.file or sys.stderr,
        )

    def on_batch_end(self, trainer, batch, logs):
        self.bar.set_postfix(_short(logs), refresh=False)
        self.bar.update(1)

    def on_epoch_end(self, trainer, epoch, logs):
        self.bar.set_postfix_str(format_logs(logs, skip=("epoch", "time")), refresh=False)
        self.bar.close()
        self.bar = None

    def on_train_end(self, trainer):
        if self.bar is not None:  # an epoch cut short (NaN guard, Ctrl-C)
            self.bar.close()
            self.bar = None


def make_progress(verbose, file=None):
    """The progress callback for ``verbose`` (True, 'plain', 'tqdm', False), or None."""
    if not verbose:
        return None
    if verbose == "plain":
        return PlainProgress(file)
    try:
        return ProgressBar(file)
    except ImportError:
        if verbose == "tqdm":
            raise
        return PlainProgress(file)
