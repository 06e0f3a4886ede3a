"""Compiled kernels: a few hot loops written once more for Numba (the ``fast`` extra).

Every op of soma is NumPy code. A few need many passes over memory in NumPy where one loop
would do (BatchNorm, the activations' derivatives, max pooling's windows, the LSTM's gates);
for those, a plain Python function of loops over raw arrays is also kept, and compiled by Numba
when it is installed (``pip install soma[fast]``). The NumPy form stays the reference: it runs
when Numba is absent or turned off, and the tests compare the two with each other and with
PyTorch.

Usage, in a kernel module::

    @compiled.kernel
    def _relu_grad(x, gy, out):          # loops over raw arrays, nothing else
        for i in range(x.size): ...

    if compiled.enabled():
        _relu_grad(x, gy, out)            # compiled on its first call
    else:
        ...                               # the NumPy form

Rules the kernels follow:

* **Compiled lazily, one kernel at a time**, at its first call (Numba's import alone costs
  about 0.3 s, so ``import soma`` never imports it), and cached on disk (``cache=True``): a
  second process loads the machine code instead of compiling again.
* **One thread each, no GIL.** Kernels are compiled with ``nogil=True`` and without Numba's
  ``parallel``: Numba's own thread pool spins against OpenBLAS's (a measured 20x slowdown of a
  small network). Work is spread over soma's one pool (``parallel.py``), which calls a kernel
  on blocks of rows; a kernel call is one long GIL-free stretch, so two threads scale well.
* **Exact arithmetic**: ``fastmath=False`` (no reassociation), ``error_model="numpy"`` (a
  division by zero gives inf or nan as in NumPy, instead of raising; Python's error model also
  blocks vectorisation).
* Only for the NumPy backend: on another backend ``enabled()`` is False.

Kernels may call **helpers**: functions of scalars or arrays marked ``@compiled.helper`` (the
vector math of ``vecmath.py``, the copies and tap sums of the depthwise convolution). A helper
is plain Python until a kernel that calls it is compiled; Numba then compiles it into that
kernel (its own flags: see ``helper``). Numba's disk cache notices a
change to the kernel's own file only, so a kernel's cache entry also records the files of the
helpers it calls (``_dependency_stamp``): an edited helper recompiles its callers.

``SOMA_FAST=0`` in the environment, ``set_enabled(False)`` or ``with disabled():`` turns the
compiled kernels off (the NumPy forms run).
"""

import contextlib
import importlib.util
import inspect
import os
import threading

import numpy as np  # noqa: F401  NOTE: for kernels (NumPy arrays only) outside backend/

from soma.backend.array_module import active_backend

# The dtypes compiled kernels take (Numba has no float16 arithmetic): the others stay NumPy.
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))

_installed = importlib.util.find_spec("numba") is not None
_wanted = os.environ.get("SOMA_FAST", "1") != "0"


def installed() -> bool:
    """True when Numba can be imported (the ``fast`` extra is installed)."""
    return _installed


def enabled() -> bool:
    """True when compiled kernels run: Numba installed, not turned off, NumPy backend active."""
    return _installed and _wanted and active_backend().name == "numpy"


def set_enabled(flag: bool) -> bool:
    """Turn the compiled kernels on or off for this process; returns the previous setting."""
    global _wanted
    previous, _wanted = _wanted, bool(flag)
    return previous


@contextlib.contextmanager
def disabled():
    """Run the NumPy forms inside this block (tests compare them with the compiled ones)."""
    previous = set_enabled(False)
    try:
        yield
    finally:
        set_enabled(previous)


class Kernel:
    """A Python function of loops, compiled by Numba at its first call.

    ``kernel(...)`` runs the compiled form; ``kernel.python(...)`` the function as written
    (slow; for tests on tiny inputs).
    """

    _compile_lock = threading.Lock()

    def __init__(self, fn):
        self.python = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._compiled = None

    def __call__(self, *args, **kwargs):
        compiled = self._compiled
        if compiled is None:
            compiled = self._compile()
        return compiled(*args, **kwargs)

    def _compile(self):
        with self._compile_lock:
            if self._compiled is None:
                import numba  # NOTE: optional package, imported at the first compiled call

                _register_helpers(numba)
                options = dict(nogil=True, fastmath=False, error_model="numpy")
                try:
                    compiled = numba.njit(cache=True, **options)(self.python)
                    compiled = _stamp_dependencies(compiled, self.python, numba, options)
                except RuntimeError:  # no file to cache beside (a kernel typed at a prompt)
                    compiled = numba.njit(**options)(self.python)
                self._compiled = compiled
        return self._compiled

    def __repr__(self):
        state = "compiled" if self._compiled is not None else "not compiled yet"
        return f"<soma compiled kernel {self.__name__} ({state})>"


