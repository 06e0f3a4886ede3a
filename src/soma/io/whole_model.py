"""Whole modules in soma files (``torch.save(model, path)``), rebuilt without running file code.

A saved ``Module`` becomes, inside the file's JSON structure::

    {"__module__": "soma.nn.modules.linear.Linear",        # the class, by import path
     "training": true,
     "attrs": {"in_features": 3, "out_features": 2},       # plain attributes
     "parameters": {"weight": {"tensor": "fc.weight", "requires_grad": true}, "bias": null},
     "buffers": {"running_mean": {"tensor": "...", "persistent": true}},
     "modules": {"0": {...}, ...}}

with the tensors in the safetensors body, as for any soma file. Loading looks every class up
on an allowlist and never imports or calls anything the file names: soma's own classes and
functions are allowed; others only when the program passes them with
``soma.serialization.add_safe_globals([Net])`` or ``with safe_globals([Net]):`` (PyTorch's API)
or, with ``weights_only=False``, when they are ``Module`` subclasses the program has already
imported. The object is rebuilt with ``cls.__new__``, ``Module.__init__`` and the recorded
attributes; its own ``__init__`` is not run. PyTorch's class paths
(``torch.nn.modules.linear.Linear``) name soma's classes.
"""

import importlib
import json
import sys
import types

from soma.autograd.tensor import Tensor
from soma.backend.device import Device
from soma.io._torch_pickle import Stub, UnsafeCheckpointError, _Global
from soma.nn.module import Module
from soma.nn.parameter import Parameter

_SAFE = {}  # "module.qualname" -> the class or function the program allowed


def _path(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals) -> None:
    """Allow these classes (or functions) in files loaded with ``weights_only=True``.

    Items may be objects or ``(object, "import.path")`` pairs, as in PyTorch.
    """
    for item in safe_globals:
        obj, name = item if isinstance(item, tuple) else (item, None)
        _SAFE[name or _path(obj)] = obj


def get_safe_globals() -> list:
    """The objects ``add_safe_globals`` allowed (soma's own are always allowed)."""
    return list(_SAFE.values())


def clear_safe_globals() -> None:
    _SAFE.clear()


class safe_globals:  # noqa: N801  (PyTorch's name)
    """``with safe_globals([Net]):`` allows ``Net`` for the loads inside the block only."""

    def __init__(self, safe_globals):
        self._items = list(safe_globals)

    def __enter__(self):
        self._saved = dict(_SAFE)
        add_safe_globals(self._items)
        return self

    def __exit__(self, *exc):
        _SAFE.clear()
        _SAFE.update(self._saved)
        return False


# ---------------------------------------------------------------------- save
_INTERNAL = frozenset(vars(Module()))  # what Module.__init__ creates (registries, hooks)


def encode(module, flat, path: str) -> dict:
    """The JSON form of ``module``; its tensors go to ``flat`` (a serialization._Flattener)."""
    cls = type(module)
    where = f"'{path}' ({cls.__name__})" if path else cls.__name__
    if "<locals>" in cls.__qualname__:
        raise TypeError(
            f"soma.save: cannot save {where}: its class is defined inside a function; define "
            "it at module level so a loader can find it by name"
        )
    join = (lambda k: f"{path}.{k}") if path else str
    state = vars(module)
    for name in _INTERNAL:
        if "hook" in name and state.get(name):
            raise TypeError(
                f"soma.save: cannot save {where}: it has {name} registered (functions are "
                "never saved); remove the hooks first or save its state_dict()"
            )
    registered = set(module._parameters) | set(module._buffers) | set(module._modules)
    attrs = {}
    for name, value in state.items():
        if name in _INTERNAL or name in registered:
            continue
        attrs[name] = _encode_attr(value, flat, join(name), where, name)
    return {
        "__module__": _path(cls),
        "training": bool(module.training),
        "attrs": attrs,
        "parameters": {
            k: None
            if p is None
            else {"tensor": flat.tensor_ref(p, join(k)), "requires_grad": bool(p.requires_grad)}
            for k, p in module._parameters.items()
        },
        "buffers": {
            k: None
            if b is None
            else {
                "tensor": flat.tensor_ref(b, join(k)),
                "persistent": k not in module._non_persistent,
            }
            for k, b in module._buffers.items()
        },
        "modules": {
            k: None if m is None else flat.encode(m, join(k)) for k, m in module._modules.items()
        },
    }


