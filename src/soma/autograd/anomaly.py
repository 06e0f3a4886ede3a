"""Anomaly detection: ``set_detect_anomaly(True)`` / ``with detect_anomaly():``.

While it is on, every recorded op remembers where it was created (the user's source line and
the module path, e.g. ``features.3 (Conv2d)``), and the first NaN or Inf that an op produces,
in forward or in backward, raises a ``RuntimeError`` naming the op, the module and that line:
the lecture's "NaN at a named op". It costs a stack walk per op: a debugging mode, as in
PyTorch.
"""

import functools
import os
import threading
import traceback

from soma.autograd import grad_mode
from soma.backend import get_xp

_xp = get_xp()
_state = threading.local()
_SOMA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_anomaly_enabled() -> bool:
    return grad_mode.anomaly_mode


def is_anomaly_check_nan_enabled() -> bool:
    return grad_mode.anomaly_mode and getattr(_state, "check_nan", True)


class set_detect_anomaly:
    """Turn anomaly detection on or off; a plain call or a context manager (as PyTorch)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._previous = (grad_mode.anomaly_mode, getattr(_state, "check_nan", True))
        grad_mode.anomaly_mode = bool(mode)
        _state.check_nan = bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        grad_mode.anomaly_mode, _state.check_nan = self._previous
        return False


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on inside it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._mode = set_detect_anomaly(True, self.check_nan)
        return self

    def __exit__(self, *exc_info):
        return self._mode.__exit__(*exc_info)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


# ---------------------------------------------------------------------------- module paths
def push_module(module):
    stack = getattr(_state, "modules", None)
    if stack is None:
        stack = _state.modules = []
    stack.append(module)


def pop_module():
    _state.modules.pop()


def _module_path():
    stack = getattr(_state, "modules", None)
    if not stack:
        return None
    root, layer = stack[0], stack[-1]
    if layer is root:
        return f"{type(root).__name__} (the model itself)"
    for name, m in root.named_modules():
        if m is layer:
            return f"{name} ({type(layer).__name__})"
    return type(layer).__name__


def _user_line():
    """The innermost frame outside soma: where the user's code created the op."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if not os.path.abspath(frame.filename).startswith(_SOMA_DIR):
            return (
                f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
            )
    return "(inside soma)"


def _bad(array):
    if not hasattr(array, "dtype") or array.dtype.kind not in "fc":
        return None
    if _xp.isnan(array).any():
        return "nan"
    if _xp.isinf(array).any():
        return "inf"
    return None


def _where(ctx):
    info = ctx._anomaly or {}
    module = info.get("module")
    return (f" in module {module}" if module else "") + (
        f", created at\n  {info['line']}" if info.get("line") else ""
    )


def on_forward(ctx, outs):
    ctx._anomaly = {"module": _module_path(), "line": _user_line()}
    if not getattr(_state, "check_nan", True):
        return
    for i, o in enumerate(outs):
        kind = _bad(o.array)
        if kind is not None:
            raise RuntimeError(
                f"Anomaly detected: the forward of {ctx.name()[: -len('Backward0')] or ctx.name()} "
                f"produced {kind} values in its output {i}{_where(ctx)}"
            )


def on_backward(ctx, grads):
    if not getattr(_state, "check_nan", True):
        return
    for i, g in enumerate(grads):
        kind = None if g is None else _bad(_xp.asarray(g))
        if kind is not None:
            raise RuntimeError(
                f"Function '{ctx.name()}' returned {kind} values in its {i}th output{_where(ctx)}"
            )
