"""Callbacks: code that runs at fixed points of the training loop.

A callback overrides any of these hooks; each receives the ``Trainer`` (``trainer.model``,
``trainer.optimizer``, ``trainer.history``, ``trainer.stop_training`` …). Epochs and batches
are counted from 1.

    on_train_begin(trainer)                 on_train_end(trainer)
    on_epoch_begin(trainer, epoch)          on_epoch_end(trainer, epoch, logs)
    on_batch_begin(trainer, batch)          on_batch_end(trainer, batch, logs)
    on_loss(trainer, loss) -> loss          (before backward: add penalties, check the value)
    on_after_backward(trainer)              (gradients ready, before the optimizer step)

``logs`` at the end of an epoch holds the epoch's training loss and metrics, the ``val_``
versions, ``lr`` and ``time``; at the end of a batch, the running loss and metrics so far.
Callbacks run in the order given; ``fit``'s own (scheduler, clipping, progress) run first.

This module has the callbacks that steer training (stopping, checkpoints, learning rates,
gradients, penalties); ``soma.train.loggers`` has the ones that only record.
"""

import inspect
import math
import os
import sys

from soma.autograd.grad_mode import no_grad
from soma.nn import utils as nn_utils
from soma.nn.utils import l1_penalty, l2_penalty

_HIGHER_IS_BETTER = ("acc", "f1", "precision", "recall", "auc")


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer):
        pass

    def on_train_end(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch: int):
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict):
        pass

    def on_batch_begin(self, trainer, batch: int):
        pass

    def on_batch_end(self, trainer, batch: int, logs: dict):
        pass

    def on_loss(self, trainer, loss):
        return loss

    def on_after_backward(self, trainer):
        pass

    def state_dict(self) -> dict:
        """What a checkpoint must keep for this callback to continue after resume."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _Monitor:
    """Reads a monitored value from epoch logs and says whether it improved."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode == "auto":
            mode = "max" if any(word in monitor for word in _HIGHER_IS_BETTER) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def value(self, logs: dict, owner: str) -> float:
        if self.monitor in logs:
            return float(logs[self.monitor])
        fallback = self.monitor.removeprefix("val_")
        if fallback in logs:  # no validation data: watch the training value instead
            print(
                f"{owner}: '{self.monitor}' is not logged (no validation data?); "
                f"monitoring '{fallback}' instead",
                file=sys.stderr,
            )
            self.monitor = fallback
            return float(logs[fallback])
        raise KeyError(f"{owner}: '{self.monitor}' is not in the logs; available: {sorted(logs)}")

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
    ):
        self._watch = _Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.wait, self.best_epoch, self.stopped_epoch, self.best_weights = 0, 0, 0, None

    def on_epoch_end(self, trainer, epoch, logs):
        value = self._watch.value(logs, "EarlyStopping")
        if self._watch.improved(value):
            self._watch.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                state = trainer.model.state_dict()
                self.best_weights = {k: v.array.copy() for k, v in state.items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop(
                f"early stopping at epoch {epoch}: {self._watch.monitor} has not "
                f"improved for {self.wait} epochs (best {self._watch.best:.4g} at "
                f"epoch {self.best_epoch})"
            )

    def on_train_end(self, trainer):
        if self.best_weights is not None and self.best_epoch != trainer.epoch:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {
            "best": self._watch.best,
            "monitor": self._watch.monitor,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
        }

    def load_state_dict(self, state):
        self._watch.best, self._watch.monitor = state["best"], state["monitor"]
        self.wait, self.best_epoch = state["wait"], state["best_epoch"]


class ModelCheckpoint(Callback):
    """Save full training checkpoints into ``directory``: ``last`` every epoch, ``best`` on
    improvement of ``monitor``. Either file resumes training with ``fit(..., resume=path)``.
    """

    def __init__(
        self,
        directory,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
    ):
        self.directory = os.fspath(directory)
        self._watch = _Monitor(monitor, mode)
        self.save_best, self.save_last = save_best, save_last
        self.best_path = os.path.join(self.directory, "best.safetensors")
        self.last_path = os.path.join(self.directory, "last.safetensors")
        self.best_epoch = 0

    @property
    def best_score(self) -> float:
        return self._watch.best

    def on_train_begin(self, trainer):
        os.makedirs(self.directory, exist_ok=True)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best:
            value = self._watch.value(logs, "ModelCheckpoint")
            if self._watch.improved(value):
                self._watch.best, self.best_epoch = value, epoch
                trainer.save_checkpoint(self.best_path)
        if self.save_last:
            trainer.save_checkpoint(self.last_path)

    def state_dict(self):
        return {
            "best": self._watch.best,
            "monitor": self._watch.monitor,
            "best_epoch": self.best_epoch,
        }

    def load_state_dict(self, state):
        self._watch.best, self._watch.monitor = state["best"], state["monitor"]
        self.best_epoch = state["best_epoch"]


def _wants_metric(scheduler) -> bool:
    """True for schedulers whose ``step`` takes the monitored value (ReduceLROnPlateau)."""
    return "metrics" in inspect.signature(scheduler.step).parameters


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler after every epoch (``interval='epoch'``) or batch.

    A scheduler whose ``step`` takes ``metrics`` (ReduceLROnPlateau) gets ``monitor``'s value
    at the end of each epoch.
    """

    def __init__(self, scheduler, interval: str = "epoch", monitor: str = "val_loss"):
        if interval not in ("epoch", "batch"):
            raise ValueError(
                f"LRSchedulerCallback: interval must be 'epoch' or 'batch', got {interval!r}"
            )
        self.scheduler, self.interval = scheduler, interval
        self.plateau = _wants_metric(scheduler)
        if self.plateau and interval == "batch":
            raise ValueError(
                f"{type(scheduler).__name__} needs a monitored value: use interval='epoch'"
            )
        self._watch = _Monitor(monitor, "min")

    def on_batch_end(self, trainer, batch, logs):
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.plateau:
            self.scheduler.step(self._watch.value(logs, "LRSchedulerCallback"))
        elif self.interval == "epoch":
            self.scheduler.step()


class GradientClipping(Callback):
    """Clip gradients before each optimizer step: by total norm (``max_norm``) or by value.

    Uses ``soma.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` (PyTorch's signatures).
    """

    def __init__(
        self,
        max_norm: float | None = None,
        clip_value: float | None = None,
        norm_type: float = 2.0,
    ):
        if (max_norm is None) == (clip_value is None):
            raise ValueError("GradientClipping: give exactly one of max_norm and clip_value")
        self.max_norm, self.clip_value, self.norm_type = max_norm, clip_value, norm_type
        self.last_norm = None

    def on_after_backward(self, trainer):
        params = [p for p in trainer.model.parameters() if p.grad is not None]
        if self.max_norm is not None:
            self.last_norm = float(nn_utils.clip_grad_norm_(params, self.max_norm, self.norm_type))
        else:
            nn_utils.clip_grad_value_(params, self.clip_value)


class WeightPenalty(Callback):
    """Add λ₁Σ|w| (L1) and/or λ₂Σw² (L2) to the training loss (``soma.nn.utils`` penalties).

    Every parameter except biases is penalised, as ``soma.nn.utils.l1_penalty`` does for a
    module; ``include_bias=True`` penalises the biases too. Validation losses stay unpenalised.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, include_bias: bool = False):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"WeightPenalty: l1 and l2 must be >= 0, got {l1} and {l2}")
        self.l1, self.l2, self.include_bias = l1, l2, include_bias

    def penalty(self, model):
        params = list(model.parameters()) if self.include_bias else model
        total = 0.0
        if self.l1:
            total = total + l1_penalty(params, self.l1)
        if self.l2:
            total = total + l2_penalty(params, self.l2)
        return total

    def on_loss(self, trainer, loss):
        return loss + self.penalty(trainer.model)


class TerminateOnNaN(Callback):
    """Stop training at the first NaN or infinite loss, before it reaches the weights.

    The message names the epoch, the batch and the value; ``fit`` returns the history so far
    and ``trainer.stop_reason`` keeps the message.
    """

    def on_loss(self, trainer, loss):
        value = float(loss.item())
        if not math.isfinite(value):
            trainer.stop(
                f"non-finite loss ({value}) at epoch {trainer.epoch + 1}, batch {trainer.batch}: "
                "training stopped before the update (try a lower learning rate, gradient "
                "clipping, or check the inputs for NaN)",
                failed=True,
            )
        return loss


class GradientMonitor(Callback):
    """Name the layers whose gradients vanish or explode, epoch by epoch.

    Every ``every`` batches, right after backward, it takes a
    ``soma.inspection.gradient_report`` of the model (its arguments set the thresholds). At
    the end of an epoch it names the layers found vanishing in every report of the epoch (a
    persistent condition, not one quiet batch) and those found exploding in any report (once
    is enough to wreck the weights). ``self.reports`` keeps one ``(epoch, vanishing,
    exploding)`` tuple per epoch; ``self.last_report`` is the latest full report.
    """

    def __init__(
        self,
        vanish_ratio: float = 1e-4,
        vanish_below: float = 1e-10,
        explode_above: float = 1e3,
        every: int = 10,
        verbose: bool = True,
    ):
        self.thresholds = dict(
            vanish_ratio=vanish_ratio, vanish_below=vanish_below, explode_above=explode_above
        )
        self.every, self.verbose = every, verbose
        self.reports, self.last_report = [], None
        self._vanishing, self._exploding = None, set()

    def on_epoch_begin(self, trainer, epoch):
        self._vanishing, self._exploding = None, set()

    @no_grad()
    def on_after_backward(self, trainer):
        if (trainer.batch - 1) % self.every:
            return
        # NOTE: lazy, and an upward import (inspection sits above train and re-exports train's
        # plots): importing it here keeps the two packages from needing each other at load time.
        from soma.inspection.gradients import gradient_report

        report = self.last_report = gradient_report(trainer.model, **self.thresholds)
        vanishing = set(report.vanishing)
        self._vanishing = vanishing if self._vanishing is None else self._vanishing & vanishing
        self._exploding |= set(report.exploding)

    def on_epoch_end(self, trainer, epoch, logs):
        vanishing, exploding = sorted(self._vanishing or ()), sorted(self._exploding)
        self.reports.append((epoch, vanishing, exploding))
        if self.verbose and (vanishing or exploding):
            parts = []
            if vanishing:
                parts.append("vanishing gradients in " + ", ".join(vanishing))
            if exploding:
                parts.append("exploding gradients in " + ", ".join(exploding))
            print(f"GradientMonitor, epoch {epoch}: " + "; ".join(parts), file=sys.stderr)
