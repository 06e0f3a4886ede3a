"""A pickle reader that cannot run code: only data, only the opcodes CIFAR's batch files use.

Python's ``pickle.load`` calls whatever function a file names, so loading a downloaded pickle
runs the downloader's code. This reader interprets the opcodes itself instead. It builds dicts,
lists, tuples, ints, floats, strings, bytes, booleans and None, and NumPy arrays through the
one construction NumPy's pickles use (``numpy.core.multiarray._reconstruct`` + ``BUILD`` with
a plain numeric dtype and raw bytes), turned into ``numpy.frombuffer``: no NumPy function runs.
Any other global, any other opcode, protocol above 3, or a malformed stream raises
``UnsafePickleError`` naming the file, the byte offset and the reason.

Strings written by Python 2 (as CIFAR's files were) come back as ``bytes``, like
``pickle.load(f, encoding="bytes")``; Python 3's protocol-2 encoding of bytes
(``_codecs.encode(text, "latin1")``) is understood too.
"""

import pickletools
import struct

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
_MARK = object()


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


class _Reader:
    """Executes the allowed opcodes over ``data``; ``run()`` returns the unpickled object."""

    def __init__(self, data: bytes, name: str):
        self.data, self.name, self.pos = data, name, 0
        self.stack, self.marks, self.memo = [], [], {}
        self.ops = {
            0x80: self._proto,
            ord("."): None,
            ord("("): self._mark,
            ord("}"): lambda: self._push({}),
            ord("]"): lambda: self._push([]),
            ord(")"): lambda: self._push(()),
            ord("N"): lambda: self._push(None),
            0x88: lambda: self._push(True),
            0x89: lambda: self._push(False),
            ord("K"): lambda: self._push(self._unpack("<B")),
            ord("M"): lambda: self._push(self._unpack("<H")),
            ord("J"): lambda: self._push(self._unpack("<i")),
            0x8A: self._long1,
            ord("G"): lambda: self._push(self._unpack(">d")),
            ord("U"): lambda: self._push(self._take(self._unpack("<B"))),
            ord("T"): lambda: self._push(self._take(self._unpack("<I"))),
            ord("C"): lambda: self._push(self._take(self._unpack("<B"))),
            ord("B"): lambda: self._push(self._take(self._unpack("<I"))),
            ord("X"): lambda: self._push(self._utf8(self._unpack("<I"))),
            ord("q"): lambda: self._put(self._unpack("<B")),
            ord("r"): lambda: self._put(self._unpack("<I")),
            ord("h"): lambda: self._get(self._unpack("<B")),
            ord("j"): lambda: self._get(self._unpack("<I")),
            ord("t"): lambda: self._push(tuple(self._pop_mark())),
            0x85: lambda: self._tuple(1),
            0x86: lambda: self._tuple(2),
            0x87: lambda: self._tuple(3),
            ord("l"): lambda: self._push(self._pop_mark()),
            ord("a"): self._append,
            ord("e"): self._appends,
            ord("s"): self._setitem,
            ord("u"): self._setitems,
            ord("d"): lambda: self._push(self._pairs(self._pop_mark(), {})),
            ord("c"): self._global,
            ord("R"): self._reduce,
            ord("b"): self._build,
        }

    def fail(self, reason: str):
        raise UnsafePickleError(f"{self.name}: refusing pickle at byte {self.pos}: {reason}")

    def run(self):
        while True:
            if self.pos >= len(self.data):
                self.fail("the stream ends before its STOP opcode (truncated file?)")
            op = self.data[self.pos]
            self.pos += 1
            if op not in self.ops:
                known = pickletools.code2op.get(chr(op))
                name = known.name if known else "unknown"
                self.fail(f"opcode 0x{op:02x} ({name}) is not one of the data opcodes allowed")
            if op == ord("."):
                if len(self.stack) != 1 or self.marks:
                    self.fail("STOP with a malformed stack")
                return _finish(self.stack.pop(), self)
            try:
                self.ops[op]()
            except (IndexError, KeyError, TypeError, ValueError, struct.error) as e:
                if isinstance(e, UnsafePickleError):
                    raise
                self.fail(f"malformed stream near opcode {chr(op)!r} ({type(e).__name__}: {e})")

    # ------------------------------------------------------------------ reading bytes
    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.fail(f"a value of {n} bytes runs past the end of the file (truncated?)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _unpack(self, fmt: str):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _utf8(self, n: int) -> str:
        return self._take(n).decode("utf-8", "surrogatepass")

    # ------------------------------------------------------------------ stack and memo
    def _push(self, value):
        self.stack.append(value)

    def _mark(self):
        self.marks.append(self.stack)
        self.stack = []

    def _pop_mark(self) -> list:
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def _proto(self):
        version = self._unpack("<B")
        if version > 3:
            self.fail(f"pickle protocol {version} (only protocols 0-3 are read)")

    def _long1(self):
        self._push(int.from_bytes(self._take(self._unpack("<B")), "little", signed=True))

    def _put(self, key):
        self.memo[key] = self.stack[-1]

    def _get(self, key):
        self._push(self.memo[key])

    def _tuple(self, n):
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        if len(items) != n:
            raise IndexError("stack underflow")
        self._push(items)

    # ------------------------------------------------------------------ containers
    def _append(self):
        value = self.stack.pop()
        self._list().append(value)

    def _appends(self):
        items = self._pop_mark()
        self._list().extend(items)

    def _list(self) -> list:
        if not isinstance(self.stack[-1], list):
            self.fail(f"APPEND to a {type(self.stack[-1]).__name__}, not a list")
        return self.stack[-1]

    def _setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._pairs([key, value], self._dict())

    def _setitems(self):
        self._pairs(self._pop_mark(), self._dict())

    def _dict(self) -> dict:
        if not isinstance(self.stack[-1], dict):
            self.fail(f"SETITEM on a {type(self.stack[-1]).__name__}, not a dict")
        return self.stack[-1]

    def _pairs(self, items: list, target: dict) -> dict:
        if len(items) % 2:
            self.fail("a dict needs key/value pairs")
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, (str, bytes, int)):
                self.fail(f"dict key of type {type(key).__name__}")
            target[key] = value
        return target

    # ------------------------------------------------------------------ the NumPy constructions
    def _global(self):
        module = self._line()
        name = self._line()
        if (module, name) not in _GLOBALS:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in _GLOBALS))
            self.fail(
                f"it names the global {module}.{name}; only plain data and NumPy arrays "
                f"are allowed (globals: {allowed})"
            )
        self._push(_Global(_GLOBALS[module, name]))

    def _line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            self.fail("unterminated GLOBAL name")
        text = self.data[self.pos : end].decode("ascii", "replace")
        self.pos = end + 1
        return text

    def _reduce(self):
        args = self.stack.pop()
        func = self.stack.pop()
        role = func.role if isinstance(func, _Global) else None
        if role == "reconstruct" and len(args) == 3 and isinstance(args[0], _Global):
            self._push(_ArrayStub())
        elif role == "dtype" and len(args) == 3 and _text(args[0]) in _DTYPES:
            self._push(_DtypeStub(_text(args[0])))
        elif role == "encode" and len(args) == 2 and _text(args[1]) == "latin1":
            self._push(args[0].encode("latin1"))
        else:
            self.fail(f"call of {role or type(func).__name__} with arguments it does not allow")

    def _build(self):
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _DtypeStub):
            order = _text(state[1])
            if order not in "|<>=" or any(s not in (None, -1, 0) for s in state[2:8]):
                self.fail(f"dtype {target.code} with a state it does not allow ({state!r:.80})")
            target.dtype = _xp.dtype((">" if order == ">" else "<") + target.code)
        elif isinstance(target, _ArrayStub):
            target.array = self._array(state)
        else:
            self.fail(f"BUILD on a {type(target).__name__}")

    def _array(self, state):
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeStub) or dtype.dtype is None or not isinstance(raw, bytes):
            self.fail("array state without a plain dtype and raw bytes")
        count = 1
        for s in shape:
            count *= int(s)
        if count * dtype.dtype.itemsize != len(raw):
            self.fail(
                f"array of shape {tuple(shape)} {dtype.dtype} needs "
                f"{count * dtype.dtype.itemsize} bytes, the pickle holds {len(raw)}"
            )
        flat = _xp.frombuffer(raw, dtype=dtype.dtype)
        return flat.reshape(tuple(shape), order="F" if fortran else "C")


def _finish(value, reader: _Reader):
    """Replace array stubs by their arrays, throughout nested containers."""
    if isinstance(value, _ArrayStub):
        if value.array is None:
            reader.fail("an array was reconstructed but never given its data")
        return value.array
    if isinstance(value, (_Global, _DtypeStub)):
        reader.fail("the result holds a bare global or dtype")
    if isinstance(value, dict):
        return {k: _finish(v, reader) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v, reader) for v in value]
    if isinstance(value, tuple):
        return tuple(_finish(v, reader) for v in value)
    return value


def safe_loads(data: bytes, name: str = "<bytes>"):
    """Unpickle plain data (see the module docstring); never imports or calls anything.

    Example:
        >>> import pickle
        >>> safe_loads(pickle.dumps({"labels": [1, 2], "name": b"x"}, protocol=2))
        {'labels': [1, 2], 'name': b'x'}
    """
    reader = _Reader(data, name)
    try:
        return reader.run()
    except RecursionError:
        reader.fail("containers nested too deeply")
