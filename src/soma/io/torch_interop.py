"""Tensors and state dicts to and from PyTorch (imported only when these are called).

soma's modules use PyTorch's parameter names and layouts (``fc.weight`` is ``(out, in)``,
``bn.running_var``, ``bn.num_batches_tracked`` as int64, ``self_attn.in_proj_weight`` …), so a
state dict moves between the frameworks without renaming::

    soma_model.load_state_dict(torch_model.state_dict())        # torch tensors are accepted
    torch_model.load_state_dict(to_torch(soma_model.state_dict()))

``to_torch`` and ``from_torch`` convert single tensors or any nesting of dicts, lists and tuples
(other values pass through), copying the data and keeping dtypes; ``requires_grad`` of leaf
tensors is kept too. PyTorch's ``bfloat16`` has no NumPy counterpart and becomes ``float32``.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def _torch():
    try:
        import torch  # optional dependency: only interop needs PyTorch
    except ImportError:
        raise ImportError(
            "converting to or from PyTorch needs PyTorch installed: pip install torch"
        ) from None
    return torch


def _is_torch_tensor(value) -> bool:
    module = type(value).__module__
    return module.startswith("torch") and hasattr(value, "detach") and hasattr(value, "numpy")


def _map(obj, leaf, convert):
    """Rebuild ``obj`` with every value for which ``leaf`` is true replaced by ``convert``."""
    if leaf(obj):
        return convert(obj)
    if isinstance(obj, dict):
        items = [(k, _map(v, leaf, convert)) for k, v in obj.items()]
        try:
            return type(obj)(items)  # keeps OrderedDict (PyTorch's state dicts)
        except TypeError:
            return dict(items)
    if isinstance(obj, list):
        return [_map(v, leaf, convert) for v in obj]
    if isinstance(obj, tuple):
        values = [_map(v, leaf, convert) for v in obj]
        return type(obj)(*values) if hasattr(obj, "_fields") else tuple(values)
    return obj


def to_torch(obj):
    """A copy of a soma Tensor (or NumPy array, or nested dicts/lists/tuples of them) in PyTorch.

    Args:
        obj: a Tensor, an ndarray, or a container such as ``model.state_dict()``.

    Returns:
        The same structure with ``torch.Tensor`` values of the same dtypes and shapes.

    Example:
        >>> import soma
        >>> to_torch({"w": soma.ones(2, dtype=soma.float64)})["w"].dtype
        torch.float64
    """
    torch = _torch()

    def convert(value):
        array = value.array if isinstance(value, Tensor) else value
        out = torch.from_numpy(_xp.array(array, copy=True, order="C"))
        if isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            out.requires_grad_(True)
        return out

    return _map(obj, lambda v: isinstance(v, (Tensor, _xp.ndarray)), convert)


def from_torch(obj):
    """A copy of a PyTorch tensor (or nested dicts/lists/tuples of them) as soma Tensors.

    Args:
        obj: a ``torch.Tensor`` (on any device) or a container such as ``model.state_dict()``.

    Returns:
        The same structure with soma Tensors of the same dtypes and shapes (``bfloat16``
        becomes ``float32``); a leaf tensor that requires grad still does.

    Example:
        >>> import torch
        >>> from_torch(torch.arange(3)).dtype
        dtype('int64')
    """

    def convert(value):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        out = Tensor._wrap(_xp.array(t.resolve_conj().resolve_neg().numpy(), copy=True))
        if value.requires_grad and value.is_leaf:
            out.requires_grad = True
        return out

    return _map(obj, _is_torch_tensor, convert)
