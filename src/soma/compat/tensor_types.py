"""PyTorch's typed tensor constructors: ``FloatTensor``, ``LongTensor``, ``BoolTensor``, …

Each is a constructor with ``torch.Tensor``'s two meanings — sizes (``FloatTensor(3, 4)``, an
uninitialised tensor, here zeros) or data (``LongTensor([1, 2])``) — and a type that
``isinstance`` checks by dtype (``isinstance(x, torch.FloatTensor)`` is True for any float32
tensor), as in PyTorch.

Example:
    >>> import soma
    >>> soma.LongTensor([1, 2]).dtype, tuple(soma.FloatTensor(2, 3).shape)
    (dtype('int64'), (2, 3))
    >>> isinstance(soma.zeros(2), soma.FloatTensor)
    True
"""

from soma.autograd.tensor import Tensor
from soma.backend import dtypes


class _TensorType(type):
    """Metaclass: calling the class builds a soma Tensor; isinstance compares the dtype."""

    def __call__(cls, *args, device=None):
        return Tensor(*args, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


def _tensor_type(name, dtype):
    return _TensorType(
        name,
        (),
        {
            "dtype": dtype,
            "__module__": "torch",
            "__doc__": (
                f"``{name}(*sizes)`` or ``{name}(data)``: a {dtype} tensor (PyTorch's typed constructor)."
            ),
        },
    )


FloatTensor = _tensor_type("FloatTensor", dtypes.float32)
DoubleTensor = _tensor_type("DoubleTensor", dtypes.float64)
HalfTensor = _tensor_type("HalfTensor", dtypes.float16)
LongTensor = _tensor_type("LongTensor", dtypes.int64)
IntTensor = _tensor_type("IntTensor", dtypes.int32)
ShortTensor = _tensor_type("ShortTensor", dtypes.int16)
CharTensor = _tensor_type("CharTensor", dtypes.int8)
ByteTensor = _tensor_type("ByteTensor", dtypes.uint8)
BoolTensor = _tensor_type("BoolTensor", dtypes.bool_)

TYPES = (
    FloatTensor,
    DoubleTensor,
    HalfTensor,
    LongTensor,
    IntTensor,
    ShortTensor,
    CharTensor,
    ByteTensor,
    BoolTensor,
)


def type_name(dtype) -> str:
    """PyTorch's name of the tensor type of ``dtype``: ``"torch.FloatTensor"``."""
    for t in TYPES:
        if t.dtype == dtype:
            return f"torch.{t.__name__}"
    return f"torch.{dtype}"


def dtype_of(name):
    """The dtype of a tensor type given by class or name (``"torch.LongTensor"``), or None."""
    if isinstance(name, _TensorType):
        return name.dtype
    if isinstance(name, str):
        short = name.rpartition(".")[2]
        for t in TYPES:
            if t.__name__ == short:
                return t.dtype
    return None
