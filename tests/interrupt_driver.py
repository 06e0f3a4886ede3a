"""Runs `soma train ARGS…` and sends itself a signal at a chosen point (for test_train_kill).

    python interrupt_driver.py SIGNAL POINT EPOCH BATCH -- soma train arguments…

SIGNAL is INT, TERM or KILL (or NONE); POINT is ``between`` (after batch BATCH of epoch EPOCH),
``inside`` (inside that batch: after backward, before the optimizer step) or ``checkpoint``
(while writing the BATCH-th checkpoint file of the run, EPOCH unused: half the bytes are in the
temporary file when the signal comes).
"""

import os
import signal
import sys
import tempfile

from soma import cli, cli_train  # noqa: I001
from soma.io import serialization
from soma.train import Trainer
from soma.train.callbacks import Callback


def _send(name):
    os.kill(os.getpid(), getattr(signal, "SIG" + name))


class _SignalAt(Callback):
    def __init__(self, name, point, epoch, batch):
        self.name, self.point, self.epoch, self.batch = name, point, epoch, batch
        self.current = 0

    def on_epoch_begin(self, trainer, epoch):
        self.current = epoch

    def _here(self, trainer):
        return (self.current, trainer.batch) == (self.epoch, self.batch)

    def on_after_backward(self, trainer):
        if self.point == "inside" and self._here(trainer):
            _send(self.name)

    def on_batch_end(self, trainer, batch, logs):
        if self.point == "between" and self._here(trainer):
            _send(self.name)


def _signal_during_checkpoint(name, nth):
    original, count = serialization.write_atomic, [0]

    def write_atomic(path, blob):
        if path.endswith(".safetensors"):
            count[0] += 1
            if count[0] == nth:  # half written when the signal comes
                folder = os.path.dirname(os.path.abspath(path))
                prefix = f".{os.path.basename(path)}."
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
                os.write(fd, blob[: len(blob) // 2])
                _send(name)  # KILL ends here; INT and TERM are deferred by the trainer
                os.close(fd)
                os.remove(tmp)
        return original(path, blob)

    serialization.write_atomic = write_atomic


def run(argv):
    name, point, epoch, batch = argv[0], argv[1], int(argv[2]), int(argv[3])
    cli_args = argv[argv.index("--") + 1 :]
    if name != "NONE" and point == "checkpoint":
        _signal_during_checkpoint(name, batch)
    elif name != "NONE":
        init = Trainer.__init__

        def patched(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.callbacks.append(_SignalAt(name, point, epoch, batch))

        Trainer.__init__ = patched
    cli_train._plots = lambda *args: []  # no matplotlib: the matrix is about checkpoints
    return cli.main(cli_args)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
