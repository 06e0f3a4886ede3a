"""The array module every kernel calls, chosen at call time: soma's backend seam.

Kernels never import NumPy. They write NumPy-dialect code against ``xp`` (``xp.exp(x)``,
``xp.matmul(a, b)``, ``xp.lib.stride_tricks...``), the object ``get_xp()`` returns. ``xp`` is not
NumPy itself but a stand-in that forwards each name to the module of the *active* backend when
the name is first read, and forgets what it forwarded whenever the active backend changes. So a
module-level ``_xp = get_xp()`` binds the seam, not NumPy, and a second array library (CuPy, or
the recording backend the tests use) plugs in with::

    register_backend("cupy", cupy, cupy.ndarray)
    with use_backend("cupy"):
        ...  # every kernel now calls cupy

Reading a name already forwarded is an ordinary module-attribute lookup, so the seam costs the
hot path nothing. The choice is process-wide (like a default device), not per tensor: switch
backends between steps, not while another thread runs kernels.
"""

import contextlib
import types
from dataclasses import dataclass

import numpy


@dataclass(frozen=True)
class Backend:
    """An array library: its name, the module with NumPy's API, and its array type."""

    name: str
    module: object
    array_type: type


_BACKENDS = {"numpy": Backend("numpy", numpy, numpy.ndarray)}
_active = _BACKENDS["numpy"]


# NumPy names another array library may lack, and what stands in for them there: GPU libraries
# do not signal floating-point errors, so NumPy's error-state context has nothing to set.
_STAND_INS = {"errstate": lambda **settings: contextlib.nullcontext()}


def _forward(name):
    """Module ``__getattr__`` (PEP 562) of ``xp``: runs only for a name not forwarded yet."""
    try:
        value = getattr(_active.module, name)
    except AttributeError:
        if name not in _STAND_INS:
            raise
        value = _STAND_INS[name]
    xp.__dict__[name] = value
    return value


# A plain module object, so that reading a forwarded name is the interpreter's module-attribute
# fast path (measured: 30 ns, as for ``numpy.exp``; a subclass with ``__getattr__`` took 87 ns).
xp = types.ModuleType("soma.backend.xp", "The active backend's array module (NumPy's API).")
xp.__getattr__ = _forward
_OWN_NAMES = frozenset(xp.__dict__)


def _forget_forwarded_names():
    for name in [name for name in xp.__dict__ if name not in _OWN_NAMES]:
        del xp.__dict__[name]


def register_backend(name: str, module, array_type: type) -> Backend:
    """Make an array library available to ``use_backend(name)``.

    ``module`` must offer NumPy's API (functions, ufuncs with ``.at``/``.reduce``, ``lib``,
    ``linalg``) over arrays of ``array_type``.
    """
    if not isinstance(array_type, type):
        raise TypeError(f"register_backend: array_type must be a type, got {array_type!r}")
    backend = Backend(name, module, array_type)
    _BACKENDS[name] = backend
    return backend


def available_backends() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def active_backend() -> Backend:
    """The backend whose module ``xp`` forwards to now."""
    return _active


def set_backend(name: str) -> Backend:
    """Make ``name`` the active backend; returns the one it replaces."""
    global _active
    if name not in _BACKENDS:
        raise ValueError(
            f"unknown array backend {name!r}; registered: {', '.join(sorted(_BACKENDS))}"
        )
    previous, _active = _active, _BACKENDS[name]
    _forget_forwarded_names()
    return previous


@contextlib.contextmanager
def use_backend(name: str):
    """Run the body with ``name`` as the active backend, then restore the previous one."""
    previous = set_backend(name)
    try:
        yield _active
    finally:
        set_backend(previous.name)
