"""The pickle inside a ``torch.save`` file, read with soma's restricted unpickler.

``pickle.load`` calls whatever function a pickle names, so loading a downloaded checkpoint
would run the downloader's code. ``soma._safe_pickle.SafeUnpickler`` executes the opcodes
itself and builds only plain data; ``Machine`` adds the handful of globals PyTorch uses for
tensors (``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter``, the typed
storage classes such as ``torch.FloatStorage``, ``collections.OrderedDict``, ``torch.Size``),
each played by soma's own code, never imported. Any other global or opcode raises
``UnsafeCheckpointError`` naming it and its byte offset.
"""

from soma._safe_pickle import SafeUnpickler
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


class Machine(SafeUnpickler):
    """Runs the allowed pickle opcodes over ``data``; ``run()`` returns the object.

    ``storage.tensor(storage, offset, size, stride, requires_grad)`` builds each tensor.
    """

    max_protocol = 5
    unsafe_error = UnsafeCheckpointError
    malformed_error = CheckpointError

    def __init__(self, data: bytes, where: str, storage, classes=None):
        super().__init__(data, where)
        self.storage = storage
        # ``classes(module, name)``: the allowed class or function a global names, or None
        self.classes = classes
        self.ops[0x81] = self._newobj  # NEWOBJ: a whole module (torch.save(model))
        self.ops[0x8F] = lambda: self._push(set())  # EMPTY_SET
        self.ops[0x90] = self._additems  # ADDITEMS

    def message(self, reason: str) -> str:
        return f"cannot load {self.where}: byte {self.pos} of data.pkl: {reason}"

    def find_global(self, module, name):
        allowed = _allowed_global(module, name)
        if allowed is None and self.classes is not None:
            found = self.classes(module, name)
            allowed = None if found is None else _Global("object", found)
        return allowed

    def allowed_globals(self) -> str:
        return "only PyTorch's tensor constructors and plain containers are allowed (never code)"

    def call(self, fn, args):
        if not isinstance(fn, _Global):
            raise TypeError("REDUCE applies an allowed global to a tuple")
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
        args, cls = self.stack.pop(), self.stack.pop()
        if not (isinstance(cls, _Global) and cls.role == "object" and isinstance(cls.arg, type)):
            self.refuse("NEWOBJ on something other than an allowed class")
        if args != ():
            raise TypeError("NEWOBJ with arguments")
        self._push(Stub(cls.arg))

    def _additems(self):
        items = self._pop_mark()
        self._container(set, "ADDITEMS").update(items)

    def build(self, target, state):
        if isinstance(target, Stub) and isinstance(state, dict) and target.state is None:
            target.state = state
            return
        # OrderedDict state (a state dict's ``_metadata``) carries no tensors: it is dropped
        if not (isinstance(target, dict) and isinstance(state, dict)):
            self.refuse(f"BUILD on a {type(target).__name__} is not allowed")

    def persistent_load(self, pid):
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _Global)
            and pid[1].role == "storage"
        ):
            self.refuse(f"unknown persistent id {pid!r}: only typed storages are allowed")
        _, kind, key, _location, numel = pid
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"bad storage reference {pid!r}")
        return Storage(kind.arg, key, numel)
