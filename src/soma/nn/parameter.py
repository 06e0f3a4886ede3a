"""``Parameter`` (a tensor a module trains) and ``Buffer`` (state a module keeps but does not train)."""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def _array_of(data):
    if data is None:
        return _xp.empty((0,), dtype=_xp.float32)
    if isinstance(data, Tensor):
        return data.array
    return _xp.asarray(data)


class Parameter(Tensor):
    """A tensor that is a trainable weight: assigning it to a Module attribute registers it.

    It shares memory with the tensor it is made from and requires grad by default.

    Example:
        >>> import soma
        >>> w = Parameter(soma.zeros(2, 3))
        >>> w.requires_grad, tuple(w.shape)
        (True, (2, 3))
    """

    def __init__(self, data=None, requires_grad=True):
        self.array = _array_of(data)
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx = None
        self._output_index = 0
        self._hooks = None
        self._vc = None
        self._base = None

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """A tensor a module keeps in its ``state_dict`` without training it (e.g. running means).

    Assigning a ``Buffer`` to a Module attribute registers it, like ``register_buffer``.
    """

    def __init__(self, data, persistent=True):
        self.array = _array_of(data)
        self.grad = None
        self.requires_grad = False
        self._ctx = None
        self._output_index = 0
        self._hooks = None
        self._vc = None
        self._base = None
        self.persistent = persistent
