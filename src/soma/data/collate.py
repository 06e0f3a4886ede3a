"""Collation: turning a list of samples into one batch of soma Tensors, with PyTorch's rules.

* arrays and Tensors are stacked along a new first axis, keeping their dtype (float64 NumPy
  arrays stay float64);
* Python floats become a float64 tensor, ints int64, bools bool; NumPy scalars keep their dtype;
* strings and bytes stay a list;
* tuples and lists are collated field by field and returned as a list (a namedtuple stays that
  namedtuple), mappings key by key into the same mapping type.
"""

import collections.abc
import copy
import numbers

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()

_STRING_KINDS = "SUaO"  # dtype kinds that cannot become a tensor (strings, objects)


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _rebuild(template, values: list):
    """A sequence of ``template``'s type holding ``values`` (PyTorch returns tuples as lists)."""
    if _is_namedtuple(template):
        return type(template)(*values)
    if isinstance(template, tuple):
        return values
    try:
        return type(template)(values)
    except TypeError:
        return values


def _rebuild_mapping(template, values: dict):
    if isinstance(template, collections.abc.MutableMapping):
        clone = copy.copy(template)
        clone.update(values)
        return clone
    try:
        return type(template)(values)
    except TypeError:
        return values


def _stack(arrays, what: str):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(
            f"default_collate: every sample's {what} must have the same shape to be stacked, "
            f"got shapes {sorted(shapes)}"
        )
    return Tensor._wrap(_xp.stack(arrays))


def _collate_leaves(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t.array for t in batch], "tensor")
    if isinstance(elem, _xp.ndarray):
        if elem.dtype.kind in _STRING_KINDS:
            raise TypeError(f"default_collate: cannot batch arrays of dtype {elem.dtype}")
        return _stack(batch, "array")
    if isinstance(elem, (_xp.bool_, _xp.number)):
        return Tensor._wrap(_xp.asarray(batch))
    if isinstance(elem, float):
        return Tensor._wrap(_xp.asarray(batch, dtype=_xp.float64))
    if isinstance(elem, bool):
        return Tensor._wrap(_xp.asarray(batch, dtype=_xp.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._wrap(_xp.asarray(batch, dtype=_xp.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    return None


def default_collate(batch: list):
    """Merge a list of samples into a batch (see the module docstring for the rules).

    Example:
        >>> import soma
        >>> x, y = default_collate([(soma.tensor([1.0, 2.0]), 0), (soma.tensor([3.0, 4.0]), 1)])
        >>> x.shape, y
        (soma.Size([2, 2]), tensor([0, 1]))
        >>> default_collate([{"v": 0.5}, {"v": 1.5}])["v"].dtype
        dtype('float64')
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    leaf = _collate_leaves(batch)
    if leaf is not None:
        return leaf
    elem = batch[0]
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError(
                "default_collate: each element in the batch should be of equal size"
            )
        return _rebuild(elem, [default_collate(list(field)) for field in zip(*batch)])
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


def default_convert(data):
    """Arrays (and NumPy scalars) inside ``data`` become Tensors; structure and the rest stay.

    This is what a loader applies when automatic batching is off (``batch_size=None``).

    Example:
        >>> import numpy as np
        >>> default_convert({"x": np.zeros(2), "name": "a"})
        {'x': tensor([0., 0.], dtype=soma.float64), 'name': 'a'}
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (_xp.ndarray, _xp.bool_, _xp.number)):
        if getattr(data, "dtype", None) is not None and data.dtype.kind in _STRING_KINDS:
            return data
        return Tensor._wrap(_xp.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(v) for v in data])
    return data
