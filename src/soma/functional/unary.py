"""Element-wise functions of one tensor: negation, exponentials and logarithms, roots, absolute
value, trigonometric and hyperbolic functions, and rounding.

Each ``Function`` saves what its derivative needs (often its own output: d eˣ = eˣ, d tanh =
1 − tanh²). Integer inputs compute in the default float dtype, as in PyTorch.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, parallel
from soma.functional._utils import as_tensor
from soma.functional.elementwise import _default_float, div

_xp = get_xp()


def _float(x):
    """Math functions on integer tensors compute in the default float dtype, as in PyTorch."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.array.dtype.kind != "f":
        return Tensor._wrap(x.array.astype(_default_float()))
    return x


def _float_pair(a, b):
    """Two operands (after ``binary_operands``) as float tensors of one dtype: a Python number
    takes the tensor's float dtype, so ``xlogy(float64, 3.0)`` takes ln 3 in float64."""
    a, b = (_float(x) if isinstance(x, Tensor) else x for x in (a, b))
    dtype = (a if isinstance(a, Tensor) else b).array.dtype
    return tuple(x if isinstance(x, Tensor) else as_tensor(x, dtype=dtype) for x in (a, b))


# ---------------------------------------------------------------------------- unary
class Neg(Function):
    """y = -x."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gy):
        return -gy


def neg(x):
    return Neg.apply(x)


negative = neg


class Exp(Function):
    """y = e^x."""

    @staticmethod
    def forward(ctx, x):
        from soma.functional.activation import _kernels  # NOTE: activation imports this module

        y = _kernels.exp(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return gy * y  # dy/dx = e^x = y


def exp(x):
    """``e ** x``."""
    return Exp.apply(_float(x))


class Expm1(Function):
    """y = e^x - 1, accurate for small x."""

    @staticmethod
    def forward(ctx, x):
        with _xp.errstate(over="ignore"):
            y = _xp.expm1(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return gy * (y + 1)  # dy/dx = e^x


def expm1(x):
    return Expm1.apply(_float(x))


class Log(Function):
    """y = ln x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return _xp.log(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(divide="ignore"):
            return gy / x  # dy/dx = 1/x


def log(x):
    """Natural logarithm."""
    return Log.apply(_float(x))


class Log1p(Function):
    """y = ln(1 + x), accurate for small x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return _xp.log1p(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(divide="ignore"):
            return gy / (1 + x)


def log1p(x):
    return Log1p.apply(_float(x))


def log2(x):
    return div(log(x), float(_xp.log(2.0)))


def log10(x):
    return div(log(x), float(_xp.log(10.0)))


class Sqrt(Function):
    """y = √x."""

    @staticmethod
    def forward(ctx, x):
        with _xp.errstate(invalid="ignore"):
            y = _xp.sqrt(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        with _xp.errstate(divide="ignore"):
            return gy / (2 * y)  # dy/dx = 1 / (2√x)


def sqrt(x):
    return Sqrt.apply(_float(x))


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return reciprocal(sqrt(x))


def reciprocal(x):
    return div(1.0, x)


class Abs(Function):
    """y = |x|."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.abs(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * _xp.sign(x)  # dy/dx = sign(x), 0 at x = 0


def abs(x):
    return Abs.apply(x)


absolute = abs


class Sin(Function):
    """y = sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.sin(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * _xp.cos(x)


def sin(x):
    return Sin.apply(_float(x))


class Cos(Function):
    """y = cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.cos(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return -gy * _xp.sin(x)


def cos(x):
    return Cos.apply(_float(x))


class Tanh(Function):
    """y = tanh x."""

    @staticmethod
    def forward(ctx, x):
        from soma.functional.activation import _kernels  # NOTE: activation imports this module

        if _kernels.fused(x):
            y = _kernels.tanh(x)
        else:
            y = parallel.elementwise(_xp.tanh, x, out=_xp.empty(x.shape, x.dtype), work=3)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        from soma.functional.activation import _kernels  # NOTE: activation imports this module

        if _kernels.usable(y) and _kernels.usable(gy, dense=False, like=y):
            return _kernels.grad("tanh", gy, (y,))
        return parallel.elementwise(_tanh_grad, gy, y, out=_xp.empty(gy.shape, gy.dtype))


def _tanh_grad(gy, y, out):
    """out ← gy · (1 − y²): dy/dx = 1 − tanh²x."""
    _xp.multiply(y, y, out=out)
    _xp.subtract(1, out, out=out)
    return _xp.multiply(gy, out, out=out)


def tanh(x):
    """Hyperbolic tangent."""
    return Tanh.apply(_float(x))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)."""

    @staticmethod
    def forward(ctx, x):
        from soma.functional.activation import _kernels  # NOTE: activation imports this module

        # NOTE: e^-x overflows to inf for x ≪ 0 and 1/(1 + inf) = 0 is the right limit
        with _xp.errstate(over="ignore"):
            if _kernels.fused(x):
                y = _kernels.sigmoid(x)
            else:
                y = parallel.elementwise(_sigmoid, x, out=_xp.empty(x.shape, x.dtype))
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        from soma.functional.activation import _kernels  # NOTE: activation imports this module

        if _kernels.usable(y) and _kernels.usable(gy, dense=False, like=y):
            return _kernels.grad("sigmoid", gy, (y,))
        out = _xp.empty(gy.shape, gy.dtype)
        return parallel.elementwise(_sigmoid_grad, gy, y, out=out)


def _sigmoid(x, out):
    """out ← 1 / (1 + e^-x)."""
    _xp.negative(x, out=out)
    _xp.exp(out, out=out)
    _xp.add(1, out, out=out)
    return _xp.divide(1, out, out=out)


def _sigmoid_grad(gy, y, out):
    """out ← gy · y · (1 − y): dy/dx = σ(x)(1 − σ(x))."""
    _xp.multiply(gy, y, out=out)
    return _xp.multiply(out, _xp.subtract(1, y), out=out)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + e^-x)."""
    return Sigmoid.apply(_float(x))


class _PiecewiseConstant(Function):
    """Shared backward of floor/ceil/round/sign: the derivative is zero almost everywhere."""

    @staticmethod
    def backward(ctx, gy):
        return _xp.zeros_like(gy)


class Floor(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, x):
        return _xp.floor(x)


class Ceil(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, x):
        return _xp.ceil(x)


class Round(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, x, decimals=0):
        return _xp.round(x, decimals)


class Sign(_PiecewiseConstant):
    """sign(x) = [x > 0] − [x < 0]: −1, 0 or 1, and 0 for NaN (both comparisons false), as
    PyTorch computes it (NumPy's sign gives NaN there)."""

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "b":
            return x.copy()  # sign of a bool: itself
        y = _xp.sign(x)
        if x.dtype.kind == "f":
            y[_xp.isnan(y)] = 0
        return y


class Trunc(_PiecewiseConstant):
    @staticmethod
    def forward(ctx, x):
        return _xp.trunc(x)


def _integral(x):
    """Rounding an integer (or bool) tensor returns a copy of it, in its dtype, as in PyTorch."""
    return x.array.dtype.kind in "biu"


def floor(x):
    if _integral(x):
        return Tensor._wrap(x.array.copy())
    return Floor.apply(x)


def ceil(x):
    if _integral(x):
        return Tensor._wrap(x.array.copy())
    return Ceil.apply(x)


def round(x, decimals=0):
    """Round half to even, as PyTorch does."""
    if _integral(x) and decimals == 0:
        return Tensor._wrap(x.array.copy())
    return Round.apply(x, decimals)


def sign(x):
    return Sign.apply(x)


def trunc(x):
    """Round toward zero; the gradient is zero (almost everywhere)."""
    if _integral(x):
        return Tensor._wrap(x.array.copy())
    return Trunc.apply(x)


fix = trunc
