"""The ``torch`` import hook: every ``import torch…`` in a program resolves to soma.

``install_as_torch()`` puts a finder at the front of ``sys.meta_path``. From then on ``torch``
and every ``torch.X.Y`` a program imports is an *alias* of the soma object of the same path
(``torch.nn.functional`` → ``soma.nn.functional``), or of the compat namespace standing in for
it (``torch.cuda`` → ``soma.compat.cuda``), whether or not PyTorch is installed. An alias
forwards attribute reads and writes to its soma target; a name soma lacks raises
``AttributeError("soma does not implement torch.xxx yet")`` (a missing submodule raises
``ModuleNotFoundError`` with the same words), so nothing ever falls through to the real PyTorch.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types

from soma.autograd.size import set_display_name

# torch paths whose soma twin lives under another path; everything else maps by name
# (``torch.a.b`` → ``soma.a.b``, as a submodule or an attribute of ``soma.a``).
_RENAMED = {
    "torch.utils.data": "soma.data",
    "torch.nn.modules.module": "soma.nn.module",
    "torch.nn.modules.container": "soma.nn.modules.container",
    "torch.nn.parallel": "soma.nn.parallel",
    "torch.accelerator": "soma.compat.accelerator",
    "torch.backends": "soma.compat.backends",
    "torch.cuda": "soma.compat.cuda",
    "torch.serialization": "soma.compat.serialization",
    "torch.amp": "soma.compat.amp",
    "torch.version": "soma.compat.version",
    "torch.cuda.amp": "soma.compat.amp",
}


class NotInSoma(AttributeError):
    """A name PyTorch has and soma does not (raised through the ``torch`` aliases)."""


def _missing(torch_name: str) -> str:
    return f"soma does not implement {torch_name} yet"


class TorchAlias(types.ModuleType):
    """The module a program sees as ``torch…``: reads and writes go to the soma target."""

    def __init__(self, torch_name: str, target):
        super().__init__(torch_name)
        self.__dict__["_soma_target"] = target
        self.__dict__["__path__"] = []  # a package, so ``import torch.a.b`` reaches the finder
        if getattr(target, "__doc__", None):
            self.__dict__["__doc__"] = target.__doc__

    def __getattr__(self, name):
        target = self.__dict__["_soma_target"]
        torch_name = f"{self.__name__}.{name}"
        if torch_name in _RENAMED:
            return _alias(torch_name)
        try:
            value = getattr(target, name)
        except AttributeError:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name) from None
            try:  # a soma submodule not imported yet (``torch.testing`` → ``soma.testing``)
                value = _alias(torch_name)
            except ImportError:
                raise NotInSoma(_missing(torch_name)) from None
            self.__dict__[name] = value
            return value
        if isinstance(value, types.ModuleType):
            alias = _alias(torch_name, value)
            self.__dict__[name] = alias
            return alias
        return value

    def __setattr__(self, name, value):
        if name.startswith("__") and name.endswith("__") or isinstance(value, TorchAlias):
            # the import system sets __spec__, __loader__, … and binds imported submodules
            self.__dict__[name] = value
        else:
            setattr(self.__dict__["_soma_target"], name, value)

    def __dir__(self):
        return sorted(set(dir(self.__dict__["_soma_target"])) | set(self.__dict__))

    def __repr__(self):
        target = self.__dict__["_soma_target"]
        shown = getattr(target, "__name__", type(target).__name__)
        return f"<module '{self.__name__}' (soma: {shown})>"


def _resolve(torch_name: str):
    """The soma object standing for ``torch_name`` (a module or a namespace object)."""
    if torch_name in _RENAMED:
        return importlib.import_module(_RENAMED[torch_name])
    if torch_name == "torch":
        return importlib.import_module("soma")
    parent_name, _, last = torch_name.rpartition(".")
    parent = _alias(parent_name).__dict__["_soma_target"]
    value = getattr(parent, last, None)
    if isinstance(value, types.ModuleType) or getattr(value, "_is_namespace", False):
        return value
    soma_parent = getattr(parent, "__name__", None)
    if isinstance(parent, types.ModuleType) and soma_parent:
        try:
            return importlib.import_module(f"{soma_parent}.{last}")
        except ModuleNotFoundError as error:
            if error.name != f"{soma_parent}.{last}":
                raise
    # NOTE: no ``name=``: ``from torch import xxx`` would then swallow this message and raise
    # Python's generic "cannot import name" instead
    raise ModuleNotFoundError(_missing(torch_name))


def _alias(torch_name: str, target=None) -> TorchAlias:
    """The one alias module for ``torch_name`` (created and registered on first use)."""
    module = sys.modules.get(torch_name)
    if isinstance(module, TorchAlias):
        return module
    if module is not None:
        raise ImportError(
            f"{torch_name} is already imported from PyTorch; soma can stand in for torch only "
            "if install_as_torch() runs before the first 'import torch'"
        )
    spec = importlib.util.spec_from_loader(torch_name, _LOADER, is_package=True)
    if target is None:
        module = importlib.util.module_from_spec(spec)
    else:
        module = TorchAlias(torch_name, target)
        module.__spec__, module.__loader__ = spec, _LOADER
    sys.modules[torch_name] = module
    return module


class _TorchLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return TorchAlias(spec.name, _resolve(spec.name))

    def exec_module(self, module):
        pass


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Claims ``torch`` and every ``torch.*`` before any other finder can."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        return importlib.util.spec_from_loader(fullname, _LOADER, is_package=True)


_LOADER = _TorchLoader()
_FINDER = _TorchFinder()


def install_as_torch() -> None:
    """Make ``import torch`` (and every ``torch.*`` submodule) give soma, from now on.

    Call it before the program's first ``import torch`` (in a notebook: in the first cell).
    PyTorch need not be installed; if it is, it is never reached.

    Raises:
        ImportError: PyTorch itself was already imported in this process.

    Example:
        >>> import soma
        >>> soma.install_as_torch()          # doctest: +SKIP
        >>> import torch.nn as nn            # doctest: +SKIP
        >>> nn.Linear is soma.nn.Linear      # doctest: +SKIP
        True
    """
    present = sys.modules.get("torch")
    if present is not None and not isinstance(present, TorchAlias):
        raise ImportError(
            "PyTorch is already imported in this process; call soma.install_as_torch() before "
            "the first 'import torch' (or run the script with `soma run SCRIPT.py`)"
        )
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    importlib.import_module("torch")
    set_display_name("torch")  # reprs print torch.Size(...), dtype=torch.float64 as PyTorch's


def uninstall_torch() -> None:
    """Undo ``install_as_torch``: remove the finder and every ``torch`` alias."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name in [n for n, m in sys.modules.items() if isinstance(m, TorchAlias)]:
        del sys.modules[name]
    set_display_name("soma")


def is_installed() -> bool:
    """True while ``import torch`` resolves to soma."""
    return _FINDER in sys.meta_path