def kernel(fn) -> Kernel:
    """Decorator: mark ``fn`` (loops over arrays and numbers only) as a compiled kernel."""
    return Kernel(fn)


# ---------------------------------------------------------------------------- helpers
_helpers = []  # functions marked @helper, in the order they were defined
_registered = set()  # ids of the helpers already made known to Numba

# A helper's own flags: ``contract`` lets LLVM fuse a multiply and the add that follows into one
# FMA instruction (one rounding instead of two, so never less accurate). It applies inside the
# helper only, even once inlined: a kernel's own arithmetic stays exactly as written. A helper
# whose results must equal a NumPy form's bit for bit is marked ``exact`` and gets no FMA; one
# that computes a dot product may be marked ``reorder_sums``: LLVM may then add its terms in
# any order (``reassoc``), which lets it keep several vectors of running sums, as BLAS does.
HELPER_OPTIONS = dict(error_model="numpy", fastmath={"contract"})
EXACT_HELPER_OPTIONS = dict(error_model="numpy")
REORDERING_HELPER_OPTIONS = dict(error_model="numpy", fastmath={"contract", "reassoc"})


def helper(fn=None, *, exact=False, reorder_sums=False, lowering=None):
    """Decorator: mark ``fn``, a function of scalars or arrays, as callable from compiled
    kernels (``@helper``; ``@helper(exact=True)`` keeps every multiply and add rounded on its
    own, as NumPy does; ``@helper(reorder_sums=True)`` lets its sums be reassociated).

    It stays an ordinary Python function (a kernel's ``.python`` form calls it as such); the
    first compiled kernel registers it with Numba, which inlines it where a kernel calls it.
    ``lowering(numba)``, where given, makes the compiled form instead of ``fn``'s own body: an
    implementation for ``numba.extending.overload``, for a helper that needs Numba's extension
    API (``blas.gemm`` calls a C function through its address).
    """
    if fn is None:
        return lambda f: helper(f, exact=exact, reorder_sums=reorder_sums, lowering=lowering)
    fn.__soma_helper__ = True
    fn.__soma_lowering__ = lowering
    if exact:
        fn.__soma_helper_options__ = EXACT_HELPER_OPTIONS
    else:
        fn.__soma_helper_options__ = REORDERING_HELPER_OPTIONS if reorder_sums else HELPER_OPTIONS
    _helpers.append(fn)
    return fn


def _register_helpers(numba):
    # NOTE: Numba is optional: imported when the first kernel compiles
    from numba.extending import overload, register_jitable

    for fn in _helpers:
        if id(fn) not in _registered:
            if fn.__soma_lowering__ is not None:
                overload(fn, jit_options=fn.__soma_helper_options__)(fn.__soma_lowering__(numba))
            else:
                register_jitable(**fn.__soma_helper_options__)(fn)
            _registered.add(id(fn))


def _helper_files(fn, seen):
    """The source files of the helpers ``fn`` calls, directly or through other helpers."""
    names = fn.__code__.co_names
    candidates = [fn.__globals__.get(name) for name in names]
    for module in [c for c in candidates if inspect.ismodule(c)]:  # vecmath.exp(...)
        candidates += [getattr(module, name, None) for name in names]
    files = set()
    for value in candidates:
        if getattr(value, "__soma_helper__", False) and id(value) not in seen:
            seen.add(id(value))
            files.add(inspect.getfile(value))
            files |= _helper_files(value, seen)
    return files


def _dependency_stamp(fn):
    """(path, mtime, size) of each helper file ``fn`` depends on, sorted; () if none."""
    stamps = []
    for path in sorted(_helper_files(fn, set())):
        st = os.stat(path)
        stamps.append((path, st.st_mtime, st.st_size))
    return tuple(stamps)


def _stamp_dependencies(compiled, fn, numba, options):
    """Make the disk cache of ``compiled`` stale when a helper it calls changes.

    Numba keys its cache index on the stamp (mtime, size) of the kernel's own file; the helpers'
    stamps are appended to it. Should Numba's cache internals differ from what this expects,
    the kernel is compiled without a disk cache instead: slower to start, never stale.
    """
    deps = _dependency_stamp(fn)
    if not deps:
        return compiled
    try:
        index = compiled._cache._cache_file
        index._source_stamp = (index._source_stamp, deps)
    except AttributeError:
        return numba.njit(**options)(fn)
    return compiled
