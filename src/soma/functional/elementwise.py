"""Element-wise arithmetic, comparisons, clamping and selection, with broadcasting.

Binary ops accept Tensors and Python numbers, promote dtypes as PyTorch does, and sum each
gradient back to its operand's shape with ``unbroadcast``. Functions of one tensor (exp, log,
sqrt, sin, tanh, rounding …) are in ``unary.py``.
"""

from soma.autograd import memory_format as _formats
from soma.autograd.errors import IntegerDivisionByZero
from soma.autograd.factory import tensor
from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend.dtypes import get_default_dtype
from soma.functional._utils import (
    as_tensor,
    binary_operands,
    check_fill_value,
    shape_str,
    unbroadcast,
)
from soma.functional.indexing import nonzero

_xp = get_xp()


def _shape(a):
    return a.shape if isinstance(a, _xp.ndarray) else ()


def _broadcast_error(op, a, b):
    return ValueError(
        f"{op}: shapes {shape_str(_shape(a))} and {shape_str(_shape(b))} cannot be broadcast "
        f"together (trailing dimensions must be equal or 1)"
    )


def _broadcasting(op, fn, a, b):
    """``fn(a, b)``, turning NumPy's broadcast error into one that names the op and shapes.

    Two floating arrays of one shape and dtype in different memory orders give a result laid
    out as ``a``: PyTorch's rule (the first operand decides); NumPy's order "K" would fall back
    to C order, and every layer after the sum would then run in another layout than before it.
    """
    try:
        if _mixed_layouts(a, b):
            return fn(a, b, out=_formats.empty_like(a))
        return fn(a, b)
    except ValueError:
        raise _broadcast_error(op, a, b) from None


def _mixed_layouts(a, b):
    """True for two floating arrays of one shape and dtype whose memory orders differ."""
    return (
        getattr(b, "strides", None) is not None
        and getattr(a, "strides", None) is not None
        and a.dtype == b.dtype
        and a.dtype.kind in "fc"
        and _formats.differ_in_layout(a, b)
    )


# ---------------------------------------------------------------------------- add / sub
class Add(Function):
    """y = a + b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _broadcasting("add", _xp.add, a, b)

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        # dy/da = 1, dy/db = 1
        return (unbroadcast(gy, sa) if need_a else None, unbroadcast(gy, sb) if need_b else None)


def add(a, b, *, alpha=1):
    """``a + alpha * b`` element-wise, with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha  # a Python number stays one
    return Add.apply(*binary_operands(a, b))


class Sub(Function):
    """y = a - b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _broadcasting("sub", _xp.subtract, a, b)

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        # dy/da = 1, dy/db = -1
        return (unbroadcast(gy, sa) if need_a else None, unbroadcast(-gy, sb) if need_b else None)


def sub(a, b, *, alpha=1):
    """``a - alpha * b`` element-wise, with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha) if isinstance(b, Tensor) else b * alpha  # a Python number stays one
    return Sub.apply(*binary_operands(a, b))


subtract = sub


