"""Element-wise functions that pick, blend or repair values: copysign, frac, lerp, nan_to_num,
hypot, fmax / fmin, addcmul / addcdiv, clamp_min / clamp_max, float_power, isclose, signbit.

The basic arithmetic, comparison and clamping ops are in ``elementwise.py``; functions of one
tensor in ``unary.py``. Binary ops here broadcast and promote dtypes as PyTorch does, and sum
each gradient back to its operand's shape with ``unbroadcast``.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import dtypes, get_xp
from soma.functional._utils import as_tensor, binary_operands, unbroadcast
from soma.functional.elementwise import _raw, add, cast, clamp, div, mul, pow, sub
from soma.functional.indexing import nonzero
from soma.functional.special import exp2
from soma.functional.unary import _float, _float_pair, sign, trunc

_xp = get_xp()


class CopySign(Function):
    """y = |a| with the sign of b."""

    @staticmethod
    def forward(ctx, a, b):
        y = _xp.copysign(a, b)
        ctx.save(a, y)
        ctx.shape_b = _xp.shape(b)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved
        # dy/da = ±1 (+1 where the sign is kept, -1 where it flips; 0 at a = 0), dy/db = 0
        ga = None
        if ctx.needs_input_grad[0]:
            ga = gy * _xp.where(a == 0, 0, _xp.sign(a) * _xp.sign(y)).astype(gy.dtype)
            ga = unbroadcast(ga, a.shape)
        gb = _xp.zeros(ctx.shape_b, dtype=gy.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


def copysign(input, other):
    """The magnitude of ``input`` with the sign of ``other`` (a float result)."""
    a, b = binary_operands(input, other)
    return CopySign.apply(_float(a), _float(b) if isinstance(b, Tensor) else float(b))


def frac(input):
    """The fractional part ``x - trunc(x)`` (its sign is x's); the gradient is 1."""
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"frac: expected a floating-point tensor, got dtype {input.dtype}")
    return sub(input, trunc(input).detach())


def lerp(input, end, weight):
    """Linear interpolation ``input + weight * (end - input)``; ``weight`` a number or tensor."""
    return add(input, mul(weight, sub(end, input)))


class NanToNum(Function):
    """y = x with NaN, +inf and -inf replaced by finite numbers."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save(x)
        return _xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * _xp.isfinite(x)  # the replaced entries are constants


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by ``nan`` and ±inf by ``posinf``/``neginf`` (default: the dtype's extremes)."""
    if input.array.dtype.kind != "f":
        return Tensor._wrap(input.array.copy())
    return NanToNum.apply(input, nan, posinf, neginf)


class Hypot(Function):
    """y = √(a² + b²), without overflow."""

    @staticmethod
    def forward(ctx, a, b):
        y = _xp.hypot(a, b)
        ctx.save(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        # dy/da = a / y, dy/db = b / y
        with _xp.errstate(divide="ignore", invalid="ignore"):
            ga = unbroadcast(gy * a / y, _xp.shape(a)) if need_a else None
            gb = unbroadcast(gy * b / y, _xp.shape(b)) if need_b else None
        return ga, gb


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` element-wise."""
    a, b = binary_operands(input, other)
    return Hypot.apply(*_float_pair(a, b))


class FMax(Function):
    """y = max(a, b), ignoring NaN (NaN only where both are NaN); ties go to a."""

    @staticmethod
    def forward(ctx, a, b, largest):
        ctx.save(a, b)
        ctx.largest = largest
        return _xp.fmax(a, b) if largest else _xp.fmin(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        with _xp.errstate(invalid="ignore"):
            a_wins = ((a >= b) if ctx.largest else (a <= b)) | _xp.isnan(b)
        ga = unbroadcast(gy * a_wins, _xp.shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(gy * ~a_wins, _xp.shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def fmax(input, other):
    """Element-wise maximum that ignores NaN (NaN only where both are NaN)."""
    return FMax.apply(*binary_operands(input, other), True)


def fmin(input, other):
    """Element-wise minimum that ignores NaN (NaN only where both are NaN)."""
    return FMax.apply(*binary_operands(input, other), False)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    return add(input, mul(div(tensor1, tensor2), value))


def clamp_min(input, min):
    """``max(input, min)`` element-wise (the gradient passes where input >= min)."""
    return clamp(input, min, None)


def clamp_max(input, max):
    """``min(input, max)`` element-wise (the gradient passes where input <= max)."""
    return clamp(input, None, max)


def float_power(input, exponent):
    """``input ** exponent`` computed in float64, as PyTorch's ``float_power``."""
    base = cast(as_tensor(input), dtypes.float64)
    if isinstance(exponent, Tensor):
        exponent = cast(exponent, dtypes.float64)
    return pow(base, exponent)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Element-wise ``|input - other| <= atol + rtol * |other|`` as a bool tensor.

    Infinities are close only to the same infinity; NaN is close to NaN only with
    ``equal_nan=True``.
    """
    a, b = binary_operands(input, other)
    return Tensor._wrap(
        _xp.asarray(_xp.isclose(_raw(a), _raw(b), rtol=rtol, atol=atol, equal_nan=equal_nan))
    )


def signbit(input):
    """True where the sign bit is set (negative numbers and -0.0)."""
    return Tensor._wrap(_xp.signbit(input.array))


def argwhere(input):
    """The indices of the non-zero elements, one row per element: shape (n, ndim)."""
    return nonzero(input)


def heaviside(input, values):
    """The step function: 0 where x < 0, 1 where x > 0, ``values`` where x == 0."""
    a, v = binary_operands(input, values)
    x, val = _raw(a), _raw(v)
    return Tensor._wrap(_xp.asarray(_xp.heaviside(x, val)).astype(_xp.result_type(x, val)))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` occurs in ``test_elements``."""
    e = _raw(as_tensor(elements))
    t = _raw(as_tensor(test_elements))
    return Tensor._wrap(_xp.isin(e, t, assume_unique=assume_unique, invert=invert))


def isposinf(input):
    """True where the element is +inf."""
    return Tensor._wrap(_xp.isposinf(input.array))


def isneginf(input):
    """True where the element is -inf."""
    return Tensor._wrap(_xp.isneginf(input.array))


def isreal(input):
    """True everywhere (soma has no complex tensors)."""
    return Tensor._wrap(_xp.ones(input.array.shape, dtype=bool))


def sgn(input):
    """The sign (−1, 0 or 1) for real tensors, as ``sign``."""
    return sign(input)


def positive(input):
    """The input itself (unary ``+``)."""
    return input


def _integers(a, b, op):
    a, b = binary_operands(a, b)
    x, y = _raw(a), _raw(b)
    if _xp.result_type(x, y).kind not in "iu":
        raise RuntimeError(f"{op}: expected integer tensors, got {_xp.result_type(x, y)}")
    return x, y


def gcd(input, other):
    """Element-wise greatest common divisor of integer tensors (non-negative)."""
    x, y = _integers(input, other, "gcd")
    return Tensor._wrap(_xp.asarray(_xp.gcd(x, y)))


def lcm(input, other):
    """Element-wise least common multiple of integer tensors (non-negative)."""
    x, y = _integers(input, other, "lcm")
    return Tensor._wrap(_xp.asarray(_xp.lcm(x, y)))


def ldexp(input, other):
    """``input * 2 ** other``."""
    return mul(input, exp2(other if isinstance(other, Tensor) else as_tensor(other)))


def rsub(input, other, *, alpha=1):
    """``other - alpha * input`` (subtraction with the operands reversed)."""
    return sub(other, input if alpha == 1 else mul(input, alpha))