def _encode_attr(value, flat, path, where, name):
    if isinstance(value, Device):
        return {"__device__": str(value)}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        if "<" in value.__qualname__:
            raise TypeError(
                f"soma.save: cannot save {where}: attribute '{name}' is a lambda or local "
                "function; files hold only importable functions and plain data"
            )
        return {"__global__": _path(value)}
    try:
        return flat.encode(value, path)
    except TypeError as error:
        raise TypeError(f"soma.save: cannot save {where}: attribute '{name}': {error}") from None


# ---------------------------------------------------------------------- load
class Rebuilder:
    """Turns the JSON form back into modules, allowing only safe classes."""

    def __init__(self, weights_only: bool, where: str):
        self.weights_only = weights_only
        self.where = where
        self.params = {}  # tensor name -> Parameter, so tied weights stay tied

    def module(self, value, tensors, decode):
        cls = self.lookup(value["__module__"], want_module=True)
        obj = cls.__new__(cls)
        Module.__init__(obj)
        object.__setattr__(obj, "training", value["training"])
        for name, v in value["attrs"].items():
            object.__setattr__(obj, name, self.attr(v, tensors, decode))
        for name, p in value["parameters"].items():
            obj.register_parameter(name, None if p is None else self._parameter(p, tensors))
        for name, b in value["buffers"].items():
            tensor = None if b is None else Tensor._wrap(tensors[b["tensor"]])
            obj.register_buffer(name, tensor, persistent=b is None or b["persistent"])
        for name, m in value["modules"].items():
            obj.add_module(name, None if m is None else decode(m))
        return obj

    def _parameter(self, p, tensors):
        name = p["tensor"]
        if name not in self.params:
            self.params[name] = Parameter(Tensor._wrap(tensors[name]), p["requires_grad"])
        return self.params[name]

    def attr(self, value, tensors, decode):
        if isinstance(value, dict) and "__device__" in value:
            return Device(value["__device__"])
        if isinstance(value, dict) and "__global__" in value:
            return self.lookup(value["__global__"], want_module=False)
        return decode(value)

    def lookup(self, path: str, want_module: bool):
        """The class or function ``path`` names, if it is allowed (never imports user code)."""
        if path in _SAFE:
            return _SAFE[path]
        if path.startswith("torch."):
            path = torch_to_soma_path(path)
        obj = None
        if path.startswith("soma."):
            obj = _walk(path, load=True)
        elif not self.weights_only:
            obj = _walk(path, load=False)
            if obj is not None and not (isinstance(obj, type) and issubclass(obj, Module)):
                obj = None
        if obj is None or (
            want_module and not (isinstance(obj, type) and issubclass(obj, Module))
        ):
            raise UnsafeCheckpointError(
                f"cannot load {self.where}: it names {path}, which is not an allowed global; "
                f"if you trust this file, allow the class with "
                f"soma.serialization.add_safe_globals([{path.rpartition('.')[2]}]) (or "
                "torch.serialization.safe_globals), or load with weights_only=False after "
                "importing it"
            )
        return obj


def _walk(path: str, load: bool):
    """Find ``module.qualname`` among loaded modules (importing only soma's own)."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        module = sys.modules.get(name)
        if module is None and load:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
        if module is None:
            continue
        obj = module
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


_RENAMED_CLASSES = {"NonDynamicallyQuantizableLinear": "Linear"}  # PyTorch-internal subclasses


def torch_to_soma_path(path: str) -> str:
    """soma's path for a PyTorch class or function path (``torch.nn.modules.conv.Conv2d``)."""
    name = path.rpartition(".")[2]
    name = _RENAMED_CLASSES.get(name, name)
    for prefix, home in (
        ("torch.nn.modules.", "soma.nn"),
        ("torch.nn.parallel.", "soma.nn"),
        ("torch.nn.functional.", "soma.nn.functional"),
        ("torch.nn.", "soma.nn"),
        ("torch.", "soma"),
    ):
        if path.startswith(prefix):
            return f"{home}.{name}"
    return path


