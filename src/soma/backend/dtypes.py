"""Data types: names, the default float, and PyTorch's promotion rules.

soma's dtypes *are* NumPy dtypes, so ``x.dtype == soma.float32`` and ``x.numpy().dtype`` agree.
Promotion follows PyTorch rather than NumPy where the two differ:

* an integer tensor combined with a float tensor takes the float tensor's dtype
  (NumPy would widen ``int64 + float32`` to ``float64``);
* a Python float combined with an integer tensor gives the default float dtype;
* a zero-dimensional tensor does not widen a dimensioned tensor of the same category.
"""

import numpy

bool_ = numpy.dtype(numpy.bool_)
uint8 = numpy.dtype(numpy.uint8)
int8 = numpy.dtype(numpy.int8)
int16 = numpy.dtype(numpy.int16)
int32 = numpy.dtype(numpy.int32)
int64 = numpy.dtype(numpy.int64)
float16 = numpy.dtype(numpy.float16)
float32 = numpy.dtype(numpy.float32)
float64 = numpy.dtype(numpy.float64)

_default_float = float32

_NAMES = {
    "bool": bool_,
    "uint8": uint8,
    "int8": int8,
    "int16": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
}


def to_dtype(dtype) -> numpy.dtype:
    """Normalise a dtype given as a NumPy dtype, a type, or a name such as ``"float32"``."""
    if dtype is None:
        return _default_float
    if isinstance(dtype, str):
        try:
            return _NAMES[dtype.removeprefix("torch.").removeprefix("soma.")]
        except KeyError:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_NAMES)}") from None
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    return numpy.dtype(dtype)


def get_default_dtype() -> numpy.dtype:
    """The dtype that floating-point factories and Python floats produce (float32 at start)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype (``float32`` or ``float64``)."""
    global _default_float
    dtype = to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype expects a floating dtype, got {dtype}")
    _default_float = dtype


def is_floating(dtype) -> bool:
    return numpy.dtype(dtype).kind == "f"


def _category(dtype) -> int:
    kind = dtype.kind
    return 2 if kind == "f" else (0 if kind == "b" else 1)


# How strongly an operand decides the result dtype within its category.
DIMENSIONED, ZERO_DIM, PYTHON_NUMBER = 2, 1, 0


def promote_types(a, b, a_rank: int = DIMENSIONED, b_rank: int = DIMENSIONED) -> numpy.dtype:
    """Result dtype of a binary op, as PyTorch computes it.

    ``a_rank``/``b_rank`` say what each operand is: a dimensioned tensor, a zero-dimensional
    tensor, or a Python number (whose dtype is ``float64``, ``int64`` or ``bool``). The operand of
    the higher category (bool < integer < float) wins; inside one category a dimensioned tensor
    beats a zero-dimensional one, which beats a Python number. A Python float that lifts an
    integer tensor gives the default float dtype.
    """
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, rank = (a, a_rank) if ca > cb else (b, b_rank)
        if rank == PYTHON_NUMBER and hi.kind == "f":
            return _default_float
        return hi
    if a_rank != b_rank:
        return a if a_rank > b_rank else b
    return numpy.promote_types(a, b)


dtype = numpy.dtype  # ``isinstance(x.dtype, soma.dtype)``: soma's dtypes are NumPy's


def finfo(type=None):
    """Limits of a floating dtype (``eps``, ``max``, ``tiny``/``smallest_normal`` …); default float."""
    return numpy.finfo(to_dtype(type))


def iinfo(type):
    """Limits of an integer dtype (``min``, ``max``, ``bits``)."""
    return numpy.iinfo(to_dtype(type))
