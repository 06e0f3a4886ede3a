"""``torch.serialization``: saving, loading, and the allowlist of classes a file may name.

``save``/``load`` are soma's (safetensors + JSON, never pickle); a whole ``Module`` is stored as
class paths, plain attributes and tensors and rebuilt only from allowed classes
(``soma/io/whole_model.py``).

Example:
    >>> import io, soma
    >>> buf = io.BytesIO(); soma.save(soma.nn.Linear(2, 1), buf)
    >>> type(soma.load(io.BytesIO(buf.getvalue()))).__name__
    'Linear'
"""

from soma.io.serialization import load, save
from soma.io.whole_model import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    get_unsafe_globals_in_checkpoint,
    safe_globals,
)

__all__ = [
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "get_unsafe_globals_in_checkpoint",
    "load",
    "safe_globals",
    "save",
]
