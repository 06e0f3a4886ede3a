"""``Module``: the base class of every layer and model.

A module registers its ``Parameter``s, buffers and sub-modules when they are assigned as
attributes, so ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``to()`` reach the
whole tree. Calling a module runs its hooks and ``forward``; when a layer fails, the error names
the layer's path in the model (``while running layer 'features.3' (Conv2d)``).
"""

import copy
import itertools
import threading
from collections import OrderedDict, namedtuple

from soma.autograd import anomaly as _anomaly
from soma.autograd import grad_mode as _grad_mode
from soma.autograd import memory_format as _formats
from soma.autograd.errors import as_pytorch_error
from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import dtypes, get_xp
from soma.backend.device import check_available
from soma.nn import _backward_hooks
from soma.nn.parameter import Buffer, Parameter

_xp = get_xp()
_calls = threading.local()

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _to_array(value):
    """The array inside a state-dict value: a soma Tensor, a NumPy array or a torch tensor."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach") and hasattr(
        value, "numpy"
    ):  # a torch.Tensor, without importing torch
        return _xp.asarray(value.detach().cpu().numpy())
    return _xp.asarray(value)


class _HookHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


_hook_ids = itertools.count()


def indented(text: str, spaces: int = 2) -> str:
    """``text`` with every line after the first indented by ``spaces``."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


