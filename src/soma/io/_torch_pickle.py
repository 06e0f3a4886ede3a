"""The pickle inside a ``torch.save`` file, interpreted without Python's ``pickle`` module.

``pickle.load`` calls whatever function a pickle names, so loading a downloaded checkpoint
would run the downloader's code. ``Machine`` executes the opcodes itself. It builds dicts,
lists, tuples, numbers, strings and ``None``; the only globals it knows are the handful PyTorch
uses for tensors (``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter``,
the typed storage classes such as ``torch.FloatStorage``, ``collections.OrderedDict``,
``torch.Size``), and each is played by soma's own code, never imported. Any other global or
opcode raises ``UnsafeCheckpointError`` naming it and its byte offset.
"""

import pickletools
import struct

from soma.autograd.tensor import Tensor
from soma.io.serialization import CheckpointError

# storage class -> NumPy dtype code ("bf16" is widened to float32: NumPy has no bfloat16)
_STORAGES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
    "ComplexFloatStorage": "c8",
    "ComplexDoubleStorage": "c16",
}
_MARK = object()


class UnsafeCheckpointError(CheckpointError):
    """The pickle inside a PyTorch file asks for something other than tensors and plain data."""


class _Global:
    """A global the pickle named and this reader allows: a role, never the real object."""

    def __init__(self, role, arg=None):
        self.role, self.arg = role, arg


class Stub:
    """An object of an allowed class (a module) the pickle builds: rebuilt after the run."""

    def __init__(self, cls):
        self.cls, self.state = cls, None


class Storage:
    """A storage the pickle refers to: its element type, its key in the archive, its size."""

    def __init__(self, code, key, numel):
        self.code, self.key, self.numel = code, key, numel


def _allowed_global(module: str, name: str):
    if module in ("builtins", "__builtin__") and name == "set":  # protocol 2 says __builtin__
        return _Global("set")
    if module == "collections" and name == "OrderedDict":
        return _Global("ordered_dict")
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
        return _Global(name)
    if module == "torch" and name == "Size":
        return _Global("size")
    if module == "torch" and name in _STORAGES:
        return _Global("storage", _STORAGES[name])
    return None


