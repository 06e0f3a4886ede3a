"""CIFAR's batch files read with soma's restricted unpickler: only data and NumPy arrays.

``soma._safe_pickle.SafeUnpickler`` interprets the opcodes (protocols 0-3 here, the ones
Python 2's cPickle and Python 3's default protocol-3 files use) and never imports or calls
anything. This reader adds the one construction NumPy's pickles use for arrays
(``numpy.core.multiarray._reconstruct`` + ``BUILD`` with a plain numeric dtype and raw bytes),
turned into ``numpy.frombuffer``: no NumPy function runs. Python 3's protocol-2 encoding of
bytes (``_codecs.encode(text, "latin1")``) is understood too. Anything else raises
``UnsafePickleError`` naming the file, the byte offset and the reason.
"""

from soma._safe_pickle import SafeUnpickler
from soma.backend import get_xp
from soma.data.datasets.files import DatasetFileError

_xp = get_xp()


class UnsafePickleError(DatasetFileError):
    """The pickle asks for something other than plain data (or is malformed)."""


_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
}
# plain numeric dtypes an array may have (single-byte codes need no byte order)
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}


class _Global:
    def __init__(self, role):
        self.role = role


class _DtypeStub:
    def __init__(self, code):
        self.code = code
        self.dtype = None


class _ArrayStub:
    def __init__(self):
        self.array = None


def _text(value) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else value


class _ArrayReader(SafeUnpickler):
    """Plain data plus NumPy arrays of plain numeric dtypes."""

    max_protocol = 3
    unsafe_error = malformed_error = UnsafePickleError

    def find_global(self, module, name):
        role = _GLOBALS.get((module, name))
        return None if role is None else _Global(role)

    def allowed_globals(self) -> str:
        names = ", ".join(sorted(f"{m}.{n}" for m, n in _GLOBALS))
        return f"only plain data and NumPy arrays are allowed (globals: {names})"

    def call(self, fn, args):
        role = fn.role if isinstance(fn, _Global) else None
        if role == "reconstruct" and len(args) == 3 and isinstance(args[0], _Global):
            return _ArrayStub()
        if role == "dtype" and len(args) == 3 and _text(args[0]) in _DTYPES:
            return _DtypeStub(_text(args[0]))
        if role == "encode" and len(args) == 2 and _text(args[1]) == "latin1":
            return args[0].encode("latin1")
        self.refuse(f"call of {role or type(fn).__name__} with arguments it does not allow")

    def build(self, target, state):
        if isinstance(target, _DtypeStub):
            order = _text(state[1])
            if order not in "|<>=" or any(s not in (None, -1, 0) for s in state[2:8]):
                self.refuse(f"dtype {target.code} with a state it does not allow ({state!r:.80})")
            target.dtype = _xp.dtype((">" if order == ">" else "<") + target.code)
        elif isinstance(target, _ArrayStub):
            target.array = self._array(state)
        else:
            self.refuse(f"BUILD on a {type(target).__name__}")

    def _array(self, state):
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeStub) or dtype.dtype is None or not isinstance(raw, bytes):
            self.refuse("array state without a plain dtype and raw bytes")
        count = 1
        for s in shape:
            count *= int(s)
        if count * dtype.dtype.itemsize != len(raw):
            self.malformed(
                f"array of shape {tuple(shape)} {dtype.dtype} needs "
                f"{count * dtype.dtype.itemsize} bytes, the pickle holds {len(raw)}"
            )
        flat = _xp.frombuffer(raw, dtype=dtype.dtype)
        return flat.reshape(tuple(shape), order="F" if fortran else "C")

    def finish(self, value):
        """Replace array stubs by their arrays, throughout nested containers."""
        if isinstance(value, _ArrayStub):
            if value.array is None:
                self.malformed("an array was reconstructed but never given its data")
            return value.array
        if isinstance(value, (_Global, _DtypeStub)):
            self.refuse("the result holds a bare global or dtype")
        if isinstance(value, dict):
            return {k: self.finish(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.finish(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.finish(v) for v in value)
        return value


def safe_loads(data: bytes, name: str = "<bytes>"):
    """Unpickle plain data and NumPy arrays (see the module docstring); never imports or calls
    anything.

    Example:
        >>> import pickle
        >>> safe_loads(pickle.dumps({"labels": [1, 2], "name": b"x"}, protocol=2))
        {'labels': [1, 2], 'name': b'x'}
    """
    return _ArrayReader(data, name).run()
