"""Reading PyTorch's ``.pt``/``.pth`` files without unpickling them.

``torch.save`` writes a zip archive: ``<name>/data.pkl`` is a pickle describing the saved object,
and ``<name>/data/<key>`` holds the raw bytes of each storage. Python's ``pickle.load`` would
call whatever function the pickle names, so loading a downloaded checkpoint would run the
downloader's code. Here a small interpreter executes the pickle opcodes itself. It builds dicts,
lists, tuples, numbers, strings and ``None``; the only globals it knows are the handful PyTorch
uses for tensors (``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter``,
the typed storage classes such as ``torch.FloatStorage``, ``collections.OrderedDict``,
``torch.Size``), and each is played by soma's own code, never imported. Any other global or
opcode raises ``UnsafeCheckpointError`` naming it and its byte offset.

Tensors are rebuilt from the storage bytes with their size, stride and offset (views sharing a
storage come back right), bounds-checked against the storage, and copied into soma Tensors.
"""

import os
import pickletools
import struct
import zipfile

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.io.serialization import CheckpointError

_xp = get_xp()

# storage class -> NumPy dtype code ("bf16" is widened to float32: NumPy has no bfloat16)
_STORAGES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "b1", "ComplexFloatStorage": "c8",
    "ComplexDoubleStorage": "c16",
}
_MARK = object()


class UnsafeCheckpointError(CheckpointError):
    """The pickle inside a PyTorch file asks for something other than tensors and plain data."""


class _Global:
    """A global the pickle named and this reader allows: a role, never the real object."""

    def __init__(self, role, arg=None):
        self.role, self.arg = role, arg


class _Storage:
    def __init__(self, code, key, numel):
        self.code, self.key, self.numel = code, key, numel


def _allowed_global(module: str, name: str):
    if module == "collections" and name == "OrderedDict":
        return _Global("ordered_dict")
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
        return _Global(name)
    if module == "torch" and name == "Size":
        return _Global("size")
    if module == "torch" and name in _STORAGES:
        return _Global("storage", _STORAGES[name])
    return None


