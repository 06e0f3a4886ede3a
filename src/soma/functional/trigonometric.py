"""Trigonometric and hyperbolic functions and their inverses: tan, asin, acos, atan, atan2, sinh,
cosh, asinh, acosh, atanh, and the angle conversions deg2rad / rad2deg.

``sin``, ``cos`` and ``tanh`` live in ``unary.py`` with the other basic functions of one tensor.
Each derivative is written from what the forward pass saved (tan saves its output: d tan =
1 + tan²). Integer inputs compute in the default float dtype, as in PyTorch. Outside an inverse
function's domain the value is NaN (no warning), as in PyTorch.
"""

import math

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional._utils import binary_operands, unbroadcast
from soma.functional.elementwise import mul
from soma.functional.unary import _float, _float_pair

_xp = get_xp()


class Tan(Function):
    """y = tan x."""

    @staticmethod
    def forward(ctx, x):
        y = _xp.tan(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return gy * (1 + y * y)  # dy/dx = 1 + tan²x


def tan(input):
    """Tangent, element-wise."""
    return Tan.apply(_float(input))


class Asin(Function):
    """y = arcsin x on [-1, 1]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(invalid="ignore"):
            return _xp.arcsin(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(invalid="ignore", divide="ignore"):
            return gy / _xp.sqrt(1 - x * x)  # dy/dx = 1 / √(1 - x²)


def asin(input):
    """Inverse sine, element-wise (NaN outside [-1, 1])."""
    return Asin.apply(_float(input))


class Acos(Function):
    """y = arccos x on [-1, 1]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(invalid="ignore"):
            return _xp.arccos(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(invalid="ignore", divide="ignore"):
            return -gy / _xp.sqrt(1 - x * x)  # dy/dx = -1 / √(1 - x²)


def acos(input):
    """Inverse cosine, element-wise (NaN outside [-1, 1])."""
    return Acos.apply(_float(input))


class Atan(Function):
    """y = arctan x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.arctan(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy / (1 + x * x)  # dy/dx = 1 / (1 + x²)


def atan(input):
    """Inverse tangent, element-wise, in (-π/2, π/2)."""
    return Atan.apply(_float(input))


class Atan2(Function):
    """y = atan2(a, b): the angle of the point (b, a), in (-π, π]."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        with _xp.errstate(invalid="ignore", divide="ignore"):
            r2 = a * a + b * b
            # dy/da = b / (a² + b²),  dy/db = -a / (a² + b²); at the origin, where atan2 has no
            # derivative, 0 as PyTorch (not 0/0)
            inv = _xp.where(r2 == 0, 0, 1 / r2)
            ga = unbroadcast(gy * b * inv, _xp.shape(a)) if need_a else None
            gb = unbroadcast(-gy * a * inv, _xp.shape(b)) if need_b else None
        return ga, gb


def atan2(input, other):
    """Element-wise angle of (other, input): ``atan(input / other)`` in the right quadrant.

    Example:
        >>> import soma
        >>> round(soma.atan2(soma.tensor(1.0), soma.tensor(-1.0)).item(), 4)
        2.3562
    """
    a, b = binary_operands(input, other)
    return Atan2.apply(*_float_pair(a, b))


arctan2 = atan2


class Sinh(Function):
    """y = sinh x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(over="ignore"):
            return _xp.sinh(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(over="ignore"):
            return gy * _xp.cosh(x)  # dy/dx = cosh x


def sinh(input):
    """Hyperbolic sine."""
    return Sinh.apply(_float(input))


class Cosh(Function):
    """y = cosh x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(over="ignore"):
            return _xp.cosh(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(over="ignore"):
            return gy * _xp.sinh(x)  # dy/dx = sinh x


def cosh(input):
    """Hyperbolic cosine."""
    return Cosh.apply(_float(input))


class Asinh(Function):
    """y = arsinh x = ln(x + √(x² + 1))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.arcsinh(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(over="ignore"):
            return gy / _xp.sqrt(x * x + 1)  # dy/dx = 1 / √(x² + 1)


def asinh(input):
    """Inverse hyperbolic sine."""
    return Asinh.apply(_float(input))


class Acosh(Function):
    """y = arcosh x = ln(x + √(x² - 1)) on [1, ∞)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(invalid="ignore"):
            return _xp.arccosh(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return gy / _xp.sqrt(x * x - 1)  # dy/dx = 1 / √(x² - 1)


def acosh(input):
    """Inverse hyperbolic cosine (NaN below 1)."""
    return Acosh.apply(_float(input))


class Atanh(Function):
    """y = artanh x = ½ ln((1 + x) / (1 - x)) on (-1, 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(invalid="ignore", divide="ignore"):
            return _xp.arctanh(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(divide="ignore"):
            return gy / (1 - x * x)  # dy/dx = 1 / (1 - x²)


def atanh(input):
    """Inverse hyperbolic tangent (±inf at ±1, NaN outside [-1, 1])."""
    return Atanh.apply(_float(input))


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def deg2rad(input):
    """Degrees to radians: ``x · π / 180``."""
    x = _float(input)
    return mul(x, math.pi / 180)


def rad2deg(input):
    """Radians to degrees: ``x · 180 / π``."""
    x = _float(input)
    return mul(x, 180 / math.pi)