def get_unsafe_globals_in_checkpoint(f) -> list:
    """The class and function paths in file ``f`` that ``weights_only=True`` would refuse."""
    # lazy: serialization imports this module at its end (the cycle of save/load and modules)
    from soma.io.serialization import FORMAT, _read_header

    if hasattr(f, "read"):
        blob = f.read()
    else:
        with open(f, "rb") as handle:
            blob = handle.read()
    meta = _read_header(blob, "the file").get("__metadata__", {}).get(FORMAT)
    found = []

    def walk(value):
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for key in ("__module__", "__global__"):
                path = value.get(key)
                if isinstance(path, str) and not _allowed_without_asking(path):
                    found.append(path)
            for v in value.values():
                walk(v)

    walk(json.loads(meta)["structure"] if meta else None)
    return sorted(set(found))


def _allowed_without_asking(path: str) -> bool:
    return path in _SAFE or path.startswith(("soma.", "torch."))


# ---------------------------------------------------------------------- PyTorch's own files
def torch_class_resolver(weights_only: bool, where: str):
    """For the no-pickle reader: the allowed class or function a ``torch.save`` global names."""
    rebuilder = Rebuilder(weights_only, where)

    def resolve(module: str, name: str):
        try:
            return rebuilder.lookup(f"{module}.{name}", want_module=False)
        except UnsafeCheckpointError:
            return None

    return resolve


# attributes soma's layers have that PyTorch's pickled state lacks, with their defaults
_SOMA_ONLY_DEFAULTS = {"generator": None}


def rebuild_torch_objects(value, memo=None):
    """Turn the reader's stand-ins (``Stub`` modules, allowed globals) into soma objects."""
    memo = {} if memo is None else memo
    if id(value) in memo:
        return memo[id(value)]
    if isinstance(value, _Global):
        return value.arg
    if isinstance(value, list):
        return [rebuild_torch_objects(v, memo) for v in value]
    if isinstance(value, tuple):
        return tuple(rebuild_torch_objects(v, memo) for v in value)
    if isinstance(value, dict):
        return {k: rebuild_torch_objects(v, memo) for k, v in value.items()}
    if not isinstance(value, Stub):
        return value
    cls = value.cls
    if not issubclass(cls, Module):
        raise UnsafeCheckpointError(f"{cls.__qualname__} is not a Module; only modules rebuild")
    obj = cls.__new__(cls)
    memo[id(value)] = obj
    Module.__init__(obj)
    state = value.state or {}
    object.__setattr__(obj, "training", bool(state.get("training", True)))
    for name, v in state.items():
        if not name.startswith("_") and name != "training":
            object.__setattr__(obj, name, rebuild_torch_objects(v, memo))
    for name, p in state.get("_parameters", {}).items():
        param = None if p is None else memo.get(id(p))
        if p is not None and param is None:
            param = memo[id(p)] = Parameter(p, p.requires_grad)
        obj.register_parameter(name, param)
    hidden = state.get("_non_persistent_buffers_set", set())
    for name, b in state.get("_buffers", {}).items():
        obj.register_buffer(name, b, persistent=name not in hidden)
    for name, m in state.get("_modules", {}).items():
        obj.add_module(name, None if m is None else rebuild_torch_objects(m, memo))
    for name, default in _SOMA_ONLY_DEFAULTS.items():
        if name not in vars(obj) and hasattr(cls, "__init__") and name in _init_names(cls):
            object.__setattr__(obj, name, default)
    return obj


def _init_names(cls) -> tuple:
    code = getattr(cls.__init__, "__code__", None)
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if code else ()
