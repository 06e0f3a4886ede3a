"""The one place where soma names its array library.

Every kernel asks ``get_xp(x)`` for the module that owns its arrays and writes NumPy-dialect
code against it. Today that is always NumPy; a CuPy backend plugs in here (see ``device.py``)
without touching the ops.
"""

import numpy

from soma.backend.device import Device, cpu
from soma.backend.dtypes import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    is_floating,
    promote_types,
    set_default_dtype,
    to_dtype,
    uint8,
)

ndarray = numpy.ndarray


def get_xp(*arrays):
    """Return the array module (``numpy`` today) that owns ``arrays``."""
    return numpy


def is_array(value) -> bool:
    """True when ``value`` is an array of the active backend."""
    return isinstance(value, numpy.ndarray)


def scatter_add(target, index, values):
    """``target[index] += values`` with repeated indices accumulating (unbuffered)."""
    numpy.add.at(target, index, values)
    return target


def sliding_windows(x, window_shape, axis):
    """Read-only strided view of every window of ``x`` (no copy)."""
    return numpy.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)


def as_strided(x, shape, strides):
    """Strided view of ``x`` with the given shape and byte strides (read-only)."""
    return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)


__all__ = [
    "Device",
    "as_strided",
    "bool_",
    "cpu",
    "float16",
    "float32",
    "float64",
    "get_default_dtype",
    "get_xp",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_array",
    "is_floating",
    "ndarray",
    "promote_types",
    "scatter_add",
    "set_default_dtype",
    "sliding_windows",
    "to_dtype",
    "uint8",
]
