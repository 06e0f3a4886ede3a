"""Bitwise operations on integer and bool tensors: ``&``, ``|``, ``^``, ``~``, ``<<``, ``>>``.

As PyTorch: integer operands give integers (PyTorch's dtype promotion; a Python int on either
side keeps the tensor's dtype), bool operands give bools (logical and/or/xor/not). Float
operands are an error. None of these carries a gradient.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import binary_operands, shape_str

_xp = get_xp()


def _operands(name, a, b):
    a, b = binary_operands(a, b)
    for x in (a, b):
        kind = (
            x.array.dtype.kind
            if isinstance(x, Tensor)
            else ("b" if isinstance(x, bool) else "i" if isinstance(x, int) else "f")
        )
        if kind not in "iub":
            dtype = x.array.dtype if isinstance(x, Tensor) else type(x).__name__
            raise TypeError(
                f"\"{name}\" not implemented for '{dtype}': bitwise ops need integer or bool tensors"
            )
    return (a.array if isinstance(a, Tensor) else a), (b.array if isinstance(b, Tensor) else b)


def _binary(name, fn, a, b):
    x, y = _operands(name, a, b)
    try:
        out = fn(x, y)
    except ValueError:
        raise ValueError(
            f"{name}: shapes {shape_str(_xp.shape(x))} and {shape_str(_xp.shape(y))} "
            "cannot be broadcast together"
        ) from None
    return Tensor._wrap(_xp.asarray(out))


def bitwise_and(input, other):
    """``input & other`` bit by bit (logical and for bools)."""
    return _binary("bitwise_and", _xp.bitwise_and, input, other)


def bitwise_or(input, other):
    """``input | other`` bit by bit (logical or for bools)."""
    return _binary("bitwise_or", _xp.bitwise_or, input, other)


def bitwise_xor(input, other):
    """``input ^ other`` bit by bit (logical xor for bools)."""
    return _binary("bitwise_xor", _xp.bitwise_xor, input, other)


def bitwise_not(input):
    """``~input``: every bit flipped (logical not for bools)."""
    if input.array.dtype.kind not in "iub":
        raise TypeError(
            f"bitwise_not: ~ needs an integer or bool tensor, got {input.array.dtype}; "
            "use logical_not or 1 - x for floats"
        )
    return Tensor._wrap(_xp.asarray(_xp.invert(input.array)))


def bitwise_left_shift(input, other):
    """``input << other``: ``input · 2**other`` for integers."""
    return _binary("bitwise_left_shift", _xp.left_shift, input, other)


def bitwise_right_shift(input, other):
    """``input >> other``: arithmetic shift (floor of ``input / 2**other``)."""
    return _binary("bitwise_right_shift", _xp.right_shift, input, other)