# ---------------------------------------------------------------------------- mul / div
class Mul(Function):
    """y = a * b."""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        # NOTE: save only what a gradient needs (as PyTorch): an in-place change of an operand
        # that no gradient reads is allowed
        ctx.save(a if need_b else None, b if need_a else None)
        ctx.shapes = (_shape(a), _shape(b))
        return _broadcasting("mul", _xp.multiply, a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        # dy/da = b, dy/db = a
        ga = unbroadcast(gy * b, ctx.shapes[0]) if need_a else None
        gb = unbroadcast(gy * a, ctx.shapes[1]) if need_b else None
        return ga, gb


def mul(a, b):
    """``a * b`` element-wise, with broadcasting."""
    return Mul.apply(*binary_operands(a, b))


multiply = mul


class Div(Function):
    """y = a / b."""

    @staticmethod
    def forward(ctx, a, b):
        with _xp.errstate(divide="ignore", invalid="ignore"):
            y = _broadcasting("div", _xp.true_divide, a, b)
        ctx.save(b, y)
        ctx.shape_a = _shape(a)
        return y

    @staticmethod
    def backward(ctx, gy):
        b, y = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        # dy/da = 1/b, dy/db = -a/b² = -y/b
        with _xp.errstate(divide="ignore", invalid="ignore"):
            ga = unbroadcast(gy / b, ctx.shape_a) if need_a else None
            gb = unbroadcast(-gy * y / b, _shape(b)) if need_b else None
        return ga, gb


def div(a, b, *, rounding_mode=None):
    """``a / b`` element-wise (true division; ``rounding_mode`` 'floor' or 'trunc' for integers)."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        if not _is_float_op(a, b):
            return _integer_trunc_divide(*binary_operands(a, b))
        q = div(a, b)
        return Tensor._wrap(_xp.trunc(q.array).astype(q.dtype))
    a, b = binary_operands(a, b)
    if not _is_float_op(a, b):  # integers divide into the default float dtype (PyTorch)
        a = cast(as_tensor(a), _default_float())
        if isinstance(b, Tensor):
            b = cast(b, _default_float())
    return Div.apply(a, b)


true_divide = divide = div


def _default_float():
    return get_default_dtype()


def _is_float_op(a, b):
    return any(isinstance(x, Tensor) and x.array.dtype.kind == "f" for x in (a, b)) or any(
        isinstance(x, float) for x in (a, b)
    )


def _integer_divisor(a, b, op):
    """Whether this is an integer division; one by zero raises, as in PyTorch (NumPy would
    return 0 with a warning)."""
    if _is_float_op(a, b):
        return False
    if _xp.any(_xp.asarray(_raw(b)) == 0):
        raise IntegerDivisionByZero(f"{op}: integer division by zero (ZeroDivisionError)")
    return True


def _integer_trunc_divide(a, b):
    """a / b rounded toward zero, exactly in the integers (through floats, 2^24 + 1 in float32
    or 2^53 + 1 in float64 would lose its last digit)."""
    _integer_divisor(a, b, "div(rounding_mode='trunc')")
    ra, rb = _raw(a), _raw(b)
    with _xp.errstate(over="ignore"):  # int min // -1 wraps, as in PyTorch
        q = _xp.asarray(ra // rb)
        inexact_negative = (_xp.asarray(ra % rb) != 0) & ((_xp.asarray(ra) < 0) != (rb < 0))
        return Tensor._wrap((q + inexact_negative).astype(q.dtype))


def floor_divide(a, b):
    """``floor(a / b)``; carries no gradient. Integers: exact, by zero raises."""
    a, b = binary_operands(a, b)
    _integer_divisor(a, b, "floor_divide")
    with _xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return Tensor._wrap(_xp.asarray(_raw(a) // _raw(b)))


class Remainder(Function):
    """y = a - floor(a / b) * b (Python's modulo, sign of b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        with _xp.errstate(divide="ignore", invalid="ignore"):  # x % 0.0 is NaN, silently
            return _xp.mod(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        # dy/da = 1, dy/db = -floor(a / b)
        ga = unbroadcast(gy, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-gy * _xp.floor(a / b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def remainder(a, b):
    """Element-wise remainder with the sign of the divisor (Python's ``%``); an integer one by
    zero raises, as in PyTorch."""
    a, b = binary_operands(a, b)
    _integer_divisor(a, b, "remainder")
    return Remainder.apply(a, b)


class Fmod(Function):
    """y = a - trunc(a / b) * b (C's ``%``, sign of a)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return _xp.fmod(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        # dy/da = 1, dy/db = -trunc(a / b)
        ga = unbroadcast(gy, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-gy * _xp.trunc(a / b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def fmod(a, b):
    """Element-wise remainder with the sign of the dividend (C's ``%``): ``fmod(-3, 2) = -1``,
    where ``remainder(-3, 2) = 1``; an integer one by zero raises, as in PyTorch."""
    a, b = binary_operands(a, b)
    _integer_divisor(a, b, "fmod")
    return Fmod.apply(a, b)


def _raw(x):
    return x.array if isinstance(x, Tensor) else x


# ---------------------------------------------------------------------------- pow
class Pow(Function):
    """y = a ** b."""

    @staticmethod
    def forward(ctx, a, b):
        with _xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = _broadcasting("pow", _xp.power, a, b)
        # NOTE: y only when the exponent needs a gradient (dy/db = y ln a), as PyTorch: so
        # ``x.pow(2).pow_(2)`` may change y in place before backward
        ctx.save(a, b, y if ctx.needs_input_grad[1] else None)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        with _xp.errstate(divide="ignore", invalid="ignore"):
            if need_a:
                # dy/da = b * a^(b-1); NOTE: b == 0 gives 0 even where a == 0
                ga = gy * _xp.where(_xp.equal(b, 0), 0, b * a ** (b - 1))
                ga = unbroadcast(ga.astype(gy.dtype, copy=False), _shape(a))
            if need_b:
                # dy/db = y * ln(a), taken as 0 where a == 0 and b >= 0
                dy_db = _xp.where((_xp.equal(a, 0)) & (_xp.greater_equal(b, 0)), 0, y * _xp.log(a))
                gb = unbroadcast((gy * dy_db).astype(gy.dtype, copy=False), _shape(b))
        return ga, gb


def pow(a, b):
    """``a ** b`` element-wise."""
    a, b = binary_operands(a, b)
    if _xp.result_type(_raw(a), _raw(b)).kind in "iu" and _xp.any(_xp.less(_raw(b), 0)):
        if not isinstance(b, Tensor):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return _int_pow(_raw(a), b.array)
    return Pow.apply(a, b)


def _int_pow(a, b):
    """Integer powers with negative exponent tensors, as PyTorch: 1 → 1, −1 → ±1, else 0."""
    dtype = _xp.result_type(a, b)
    a, b = _xp.broadcast_arrays(_xp.asarray(a, dtype), _xp.asarray(b, dtype))
    out = _xp.power(a, _xp.maximum(b, 0))
    odd = _xp.not_equal(_xp.remainder(b, 2), 0)
    at_neg = _xp.where(_xp.equal(a, 1), 1, _xp.where(_xp.equal(a, -1), _xp.where(odd, -1, 1), 0))
    return Tensor._wrap(_xp.where(_xp.less(b, 0), at_neg, out).astype(dtype))


def square(x):
    """``x * x`` (of a bool tensor as int64, as PyTorch)."""
    if isinstance(x, Tensor) and x.array.dtype.kind == "b":
        x = cast(x, _xp.int64)
    return mul(x, x)


# ---------------------------------------------------------------------------- clamp / max / where
class Clamp(Function):
    """y = min(max(x, lo), hi)."""

    _backward_name = "ClampBackward1"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save(x, lo, hi)
        y = x
        if lo is not None:
            y = _xp.maximum(y, lo)
        if hi is not None:
            y = _xp.minimum(y, hi)
        return y.astype(x.dtype, copy=False) if y is not x else x.copy()

    @staticmethod
    def backward(ctx, gy):
        x, lo, hi = ctx.saved
        # gradient passes where lo <= x <= hi
        mask = _xp.ones(x.shape, dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        gx = gy * mask if ctx.needs_input_grad[0] else None
        glo = ghi = None
        if lo is not None and ctx.needs_input_grad[1]:
            glo = unbroadcast(gy * (x < lo), _shape(lo))
        if hi is not None and ctx.needs_input_grad[2]:
            above = (x > hi) if lo is None else (x > hi) & (x >= lo)
            ghi = unbroadcast(gy * above, _shape(hi))
        return gx, glo, ghi


def clamp(x, min=None, max=None):
    """Limit ``x`` to ``[min, max]``; either bound may be None, a number or a Tensor."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for bound in (min, max):  # PyTorch's promotion: an int tensor clamped to 0.5 turns float
        if bound is not None:
            x = binary_operands(x, bound)[0]
    if isinstance(min, Tensor) and min.dtype != x.dtype:
        min = cast(min, x.dtype)
    if isinstance(max, Tensor) and max.dtype != x.dtype:
        max = cast(max, x.dtype)
    return Clamp.apply(x, min, max)


clip = clamp


class Maximum(Function):
    """y = max(a, b) element-wise; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _broadcasting("maximum", _xp.maximum, a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        return _split_by_winner(gy, a > b, a == b, a, b, ctx.needs_input_grad)


class Minimum(Function):
    """y = min(a, b) element-wise; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _broadcasting("minimum", _xp.minimum, a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        return _split_by_winner(gy, a < b, a == b, a, b, ctx.needs_input_grad)


def _split_by_winner(gy, a_wins, tie, a, b, needs):
    share = a_wins + gy.dtype.type(0.5) * tie  # 1 where a wins, ½ on ties, else 0
    ga = unbroadcast(gy * share, _shape(a)) if needs[0] else None
    gb = unbroadcast(gy * (1 - share), _shape(b)) if needs[1] else None
    return ga, gb


def maximum(a, b):
    return Maximum.apply(*binary_operands(a, b))


def minimum(a, b):
    return Minimum.apply(*binary_operands(a, b))


class Where(Function):
    """y = a where cond else b."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save(cond)
        ctx.shapes = (_shape(a), _shape(b))
        return _xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, gy):
        (cond,) = ctx.saved
        sa, sb = ctx.shapes
        zero = gy.dtype.type(0)
        ga = unbroadcast(_xp.where(cond, gy, zero), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(_xp.where(cond, zero, gy), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


def where(condition, a=None, b=None):
    """Pick from ``a`` where ``condition`` holds, else from ``b`` (one argument: ``nonzero``)."""
    if a is None and b is None:
        return nonzero(condition, as_tuple=True)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # where(cond, 1.0, 0.0)
        a = tensor(a)
    for scalar, other in ((a, b), (b, a)):
        if isinstance(other, Tensor) and not isinstance(scalar, Tensor):
            check_fill_value(scalar, other.array.dtype, "where")
    a, b = binary_operands(a, b)
    cond = condition.array if isinstance(condition, Tensor) else _xp.asarray(condition)
    return Where.apply(cond.astype(bool, copy=False), a, b)


def masked_fill(x, mask, value):
    """``x`` with the positions where ``mask`` is True replaced by ``value``."""
    mask = mask.array if isinstance(mask, Tensor) else _xp.asarray(mask)
    if isinstance(value, Tensor):
        value = value.to(x.dtype)
    elif x.array.dtype.kind == "f":
        value = float(value)
    else:  # the result keeps x's dtype, as PyTorch: 0.5 into int64 is 0, into bool True
        check_fill_value(value, x.array.dtype, "masked_fill")
        value = _xp.asarray(value).astype(x.array.dtype)
    return Where.apply(mask.astype(bool, copy=False), value, x)


# ---------------------------------------------------------------------------- dtype and copies
class Cast(Function):
    """y = x converted to another dtype; the gradient converts back."""

    _backward_name = "ToCopyBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        if ctx.in_dtype.kind != "f":
            return None
        return gy.astype(ctx.in_dtype)


def cast(x, dtype):
    """``x`` converted to ``dtype`` (differentiable between float dtypes)."""
    if x.array.dtype.kind != "f" or dtype.kind != "f":
        return Tensor._wrap(x.array.astype(dtype))
    return Cast.apply(x, dtype)


class Clone(Function):
    """y = a copy of x, laid out in ``memory_format`` (``soma.preserve_format``: as x)."""

    @staticmethod
    def forward(ctx, x, memory_format):
        return _formats.copy(x, memory_format)

    @staticmethod
    def backward(ctx, gy):
        return gy, None


def clone(x, *, memory_format=_formats.preserve_format):
    """A differentiable copy of ``x``; ``memory_format`` chooses its layout in memory."""
    return Clone.apply(x, memory_format)


# ---------------------------------------------------------------------------- comparisons
def _compare(fn, a, b):
    a, b = binary_operands(a, b)
    return Tensor._wrap(_xp.asarray(fn(_raw(a), _raw(b))))


def eq(a, b):
    return _compare(_xp.equal, a, b)


def ne(a, b):
    return _compare(_xp.not_equal, a, b)


def lt(a, b):
    return _compare(_xp.less, a, b)


def le(a, b):
    return _compare(_xp.less_equal, a, b)


def gt(a, b):
    return _compare(_xp.greater, a, b)


def ge(a, b):
    return _compare(_xp.greater_equal, a, b)


greater, greater_equal, less, less_equal, equal_elementwise = gt, ge, lt, le, eq
not_equal = ne


def logical_and(a, b):
    return _compare(_xp.logical_and, a, b)


def logical_or(a, b):
    return _compare(_xp.logical_or, a, b)


def logical_xor(a, b):
    return _compare(_xp.logical_xor, a, b)


def logical_not(x):
    """``x == 0`` as booleans, for every dtype (``~x`` is the bitwise complement of integers)."""
    return Tensor._wrap(_xp.logical_not(x.array))


def isnan(x):
    return Tensor._wrap(_xp.isnan(x.array))


def isinf(x):
    return Tensor._wrap(_xp.isinf(x.array))


def isfinite(x):
    return Tensor._wrap(_xp.isfinite(x.array))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(_xp.allclose(_raw(a), _raw(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b) -> bool:
    """True when both tensors have the same shape and values."""
    return a.shape == b.shape and bool((a.array == b.array).all())
