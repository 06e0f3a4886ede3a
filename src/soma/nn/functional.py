"""``soma.nn.functional`` (PyTorch's ``torch.nn.functional``): every op as a function.

This module re-exports ``soma.functional``, where each op's forward and backward live.
"""

from soma.functional import *  # noqa: F401,F403
from soma.functional import __dict__ as _all_ops

__all__ = sorted(
    name for name in _all_ops if not name.startswith("_") and callable(_all_ops[name])
)