class _Machine:
    """Runs the allowed pickle opcodes over ``data``; ``run()`` returns the object."""

    def __init__(self, data: bytes, where: str, storage):
        self.data, self.where, self.storage, self.pos = data, where, storage, 0
        self.stack, self.memo = [], {}
        u1, u4 = (lambda: self._unpack("<B")), (lambda: self._unpack("<I"))
        self.ops = {
            0x80: self._proto, 0x95: lambda: self._unpack("<Q"), 0x28: self._mark,
            0x7D: lambda: self._push({}), 0x5D: lambda: self._push([]),
            0x29: lambda: self._push(()), 0x4E: lambda: self._push(None),
            0x88: lambda: self._push(True), 0x89: lambda: self._push(False),
            0x4B: lambda: self._push(u1()), 0x4D: lambda: self._push(self._unpack("<H")),
            0x4A: lambda: self._push(self._unpack("<i")), 0x8A: self._long1,
            0x47: lambda: self._push(self._unpack(">d")),
            0x58: lambda: self._push(self._text(u4())), 0x8C: lambda: self._push(self._text(u1())),
            0x43: lambda: self._push(self._take(u1())), 0x42: lambda: self._push(self._take(u4())),
            0x71: lambda: self._put(u1()), 0x72: lambda: self._put(u4()),
            0x94: lambda: self._put(len(self.memo)),
            0x68: lambda: self._push(self.memo[u1()]), 0x6A: lambda: self._push(self.memo[u4()]),
            0x74: lambda: self._push(tuple(self._pop_mark())),
            0x85: lambda: self._tuple(1), 0x86: lambda: self._tuple(2), 0x87: lambda: self._tuple(3),
            0x6C: lambda: self._push(self._pop_mark()), 0x61: self._append, 0x65: self._appends,
            0x73: self._setitem, 0x75: self._setitems, 0x64: self._dict,
            0x63: self._global, 0x93: self._stack_global, 0x52: self._reduce, 0x62: self._build,
            0x51: self._persistent,
        }

    def fail(self, reason: str, error=UnsafeCheckpointError):
        raise error(f"cannot load {self.where}: byte {self.pos} of data.pkl: {reason}")

    def run(self):
        while True:
            if self.pos >= len(self.data):
                self.fail("the pickle ends before its STOP opcode (truncated file?)", CheckpointError)
            op = self.data[self.pos]
            self.pos += 1
            if op == 0x2E:  # STOP
                if len(self.stack) != 1:
                    self.fail("STOP with a malformed stack", CheckpointError)
                return self.stack.pop()
            handler = self.ops.get(op)
            if handler is None:
                self.fail(f"opcode 0x{op:02x} ({_opname(op)}) is not one this reader allows; "
                          "only tensors and plain data can be loaded")
            try:
                handler()
            except UnsafeCheckpointError:
                raise
            except CheckpointError:
                raise
            except (IndexError, KeyError, TypeError, ValueError, AttributeError,
                    struct.error) as e:
                self.fail(f"malformed pickle near opcode 0x{op:02x} ({type(e).__name__}: {e})",
                          CheckpointError)

    # ---------------------------------------------------------------- bytes and stack
    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.fail("the pickle is cut short (truncated file?)", CheckpointError)
        chunk = self.data[self.pos:self.pos + n]
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
            self.fail(f"pickle protocol {version} is newer than this reader knows", CheckpointError)

    def _long1(self):
        self._push(int.from_bytes(self._take(self._unpack("<B")), "little", signed=True))

    def _put(self, index: int):
        self.memo[index] = self.stack[-1]

    def _mark(self):
        self.stack.append(_MARK)

    def _pop_mark(self) -> list:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1:]
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
        text = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return text

    def _push_global(self, module: str, name: str):
        allowed = _allowed_global(module, name)
        if allowed is None:
            self.fail(f"refusing the global '{module}.{name}': only PyTorch's tensor "
                      "constructors and plain containers are allowed (never code)")
        self._push(allowed)

    def _reduce(self):
        args, fn = self._pop(), self._pop()
        if not isinstance(fn, _Global) or not isinstance(args, tuple):
            raise TypeError("REDUCE applies an allowed global to a tuple")
        self._push(self._call(fn, args))

    def _call(self, fn: _Global, args: tuple):
        if fn.role == "ordered_dict" and not args:
            return {}
        if fn.role == "size" and len(args) == 1 and isinstance(args[0], tuple):
            return tuple(int(s) for s in args[0])
        if fn.role == "_rebuild_tensor_v2" and len(args) in (6, 7):
            storage, offset, size, stride, requires_grad = args[:5]
            return self.storage.tensor(storage, offset, size, stride, bool(requires_grad))
        if fn.role == "_rebuild_parameter" and len(args) == 3 and isinstance(args[0], Tensor):
            args[0].requires_grad = bool(args[1])
            return args[0]
        raise TypeError(f"unexpected arguments for {fn.role}")

    def _build(self):
        state = self._pop()
        target = self.stack[-1]
        # OrderedDict state (a state dict's ``_metadata``) carries no tensors: it is dropped
        if not (isinstance(target, dict) and isinstance(state, dict)):
            self.fail(f"BUILD on a {type(target).__name__} is not allowed")

    def _persistent(self):
        pid = self._pop()
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _Global) and pid[1].role == "storage"):
            self.fail(f"unknown persistent id {pid!r}: only typed storages are allowed")
        _, kind, key, _location, numel = pid
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"bad storage reference {pid!r}")
        self._push(_Storage(kind.arg, key, numel))


def _key(key):
    if isinstance(key, (str, int, float, bool, tuple)) or key is None:
        return key
    raise TypeError(f"a dict key of type {type(key).__name__}")


def _opname(op: int) -> str:
    known = pickletools.code2op.get(chr(op))
    return known.name if known else "unknown"