class Module:
    """Base class for layers and models; subclasses define ``__init__`` and ``forward``.

    Example:
        >>> import soma
        >>> class Net(soma.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = soma.nn.Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.fc(x)
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """

    def __init__(self, *args, **kwargs):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        registries = self.__dict__.get("_parameters")
        if registries is None and isinstance(value, (Parameter, Module, Buffer)):
            raise AttributeError(
                f"cannot assign {type(value).__name__} '{name}' before Module.__init__() call; "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        if registries is not None:
            params, buffers, modules = self._parameters, self._buffers, self._modules
            # NOTE: a name re-assigned in its own registry keeps its slot (dict order), as in
            # PyTorch: children(), state_dict() and Sequential slicing depend on that order
            if isinstance(value, Parameter):
                self._forget(name, keep=params)
                params[name] = value
            elif isinstance(value, Module):
                self._forget(name, keep=modules)
                modules[name] = value
            elif isinstance(value, Buffer):
                self._forget(name, keep=buffers)
                buffers[name] = value
                if not value.persistent:
                    self._non_persistent.add(name)
            elif name in params:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as parameter '{name}' of "
                        f"{type(self).__name__} (soma.nn.Parameter or None expected)"
                    )
                params[name] = None
            elif name in buffers:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as buffer '{name}' (Tensor or None expected)"
                    )
                buffers[name] = value
            elif name in modules:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as child module '{name}'"
                    )
                modules[name] = None
        object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def __delattr__(self, name):
        if "_parameters" in self.__dict__:
            self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (or ``None``, a placeholder such as a disabled bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}"
            )
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add state that is saved in the ``state_dict`` (unless not persistent) but not trained."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}"
            )
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule '{part}' (in '{target}')"
                )
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        return self.get_submodule(path)._parameters[name]

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        depth = getattr(_calls, "depth", 0)
        _calls.depth = depth + 1
        try:
            hooks = self._forward_pre_hooks
            if hooks:
                for hook in tuple(hooks.values()):
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            hook_state = None
            if self.__dict__.get("_backward_hooks"):
                args, hook_state = _backward_hooks.wrap_inputs(self, args)
            if _grad_mode.anomaly_mode:  # anomaly detection names the module of each op
                _anomaly.push_module(self)
                try:
                    out = self.forward(*args, **kwargs)
                finally:
                    _anomaly.pop_module()
            else:
                out = self.forward(*args, **kwargs)
            if hook_state is not None:
                out = _backward_hooks.attach(hook_state, out)
            hooks = self._forward_hooks
            if hooks:
                for hook in tuple(hooks.values()):
                    result = hook(self, args, out)
                    if result is not None:
                        out = result
            return out
        except Exception as error:
            if not hasattr(error, "_soma_layer"):
                try:
                    error._soma_layer = self
                except AttributeError:
                    pass
            if depth == 0:
                _name_failing_layer(self, error)
                converted = as_pytorch_error(error)  # PyTorch code catches RuntimeError
                if converted is not error:
                    raise converted from None
            raise
        finally:
            _calls.depth = depth

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after ``forward``; it may return a new output."""
        key = next(_hook_ids)
        self._forward_hooks[key] = hook
        return _HookHandle(self._forward_hooks, key)

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` runs before ``forward``; it may return new inputs."""
        key = next(_hook_ids)
        self._forward_pre_hooks[key] = hook
        return _HookHandle(self._forward_pre_hooks, key)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to this
        module's tensor inputs are computed; it may return a new grad_input (tuple)."""
        return _backward_hooks.register(self, hook, pre=False)

    def register_full_backward_pre_hook(self, hook):
        """``hook(module, grad_output)`` before the gradients of this module's inputs are
        computed; it may return a new grad_output (tuple)."""
        return _backward_hooks.register(self, hook, pre=True)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Every module in the tree (this one first) with its dotted path."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(
                    memo, f"{prefix}.{name}" if prefix else name, remove_duplicate
                )

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs; a parameter shared by two layers appears once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on this one."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True):
        """Training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.array = _xp.zeros_like(p.grad.array)

    # ------------------------------------------------------------------ conversion
    def to(self, *args, **kwargs):
        """Move/convert parameters and buffers in place: ``model.to(soma.float64)``, ``.to("cpu")``,
        ``.to(memory_format=soma.channels_last)`` (4-D and 5-D ones laid out channels-last)."""
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        memory_format = kwargs.get("memory_format")
        for a in args:
            if isinstance(a, str) or type(a).__name__ == "Device":
                device = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                dtype = a
        if device is not None:
            check_available(device)
        if dtype is not None:
            dtype = dtypes.to_dtype(dtype)
            self._convert_floats(dtype)
        if memory_format is not None and memory_format is not _formats.preserve_format:
            self._convert_layouts(memory_format)
        return self

    def _convert_layouts(self, memory_format):
        """Lay every 4-D and 5-D parameter and buffer (and its gradient) out in
        ``memory_format``, as PyTorch's ``Module.to(memory_format=...)`` does."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t.array.ndim in (4, 5):
                t.array = _formats.converted(t.array, memory_format, "Module.to")
                if t.grad is not None:
                    t.grad.array = _formats.converted(t.grad.array, memory_format, "Module.to")

    def _convert_floats(self, dtype):
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t.array.dtype.kind == "f":
                t.array = t.array.astype(dtype)
                if t.grad is not None:
                    t.grad.array = t.grad.array.astype(dtype)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_available("cuda")

    def type(self, dst_type):
        return self.to(dst_type)

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Every parameter and persistent buffer by dotted name (tensors share memory)."""
        destination = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into this module's parameters and buffers (in place).

        Values may be soma tensors, NumPy arrays or PyTorch tensors. With ``strict``, missing
        keys, unexpected keys and wrong shapes are all listed in one error.
        """
        for name, module in self.named_modules():  # lazy layers take their shapes first
            if hasattr(module, "_materialize_from_state"):
                module._materialize_from_state(state_dict, name + "." if name else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong_shape = []
        converted = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _to_array(state_dict[key])
            if value.shape != target.array.shape:
                wrong_shape.append(
                    f"{key}: checkpoint has shape {tuple(value.shape)}, model has {tuple(target.array.shape)}"
                )
            else:
                converted[key] = value
        if wrong_shape or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if missing and strict:
                lines.append("  missing keys: " + ", ".join(missing))
            if unexpected and strict:
                lines.append("  unexpected keys: " + ", ".join(unexpected))
            lines += ["  size mismatch for " + w for w in wrong_shape]
            raise RuntimeError("\n".join(lines))
        with no_grad():
            for key, value in converted.items():
                target = own[key]
                if assign:
                    target.array = value.astype(target.array.dtype, copy=True)
                else:
                    target.array[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The constructor arguments shown in ``repr`` (override in layers)."""
        return ""

    def __repr__(self):
        """PyTorch's layout: ``Name(extra)`` for a leaf with one line of ``extra_repr``, else one
        line per extra line and per child, ``(name): child`` indented by two."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [indented(f"({name}): {child!r}") for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(
            set(super().__dir__())
            | set(self._parameters)
            | set(self._modules)
            | set(self._buffers)
        )

    def __getstate__(self):
        raise TypeError("soma modules are not pickled; save model.state_dict() with soma.save")

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: an independent module tree (shared parameters stay shared)."""
        new = object.__new__(type(self))
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            object.__setattr__(new, name, copy.deepcopy(value, memo))
        return new


def _name_failing_layer(root: Module, error: Exception) -> None:
    """Prefix the error message with the path of the innermost layer that raised it."""
    layer = getattr(error, "_soma_layer", None)
    if layer is None or getattr(error, "_soma_named", False):
        return
    path = next((name for name, m in root.named_modules() if m is layer), None)
    where = f"layer '{path}' ({type(layer).__name__})" if path else type(layer).__name__
    if path == "":
        where = type(layer).__name__
    detail = layer.extra_repr()
    where += f" [{detail}]" if detail else ""
    if error.args and isinstance(error.args[0], str):
        error.args = (f"{where}: {error.args[0]}",) + error.args[1:]
    elif hasattr(error, "add_note"):
        error.add_note(f"raised while running {where}")
    error._soma_named = True
