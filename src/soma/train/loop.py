"""The training loop: ``fit``, ``evaluate`` and ``predict``, and the ``Trainer`` behind them.

One epoch, top to bottom (``Trainer._train_one_epoch``): for each batch, zero the gradients,
run the model, compute the loss (callbacks may add penalties or stop on NaN), backpropagate
(callbacks may clip gradients), step the optimizer, and accumulate the loss and metrics. After
the epoch, ``evaluate`` runs on the validation data without gradients, the epoch's logs go into
the ``History``, and the callbacks see them (schedulers step, checkpoints are written, early
stopping decides).

Interruptions: SIGINT and SIGTERM are deferred to the next batch boundary (see
``soma.train.interrupts``); the trainer then writes ``interrupt_checkpoint`` (a mid-epoch
checkpoint: the batch reached, the epoch's sample order, the running loss and metrics and every
random state, see ``soma.train.position``) and raises ``TrainingInterrupted``. Resuming from it
continues at the next batch, so the run ends with the weights of an uninterrupted one.
"""

import sys
import time

from soma.autograd.grad_mode import no_grad
from soma.backend import get_xp
from soma.functional import cat
from soma.io.checkpoint import load_checkpoint, save_checkpoint
from soma.train.callbacks import GradientClipping, LRSchedulerCallback, TerminateOnNaN
from soma.train.components import (
    as_loader,
    batch_size_of,
    forward,
    get_loss,
    get_optimizer,
    split_batch,
)
from soma.train.history import History
from soma.train.interrupts import DeferredSignals, TrainingInterrupted
from soma.train.metrics import Mean
from soma.train.position import EpochPosition, fresh_metrics, results
from soma.train.progress import make_progress
from soma.train.tasks import default_metrics as _task_metrics

_xp = get_xp()


class TrainingFailed(RuntimeError):
    """``fit`` stopped because training failed (a NaN/Inf loss); ``history`` holds the epochs
    finished before it and ``reason`` the message."""

    def __init__(self, reason: str, history):
        super().__init__(reason)
        self.reason, self.history = reason, history


def default_metrics(loss_fn, task=None) -> list:
    """Metrics for ``task`` or the loss's task (see ``soma.train.tasks``): accuracy for
    classification losses, pixel accuracy and mean IoU for segmentation, none otherwise."""
    return _task_metrics(loss_fn, task)


