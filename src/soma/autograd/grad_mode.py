"""Switching gradient recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, like PyTorch's.
"""

import functools
import threading


class _State(threading.local):
    """The mode of each thread (PyTorch's is per thread too), on from a thread's start.

    A class default rather than ``getattr(state, "enabled", True)``: every op reads it, and a
    missing thread-local attribute is a caught AttributeError each time (1.1 µs against
    0.1 µs a read on the Zen 1 VM, until the thread's first ``no_grad``).
    """

    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True when new operations are recorded for backpropagation."""
    return _state.enabled


class _GradMode:
    """Base for the context managers: sets the mode on enter and restores it on exit."""

    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _state.enabled = self.enabled

    def __exit__(self, *exc_info):
        _state.enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Do not record operations: for evaluation and in-place parameter updates.

    Example:
        >>> import soma
        >>> w = soma.ones(2, requires_grad=True)
        >>> with soma.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    enabled = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Set recording on or off; usable as a plain call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._previous = is_grad_enabled()
        _state.enabled = self.enabled

    def __enter__(self):
        pass

    def __call__(self, fn):
        _state.enabled = self._previous
        mode = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(no_grad):
    """Alias of ``no_grad`` (soma has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self.enabled = not mode


# Anomaly detection (``soma.autograd.anomaly``): a plain module flag, read once per recorded op.
anomaly_mode = False