class Machine:
    """Runs the allowed pickle opcodes over ``data``; ``run()`` returns the object.

    ``storage.tensor(storage, offset, size, stride, requires_grad)`` builds each tensor.
    """

    def __init__(self, data: bytes, where: str, storage, classes=None):
        # ``classes(module, name)``: the allowed class or function a global names, or None
        self.classes = classes
        self.data, self.where, self.storage, self.pos = data, where, storage, 0
        self.stack, self.memo = [], {}
        u1, u4 = (lambda: self._unpack("<B")), (lambda: self._unpack("<I"))
        self.ops = {
            0x80: self._proto,
            0x95: lambda: self._unpack("<Q"),
            0x28: self._mark,
            0x7D: lambda: self._push({}),
            0x5D: lambda: self._push([]),
            0x29: lambda: self._push(()),
            0x4E: lambda: self._push(None),
            0x88: lambda: self._push(True),
            0x89: lambda: self._push(False),
            0x4B: lambda: self._push(u1()),
            0x4D: lambda: self._push(self._unpack("<H")),
            0x4A: lambda: self._push(self._unpack("<i")),
            0x8A: self._long1,
            0x47: lambda: self._push(self._unpack(">d")),
            0x58: lambda: self._push(self._text(u4())),
            0x8C: lambda: self._push(self._text(u1())),
            0x43: lambda: self._push(self._take(u1())),
            0x42: lambda: self._push(self._take(u4())),
            0x71: lambda: self._put(u1()),
            0x72: lambda: self._put(u4()),
            0x94: lambda: self._put(len(self.memo)),
            0x68: lambda: self._push(self.memo[u1()]),
            0x6A: lambda: self._push(self.memo[u4()]),
            0x74: lambda: self._push(tuple(self._pop_mark())),
            0x85: lambda: self._tuple(1),
            0x86: lambda: self._tuple(2),
            0x87: lambda: self._tuple(3),
            0x6C: lambda: self._push(self._pop_mark()),
            0x61: self._append,
            0x65: self._appends,
            0x73: self._setitem,
            0x75: self._setitems,
            0x64: self._dict,
            0x63: self._global,
            0x93: self._stack_global,
            0x52: self._reduce,
            0x62: self._build,
            0x51: self._persistent,
            0x81: self._newobj,
            0x8F: lambda: self._push(set()),
            0x90: self._additems,
        }

    def fail(self, reason: str, error=UnsafeCheckpointError):
        raise error(f"cannot load {self.where}: byte {self.pos} of data.pkl: {reason}")

    def run(self):
        while True:
            if self.pos >= len(self.data):
                self.fail(
                    "the pickle ends before its STOP opcode (truncated file?)", CheckpointError
                )
            op = self.data[self.pos]
            self.pos += 1
            if op == 0x2E:  # STOP
                if len(self.stack) != 1:
                    self.fail("STOP with a malformed stack", CheckpointError)
                return self.stack.pop()
            handler = self.ops.get(op)
            if handler is None:
                self.fail(
                    f"opcode 0x{op:02x} ({_opname(op)}) is not one this reader allows; "
                    "only tensors and plain data can be loaded"
                )
            try:
                handler()
            except CheckpointError:
                raise
            except (
                IndexError,
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
                struct.error,
            ) as e:
                self.fail(
                    f"malformed pickle near opcode 0x{op:02x} ({type(e).__name__}: {e})",
                    CheckpointError,
                )

    # ---------------------------------------------------------------- bytes and stack
    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.fail("the pickle is cut short (truncated file?)", CheckpointError)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _unpack(self, fmt: str):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _text(self, n: int) -> str:
        return self._take(n).decode("utf-8")

    def _push(self, value):
        self.stack.append(value)

    def _proto(self):
        version = self._unpack("<B")
        if version > 5:
            self.fail(
                f"pickle protocol {version} is newer than this reader knows", CheckpointError
            )

    def _long1(self):
        self._push(int.from_bytes(self._take(self._unpack("<B")), "little", signed=True))

    def _put(self, index: int):
        self.memo[index] = self.stack[-1]

    def _mark(self):
        self.stack.append(_MARK)

    def _pop_mark(self) -> list:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise ValueError("no MARK on the stack")

    def _pop(self):
        value = self.stack.pop()
        if value is _MARK:
            raise ValueError("MARK where a value was expected")
        return value

    def _tuple(self, n: int):
        items = [self._pop() for _ in range(n)][::-1]
        self._push(tuple(items))

    # ---------------------------------------------------------------- containers
    def _container(self, kind):
        target = self.stack[-1]
        if not isinstance(target, kind):
            raise TypeError(f"expected a {kind.__name__}, found {type(target).__name__}")
        return target

    def _append(self):
        value = self._pop()
        self._container(list).append(value)

    def _appends(self):
        items = self._pop_mark()
        self._container(list).extend(items)

    def _setitem(self):
        value, key = self._pop(), self._pop()
        self._container(dict)[_key(key)] = value

    def _setitems(self):
        items = self._pop_mark()
        target = self._container(dict)
        for key, value in zip(items[::2], items[1::2]):
            target[_key(key)] = value

    def _dict(self):
        items = self._pop_mark()
        self._push({_key(k): v for k, v in zip(items[::2], items[1::2])})

    # ---------------------------------------------------------------- globals and calls
    def _global(self):
        module = self._readline()
        name = self._readline()
        self._push_global(module, name)

    def _stack_global(self):
        name, module = self._pop(), self._pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            raise TypeError("STACK_GLOBAL needs two strings")
        self._push_global(module, name)

    def _readline(self) -> str:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            self.fail("the pickle is cut short (truncated file?)", CheckpointError)
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def _push_global(self, module: str, name: str):
        allowed = _allowed_global(module, name)
        if allowed is None and self.classes is not None:
            found = self.classes(module, name)
            allowed = None if found is None else _Global("object", found)
        if allowed is None:
            self.fail(
                f"refusing the global '{module}.{name}': only PyTorch's tensor "
                "constructors and plain containers are allowed (never code)"
            )
        self._push(allowed)

    def _reduce(self):
        args, fn = self._pop(), self._pop()
        if not isinstance(fn, _Global) or not isinstance(args, tuple):
            raise TypeError("REDUCE applies an allowed global to a tuple")
        self._push(self._call(fn, args))

    def _call(self, fn: _Global, args: tuple):
        if fn.role == "ordered_dict" and not args:
            return {}
        if fn.role == "set" and len(args) == 1 and isinstance(args[0], list):
            return set(args[0])
        if fn.role == "size" and len(args) == 1 and isinstance(args[0], tuple):
            return tuple(int(s) for s in args[0])
        if fn.role == "_rebuild_tensor_v2" and len(args) in (6, 7):
            storage, offset, size, stride, requires_grad = args[:5]
            return self.storage.tensor(storage, offset, size, stride, bool(requires_grad))
        if fn.role == "_rebuild_parameter" and len(args) == 3 and isinstance(args[0], Tensor):
            args[0].requires_grad = bool(args[1])
            return args[0]
        raise TypeError(f"unexpected arguments for {fn.role}")

    def _newobj(self):
        args, cls = self._pop(), self._pop()
        if not (isinstance(cls, _Global) and cls.role == "object" and isinstance(cls.arg, type)):
            self.fail("NEWOBJ on something other than an allowed class")
        if args != ():
            raise TypeError("NEWOBJ with arguments")
        self._push(Stub(cls.arg))

    def _additems(self):
        items = self._pop_mark()
        self._container(set).update(items)

    def _build(self):
        state = self._pop()
        target = self.stack[-1]
        if isinstance(target, Stub) and isinstance(state, dict) and target.state is None:
            target.state = state
            return
        # OrderedDict state (a state dict's ``_metadata``) carries no tensors: it is dropped
        if not (isinstance(target, dict) and isinstance(state, dict)):
            self.fail(f"BUILD on a {type(target).__name__} is not allowed")

    def _persistent(self):
        pid = self._pop()
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _Global)
            and pid[1].role == "storage"
        ):
            self.fail(f"unknown persistent id {pid!r}: only typed storages are allowed")
        _, kind, key, _location, numel = pid
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"bad storage reference {pid!r}")
        self._push(Storage(kind.arg, key, numel))


def _key(key):
    if isinstance(key, (str, int, float, bool, tuple)) or key is None:
        return key
    raise TypeError(f"a dict key of type {type(key).__name__}")


def _opname(op: int) -> str:
    known = pickletools.code2op.get(chr(op))
    return known.name if known else "unknown"