class Trainer:
    """A model with its loss, optimizer, metrics and callbacks; ``fit`` trains it.

    ``trainer.epoch`` counts finished epochs; ``trainer.history`` records them. Callbacks
    receive the trainer and may call ``trainer.stop(reason)``.

    Args:
        model: the ``soma.nn.Module`` to train.
        loss: a callable ``loss(output, target)`` or a name (``"cross_entropy"``, ``"mse"`` …).
        optimizer: an optimizer or a name (``"adam"``, ``"sgd"`` …, built with ``lr``).
        lr: learning rate for a named optimizer (or to override a given one's).
        metrics: names (``"accuracy"``, ``"f1"``, ``"top5_accuracy"`` …) or Metric objects;
            default: accuracy for cross-entropy and NLL losses, none for others.
        callbacks: ``soma.train.callbacks.Callback`` objects, run in order.
        scheduler: an LR scheduler, stepped per ``scheduler_interval`` ("epoch" or "batch").
        clip_grad_norm: clip the gradients' total 2-norm to this before each step.
        nan_guard: stop at the first non-finite loss (``TerminateOnNaN``).
        verbose: True (a tqdm bar on a terminal or in a notebook, else plain lines per epoch),
            "tqdm" (the bar always), "plain", or False (quiet).
        extra: JSON-able values stored in every checkpoint this trainer writes.
        interrupt_checkpoint: where to save a checkpoint when SIGINT/SIGTERM stops training
            (None: no file; ``fit`` raises ``TrainingInterrupted`` either way).
        task: ``"classification"``, ``"segmentation"`` or ``"regression"``: picks the default
            metrics (segmentation: pixel accuracy and mean IoU); default: the loss decides.
        distributed: run as one rank of an MPI job (``soma.train.distributed``): gradients
            averaged, data sharded, metrics summed over the ranks, files written by rank 0.
    """

    def __init__(
        self,
        model,
        loss="cross_entropy",
        optimizer="adam",
        *,
        lr=None,
        metrics=None,
        callbacks=(),
        scheduler=None,
        scheduler_interval="epoch",
        clip_grad_norm=None,
        nan_guard=True,
        verbose=True,
        extra=None,
        interrupt_checkpoint=None,
        task=None,
        distributed=False,
    ):
        self.model = model
        self.parallel = None  # a DataParallelRun when this trainer is one rank of an MPI job
        if distributed:
            # lazy: soma.distributed stays out of `import soma` (soma._LAZY_SUBMODULES); it is
            # loaded only for a distributed run (mpi4py, the `dist` extra, later still)
            from soma.train.distributed import DataParallelRun

            self.parallel = DataParallelRun()
            self._ddp = self.parallel.wrap(model)
            verbose = verbose if self.parallel.is_main else False
        self.interrupt_checkpoint = interrupt_checkpoint
        self.loss_fn = get_loss(loss)
        self.optimizer = get_optimizer(optimizer, model, lr)
        self.scheduler = scheduler
        self.metrics = default_metrics(self.loss_fn, task) if metrics is None else list(metrics)
        self.verbose = verbose
        self.extra = dict(extra or {})
        own = []
        if scheduler is not None:
            own.append(LRSchedulerCallback(scheduler, scheduler_interval))
        if clip_grad_norm is not None:
            own.append(GradientClipping(max_norm=clip_grad_norm))
        guard = [TerminateOnNaN()] if nan_guard else []
        progress = make_progress(verbose)
        self.callbacks = own + list(callbacks) + guard + ([progress] if progress else [])
        if self.parallel is not None:
            self.callbacks = self.parallel.callbacks(self.callbacks)
        self.history = History()
        self.epoch, self.epochs, self.batch = 0, 0, 0
        self.train_loader = None
        self.stop_training, self.stop_reason, self.failed = False, None, False
        self.position = None  # an EpochPosition while inside an epoch
        self.inputs = None  # the current batch's inputs (for callbacks that diagnose)
        self._resume_position = None  # restored from a mid-epoch checkpoint
        self._signals = DeferredSignals()

    # ------------------------------------------------------------------ the loop
    def fit(
        self,
        train_data,
        epochs: int = 1,
        *,
        val_data=None,
        batch_size: int = 32,
        shuffle: bool = True,
        resume=None,
    ) -> History:
        """Train until ``epochs`` epochs are finished (counting those of a resumed run).

        Returns the ``History``; ``history.stop_reason`` and ``history.failed`` say whether (and
        why) training stopped early. Raises ``TrainingInterrupted`` on SIGINT/SIGTERM, after the
        current batch (and after writing ``interrupt_checkpoint`` when one is set).
        """
        self.train_loader = as_loader(train_data, batch_size, shuffle)
        if self.parallel is not None:
            self.train_loader = self.parallel.shard(self.train_loader)
        val_loader = None if val_data is None else as_loader(val_data, batch_size)
        self.epochs = epochs
        self.stop_training, self.stop_reason, self.failed = False, None, False
        if resume is not None:
            self.load_checkpoint(resume)
        with self._signals:
            self._call("on_train_begin")
            try:
                while self.epoch < epochs and not self.stop_training:
                    self._run_epoch(val_loader)
                    self._check_signals()
            finally:
                self._call("on_train_end")
        self.history.stop_reason, self.history.failed = self.stop_reason, self.failed
        if self.stop_reason and self.verbose:
            print(self.stop_reason, file=sys.stderr)
        return self.history

    def _check_signals(self) -> None:
        """At a batch or epoch boundary: act on a deferred SIGINT/SIGTERM."""
        signum = self._signals.received
        if self.parallel is not None:  # every rank stops at the same batch
            signum = self.parallel.agree_on_signal(signum)
        if signum is None:
            return
        path = self.interrupt_checkpoint
        if path is not None and (self.parallel is None or self.parallel.is_main):
            self.save_checkpoint(path)
        raise TrainingInterrupted(signum, path)

    def _run_epoch(self, val_loader) -> None:
        epoch = self.epoch + 1
        position = self._resume_position or EpochPosition.start(
            self.optimizer.param_groups[0]["lr"], self.metrics
        )
        self._resume_position, self.position = None, position
        if self.parallel is not None:
            self.parallel.start_epoch(self.train_loader, epoch)
        start = time.perf_counter() - position.elapsed
        self._call("on_epoch_begin", epoch)
        own_logs = self._train_one_epoch(position)  # a subclass with its own loop returns logs
        if self.stop_training:  # cut short inside the epoch: it does not count
            return
        self.position = None
        if self.parallel is not None and own_logs is None:  # the whole epoch's metrics
            self.parallel.reduce_counters(position.loss_mean, position.metrics)
        logs = own_logs if own_logs is not None else position.results()
        if val_loader is not None:
            with _xp.errstate(all="ignore"):
                val = evaluate(self.model, val_loader, self.loss_fn, self.metrics)
            logs.update(("val_" + key, value) for key, value in val.items())
        logs["lr"] = position.lr
        logs["time"] = time.perf_counter() - start
        self.epoch = epoch
        record = self.history.append(logs)
        self._call("on_epoch_end", epoch, record)

    def _train_one_epoch(self, position) -> None:
        self.model.train()
        # no raw NumPy overflow warnings: the NaN guard (TerminateOnNaN) names the layer instead
        with _xp.errstate(all="ignore"):
            self._train_batches(position)

    def _train_batches(self, position) -> None:
        start = time.perf_counter() - position.elapsed
        for self.batch, batch in position.batches(self.train_loader):  # noqa: B020
            x, y = split_batch(batch)
            self.inputs = x
            self._call("on_batch_begin", self.batch)
            self.optimizer.zero_grad()
            output, loss = self.compute_loss(x, y)
            loss = self._call("on_loss", loss)
            if self.stop_training:
                break
            loss.backward()
            self._call("on_after_backward")
            self.optimizer.step()
            value = loss.item()
            position.update(value, batch_size_of(x, y), output, y)
            logs = {"batch_loss": value, **position.results()}
            self._call("on_batch_end", self.batch, logs)
            position.finished(self.batch, time.perf_counter() - start)
            self._check_signals()

    def compute_loss(self, x, y):
        """``(output, loss)`` of one training batch; ``output`` feeds the metrics (None: no
        metrics). The place for trainers whose loss is not ``loss_fn(model(x), y)``, such as
        ``DiffusionTrainer`` (the model's own loss)."""
        output = forward(self.model if self.parallel is None else self._ddp, x)
        return output, self.loss_fn(output, y)

    def _call(self, hook: str, *args):
        """Run ``hook`` on every callback; ``on_loss`` threads the loss through them."""
        if hook == "on_loss":
            loss = args[0]
            for cb in self.callbacks:
                loss = cb.on_loss(self, loss)
            return loss
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)
        return None

    def stop(self, reason: str, failed: bool = False) -> None:
        """Ask the loop to stop (after this batch's loss, or after this epoch's callbacks)."""
        self.stop_training, self.stop_reason = True, reason
        self.failed = self.failed or failed

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path, extra: dict | None = None) -> None:
        """Write everything needed to continue this run exactly (see ``soma.io``).

        In a distributed run only rank 0 writes (every rank holds the same state)."""
        if self.parallel is not None and not self.parallel.is_main:
            return
        states = [{"type": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks]
        position = self.position.state_dict() if self.position is not None else None
        save_checkpoint(
            path,
            self.model,
            self.optimizer,
            self.scheduler,
            epoch=self.epoch,
            history=self.history,
            loaders=[self.train_loader],
            extra={**self.extra, **(extra or {}), "callbacks": states},
            position=position,
        )

    def load_checkpoint(self, path) -> dict:
        """Restore a checkpoint written by ``save_checkpoint``; training continues after it."""
        ckpt = load_checkpoint(
            path, self.model, self.optimizer, self.scheduler, loaders=[self.train_loader]
        )
        self.epoch = ckpt["epoch"]
        self.history = History.from_dict(ckpt["history"] or {})
        saved_position = ckpt.get("position")
        self._resume_position = (
            None
            if saved_position is None
            else EpochPosition.from_state_dict(saved_position, self.metrics)
        )
        saved = list(ckpt["extra"].get("callbacks", []))
        for cb in self.callbacks:  # match callbacks to saved states by type, in order
            match = next((s for s in saved if s["type"] == type(cb).__name__), None)
            if match is not None:
                saved.remove(match)
                cb.load_state_dict(match["state"])
        return ckpt


def fit(
    model,
    train_data,
    loss="cross_entropy",
    optimizer="adam",
    epochs: int = 1,
    *,
    val_data=None,
    metrics=None,
    callbacks=(),
    scheduler=None,
    scheduler_interval="epoch",
    clip_grad_norm=None,
    lr=None,
    batch_size: int = 32,
    shuffle: bool = True,
    nan_guard: bool = True,
    resume=None,
    verbose=True,
    task=None,
    distributed: bool = False,
) -> History:
    """Train ``model`` on ``train_data`` for ``epochs`` epochs and return the ``History``.

    ``train_data`` (and ``val_data``) may be a DataLoader, a Dataset (batched with
    ``batch_size``) or a pair ``(inputs, targets)``. ``resume`` is a checkpoint written by
    ``ModelCheckpoint`` or ``Trainer.save_checkpoint``: training continues after its last
    finished epoch with the same weights, optimizer, scheduler and random state, so 2 epochs
    plus 2 resumed equal 4 straight. ``distributed=True`` makes this process one rank of a
    data-parallel MPI job (see ``soma.train.distributed``; ``batch_size`` is per rank). See
    ``Trainer`` for the other arguments.

    Raises:
        TrainingFailed: training stopped on a NaN/Inf loss (``error.history`` holds the epochs
            finished before). ``Trainer.fit`` returns the history instead, with
            ``history.failed`` and ``history.stop_reason`` set.
        TrainingInterrupted: SIGINT or SIGTERM arrived (after the current batch).

    Example:
        >>> import soma
        >>> x = soma.randn(64, 3); y = x.sum(1, keepdim=True)
        >>> model = soma.nn.Linear(3, 1)
        >>> h = fit(model, (x, y), loss="mse", optimizer="sgd", lr=0.1, epochs=20,
        ...         metrics=[], verbose=False)
        >>> h["loss"][-1] < 0.01
        True
    """
    trainer = Trainer(
        model,
        loss,
        optimizer,
        lr=lr,
        metrics=metrics,
        callbacks=callbacks,
        scheduler=scheduler,
        scheduler_interval=scheduler_interval,
        clip_grad_norm=clip_grad_norm,
        nan_guard=nan_guard,
        verbose=verbose,
        task=task,
        distributed=distributed,
    )
    history = trainer.fit(
        train_data,
        epochs,
        val_data=val_data,
        batch_size=batch_size,
        shuffle=shuffle,
        resume=resume,
    )
    if history.failed:
        raise TrainingFailed(history.stop_reason, history)
    return history


def evaluate(model, data, loss=None, metrics=None, batch_size: int = 256, task=None) -> dict:
    """Mean loss (when ``loss`` is given) and metrics of ``model`` over ``data``.

    The model runs in eval mode without gradients; its previous mode is restored after.
    ``metrics=None`` means accuracy for classification losses (or no loss), none otherwise.

    Example:
        >>> import soma
        >>> model = soma.nn.Linear(2, 2)
        >>> with soma.no_grad():
        ...     _ = model.weight.copy_(soma.eye(2)), model.bias.zero_()
        >>> x, y = soma.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]]), soma.tensor([0, 1, 0])
        >>> evaluate(model, (x, y))
        {'accuracy': 0.6666666666666666}
    """
    loader = as_loader(data, batch_size)
    loss_fn = get_loss(loss) if loss is not None else None
    if metrics is None:
        metrics = default_metrics(loss_fn, task) if loss_fn or task else ["accuracy"]
    loss_mean, metrics = (Mean() if loss_fn else None), fresh_metrics(metrics)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = split_batch(batch)
                output = forward(model, x)
                if loss_fn is not None:
                    loss_mean.update(loss_fn(output, y).item(), batch_size_of(x, y))
                for m in metrics:
                    m.update(output, y)
    finally:
        model.train(was_training)
    return results(loss_mean, metrics)


def predict(model, data, batch_size: int = 256):
    """The model's outputs over ``data`` (inputs, or (input, target) pairs), concatenated.

    Example:
        >>> import soma
        >>> predict(soma.nn.Identity(), soma.arange(5.0).reshape(5, 1), batch_size=2).flatten()
        tensor([0., 1., 2., 3., 4.])
    """
    loader = as_loader(data, batch_size)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for batch in loader:
                x, _ = split_batch(batch)
                outputs.append(forward(model, x))
    finally:
        model.train(was_training)
    return cat(outputs)
