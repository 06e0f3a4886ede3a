"""A second array backend for the tests: NumPy behind a recorder that proves soma's seam.

``RecordingModule`` offers NumPy's whole API and counts every function it hands out; the arrays
it returns are ``RecordingArray``, an ``ndarray`` subclass that refuses to be handed to a NumPy
*function* reached any other way. A kernel that bound NumPy at import time, or kept a NumPy
handle of its own, therefore fails loudly under this backend instead of silently running on the
wrong library (as it would with CuPy arrays). Operators and methods (``a + b``, ``a.sum()``,
``a[idx]``) are part of the array API every backend shares, so they stay allowed.

The recorder cannot see a NumPy ufunc called by name (``numpy.exp(a)``) through a private
handle: ufuncs dispatch like operators. The import check in ``test_backend_seam.py`` closes that
gap (no module outside ``soma.backend`` imports NumPy).
"""

import threading
import types
from collections import Counter

import numpy

_state = threading.local()


class DirectNumpyCall(RuntimeError):
    """A NumPy function was called on a backend array without going through the backend."""


class HostArrayMixed(RuntimeError):
    """Arithmetic mixed a backend array with a plain NumPy array made outside the backend."""


def _inside_backend() -> bool:
    return getattr(_state, "depth", 0) > 0


class RecordingArray(numpy.ndarray):
    """An ndarray that only the recording module's functions may pass to NumPy functions."""

    def __array_function__(self, func, types, args, kwargs):
        if not _inside_backend():
            raise DirectNumpyCall(
                f"numpy.{func.__name__} was called on a backend array without the backend's "
                "module: some code reaches NumPy directly"
            )
        return super().__array_function__(func, types, args, kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out") or ()
        if not _inside_backend():
            for operand in inputs + tuple(out):
                if type(operand) is numpy.ndarray and operand.ndim > 0:
                    raise HostArrayMixed(
                        f"numpy.{ufunc.__name__} mixes a backend array with a host ndarray of "
                        f"shape {operand.shape}: some array was made without the backend's module"
                    )
        plain = [_host_view(operand) for operand in inputs]
        if out:
            kwargs["out"] = tuple(_host_view(o) for o in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        if out:
            return out[0] if len(out) == 1 else tuple(out)
        return _to_backend(result)


def _host_view(value):
    return value.view(numpy.ndarray) if isinstance(value, RecordingArray) else value


def _to_backend(value):
    """Backend arrays out: ndarrays become RecordingArray views (sharing memory)."""
    if type(value) is numpy.ndarray:
        return value.view(RecordingArray)
    if isinstance(value, numpy.generic):  # CuPy returns 0-d arrays where NumPy gives scalars
        return numpy.asarray(value).view(RecordingArray)
    if isinstance(value, tuple):  # plain, or a named result such as svd's (U, S, Vh)
        items = [_to_backend(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_to_backend(v) for v in value]
    return value


def _recorded(function, name, calls):
    def call(*args, **kwargs):
        calls[name] += 1
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            return _to_backend(function(*args, **kwargs))
        finally:
            _state.depth -= 1

    call.__name__ = getattr(function, "__name__", name)
    call.__doc__ = getattr(function, "__doc__", None)
    return call


class _RecordingUfunc:
    """A ufunc with its methods (``at``, ``reduce``, ``accumulate``, ``outer``...) recorded."""

    def __init__(self, ufunc, name, calls):
        self._ufunc, self._name, self._calls = ufunc, name, calls
        self._call = _recorded(ufunc, name, calls)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, attribute):
        value = getattr(self._ufunc, attribute)
        if callable(value):
            value = _recorded(value, f"{self._name}.{attribute}", self._calls)
        setattr(self, attribute, value)
        return value


class RecordingModule:
    """NumPy's API, every function counted in ``calls`` and every array a ``RecordingArray``."""

    def __init__(self, module=numpy, prefix="numpy.", calls=None):
        self._module, self._prefix = module, prefix
        self.calls = Counter() if calls is None else calls

    def __getattr__(self, name):
        if name == "ndarray":  # the backend's array type, as cupy.ndarray is CuPy's
            return RecordingArray
        value = getattr(self._module, name)
        qualified = self._prefix + name
        if isinstance(value, types.ModuleType):
            value = RecordingModule(value, qualified + ".", self.calls)
        elif isinstance(value, numpy.ufunc):
            value = _RecordingUfunc(value, qualified, self.calls)
        elif callable(value) and not isinstance(value, type):
            value = _recorded(value, qualified, self.calls)
        setattr(self, name, value)
        return value


def host(value):
    """A plain ndarray from a backend array, for comparisons."""
    return numpy.asarray(value).view(numpy.ndarray)
