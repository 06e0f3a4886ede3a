"""What lets PyTorch programs run unchanged on soma.

* ``install_as_torch()`` / ``soma run SCRIPT.py``: ``import torch`` and every ``torch.*``
  submodule resolve to soma (``importer.py``, ``runner.py``);
* the namespaces programs touch before their first layer: ``accelerator``, ``backends``,
  ``cuda``, ``amp``, ``serialization`` (reached as ``soma.cuda``, ``torch.backends``, …);
* PyTorch's typed tensor constructors (``FloatTensor``, ``LongTensor``, …).
"""

from soma.compat import accelerator, amp, backends, cuda, serialization
from soma.compat.importer import NotInSoma, install_as_torch, is_installed, uninstall_torch
from soma.compat.tensor_types import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)

__all__ = [
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "HalfTensor",
    "IntTensor",
    "LongTensor",
    "NotInSoma",
    "ShortTensor",
    "accelerator",
    "amp",
    "backends",
    "cuda",
    "install_as_torch",
    "is_installed",
    "serialization",
    "uninstall_torch",
]
