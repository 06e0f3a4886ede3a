"""``soma.nn.functional`` (PyTorch's ``torch.nn.functional``): every op as a function.

This module re-exports ``soma.functional``, where each op's forward and backward live.
"""

from soma.functional import *  # noqa: F401,F403
from soma.functional import __dict__ as _all_ops

__all__ = sorted(
    name for name in _all_ops if not name.startswith("_") and callable(_all_ops[name])
)

# PyTorch's keyword names (``F.linear(input=x, weight=w)``, ``axis=``/``keepdims=``): see
# soma/autograd/keywords.py. nn.functional's functions take no ``out=``, as in PyTorch.
from soma.autograd.keywords import adapt_namespace as _adapt_namespace  # noqa: E402

_adapt_namespace(globals(), out_names=())
