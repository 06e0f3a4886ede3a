"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``."""

from collections import OrderedDict

from soma.autograd.size import display_name
from soma.nn.module import Module, indented
from soma.nn.parameter import Parameter


class Sequential(Module):
    """Modules applied one after another; ``Sequential(OrderedDict(...))`` names them.

    Example:
        >>> import soma
        >>> net = Sequential(soma.nn.Linear(4, 8), soma.nn.ReLU(), soma.nn.Linear(8, 1))
        >>> tuple(net(soma.zeros(2, 4)).shape), len(net)
        ((2, 1), 3)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(modules[index]))
        return modules[index][1]

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        self.add_module(name, module)

    def __delitem__(self, index):
        names = list(self._modules)
        for name in names[index] if isinstance(index, slice) else [names[index]]:
            delattr(self, name)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (it has no ``forward``)."""

    def __repr__(self):
        """As PyTorch: runs of modules that print alike as one line, ``(0-5): 6 x Layer(...)``."""
        reprs = [repr(m) for m in self._modules.values()]
        if not reprs:
            return "ModuleList()"
        runs = []  # [first index, last index, repr]
        for i, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = [
            indented(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}")
            for a, b, text in runs
        ]
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __setitem__(self, index, module):
        self.add_module(list(self._modules)[index], module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        self.extend(modules)

    def __iadd__(self, modules):
        return self.extend(modules)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered (insertion order kept)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self.add_module(key, module)

    def pop(self, key):
        module = self._modules[key]
        delattr(self, key)
        return module


class ParameterList(Module):
    """A list of parameters, registered as ``0``, ``1``, …"""

    def __init__(self, values=None):
        super().__init__()
        for v in values or []:
            self.append(v)

    def append(self, value):
        value = value if isinstance(value, Parameter) else Parameter(value)
        self.register_parameter(str(len(self._parameters)), value)
        return self

    def __getitem__(self, index):
        return list(self._parameters.values())[index]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(list(self._parameters.values()))

    def extra_repr(self):
        return "\n".join(
            f"  ({k}): Parameter containing: [{display_name()}.{p.dtype} of size "
            f"{'x'.join(str(n) for n in p.shape)}]"
            for k, p in enumerate(self._parameters.values())
        )


# ``Tensor.type()``'s names, which ParameterDict prints
_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


class ParameterDict(Module):
    """A dict of parameters."""

    def __init__(self, values=None):
        super().__init__()
        for k, v in (values or {}).items():
            self[k] = v

    def __setitem__(self, key, value):
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __getitem__(self, key):
        return self._parameters[key]

    def __contains__(self, key):
        return key in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def extra_repr(self):
        return "\n".join(
            f"  ({k}): Parameter containing: [{display_name()}.{_TYPE_NAMES.get(str(p.dtype), p.dtype)}"
            f" of size {'x'.join(str(n) for n in p.shape)}]"
            for k, p in self._parameters.items()
        )
