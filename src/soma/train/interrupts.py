"""Stopping a run cleanly on Ctrl-C (SIGINT) or ``kill`` (SIGTERM).

While ``Trainer.fit`` runs, both signals are *deferred*: the handler only records the signal,
and the loop checks for it between batches, where the model, optimizer, scheduler and random
generators are consistent. The trainer then writes its interrupt checkpoint (when it has a
path for one) and raises ``TrainingInterrupted``. A second Ctrl-C while the loop finishes its
batch raises ``KeyboardInterrupt`` at once (no checkpoint). SIGKILL cannot be caught: a run
killed that way resumes from its last checkpoint, which atomic writes keep intact.
"""

import signal
import threading

DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a batch boundary because of a signal.

    Attributes:
        signum: the signal received (``signal.SIGINT`` or ``signal.SIGTERM``).
        checkpoint: the path the interrupt checkpoint was written to, or None.
    """

    def __init__(self, signum: int, checkpoint=None):
        self.signum, self.checkpoint = signum, checkpoint
        name = signal.Signals(signum).name
        where = f"; checkpoint saved to {checkpoint}" if checkpoint else ""
        super().__init__(f"training interrupted by {name}{where}")

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by this signal: 128 + its number."""
        return 128 + int(self.signum)


class DeferredSignals:
    """Context manager: SIGINT/SIGTERM set ``received`` instead of stopping the process.

    Does nothing outside the main thread (Python delivers signals only there).
    """

    def __init__(self):
        self.received = None
        self._previous = {}

    def _handler(self, signum, frame):
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.received = self.received or signum

    def __enter__(self):
        self.received = None
        if threading.current_thread() is threading.main_thread():
            for signum in DEFERRED_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        return False