# ---------------------------------------------------------------------- the archive
class _Archive:
    """The storages of one ``torch.save`` zip file, read lazily and checked."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, where: str):
        self.zf, self.prefix, self.where = zf, prefix, where
        self.little = self._byteorder()
        self.cache = {}

    def _byteorder(self) -> bool:
        name = self.prefix + "byteorder"
        if name not in self.zf.NameToInfo:
            return True
        order = self.zf.read(name).decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise CheckpointError(f"cannot load {self.where}: unknown byte order {order!r}")
        return order == "little"

    def _dtype(self, code: str):
        base = "u2" if code == "bf16" else code
        dtype = _xp.dtype(base)
        return dtype.newbyteorder("<" if self.little else ">") if dtype.itemsize > 1 else dtype

    def base(self, storage: _Storage):
        """The storage's elements as a flat array (read once per storage key)."""
        if storage.key in self.cache:
            return self.cache[storage.key]
        name = f"{self.prefix}data/{storage.key}"
        info = self.zf.NameToInfo.get(name)
        dtype = self._dtype(storage.code)
        expected = storage.numel * dtype.itemsize
        if info is None:
            raise CheckpointError(f"cannot load {self.where}: storage '{storage.key}' is missing "
                                  "from the archive (truncated or damaged file)")
        if info.file_size != expected:
            raise CheckpointError(
                f"cannot load {self.where}: storage '{storage.key}' holds {info.file_size} bytes, "
                f"its {storage.numel} elements need {expected}"
            )
        flat = _xp.frombuffer(_read(self.zf, name, self.where), dtype=dtype)
        flat = flat.astype(_xp.dtype(dtype.str[1:]), copy=False)  # native byte order
        if storage.code == "bf16":  # bfloat16 is the top half of a float32
            flat = (flat.astype(_xp.uint32) << 16).view(_xp.float32)
        self.cache[storage.key] = flat
        return flat

    def tensor(self, storage, offset, size, stride, requires_grad: bool) -> Tensor:
        if not isinstance(storage, _Storage):
            raise TypeError("_rebuild_tensor_v2 without a storage")
        size, stride = _ints(size, "size"), _ints(stride, "stride")
        if not isinstance(offset, int) or offset < 0 or len(size) != len(stride):
            raise ValueError(f"bad tensor layout: offset {offset!r}, size {size}, stride {stride}")
        if any(s < 0 for s in size + stride):
            raise ValueError(f"negative size or stride: size {size}, stride {stride}")
        flat = self.base(storage)
        if 0 in size:
            array = _xp.zeros(size, dtype=flat.dtype)
        else:
            last = offset + sum((n - 1) * st for n, st in zip(size, stride))
            if last >= flat.size:
                raise CheckpointError(
                    f"cannot load {self.where}: a tensor of size {size}, stride {stride} and "
                    f"offset {offset} reaches element {last} of a storage of {flat.size}"
                )
            item = flat.dtype.itemsize
            view = _xp.lib.stride_tricks.as_strided(
                flat[offset:], shape=size, strides=tuple(st * item for st in stride),
                writeable=False)
            array = view.copy()
        t = Tensor._wrap(array)
        t.requires_grad = requires_grad and array.dtype.kind in "fc"
        return t


def _ints(values, what: str) -> tuple:
    if not isinstance(values, tuple) or not all(isinstance(v, int) for v in values):
        raise TypeError(f"tensor {what} must be a tuple of ints, got {values!r}")
    return values


def _read(zf: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot load {where}: entry '{name}' is damaged ({e})") from None


def _open(path: str, where: str) -> zipfile.ZipFile:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"cannot load {where}: this is PyTorch's legacy (pre-1.6) format, a bare pickle; "
            "re-save it with a recent torch.save, or convert it to safetensors"
        )
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(
            f"cannot load {where}: not a PyTorch zip archive, or a truncated one ({e})"
        ) from None


def _pickle_entry(zf: zipfile.ZipFile, where: str) -> str:
    names = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(names) != 1:
        raise CheckpointError(f"cannot load {where}: expected one '<name>/data.pkl' in the "
                              f"archive, found {len(names)} (not a torch.save file?)")
    return names[0]


def load_pytorch_checkpoint(path, map_location=None):
    """Load a file written by ``torch.save`` (a state dict or a checkpoint) without pickle.

    Tensors come back as soma Tensors with their dtypes (bfloat16 is widened to float32, which
    NumPy lacks); dicts, lists, tuples, numbers and strings as themselves. Nothing in the file
    is executed: anything but tensors and plain data is refused. ``map_location`` is accepted
    for PyTorch compatibility (everything loads to the CPU).

    Args:
        path: a ``.pt``/``.pth`` file from ``torch.save`` (PyTorch ≥ 1.6 zip format).

    Returns:
        The saved object, e.g. a dict mapping parameter names to Tensors, ready for
        ``model.load_state_dict``.

    Raises:
        UnsafeCheckpointError: the pickle names a function or opcode other than PyTorch's
            tensor constructors (the file may be malicious).
        CheckpointError: a truncated, damaged or legacy-format file.

    Example:
        >>> import soma  # doctest: +SKIP
        >>> model.load_state_dict(soma.io.load_pytorch_checkpoint("resnet18.pth"))  # doctest: +SKIP
    """
    path = os.fspath(path)
    where = f"'{path}'"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_pytorch_checkpoint: no such file: {where}")
    with _open(path, where) as zf:
        entry = _pickle_entry(zf, where)
        prefix = entry[: -len("data.pkl")]
        data = _read(zf, entry, where)
        return _Machine(data, where, _Archive(zf, prefix, where)).run()
