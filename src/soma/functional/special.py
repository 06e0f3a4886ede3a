"""Special functions: the error function family (erf, erfc, erfinv), base-2 exponentials,
log-sum of two operands (logaddexp, logaddexp2), xlogy, logit and sinc.

The kernels of erf, erfc and erfinv are in ``backend/special.py`` (NumPy has none of them).
Integer inputs compute in the default float dtype, as in PyTorch.
"""

import math

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import special as _special
from soma.functional._utils import binary_operands, unbroadcast
from soma.functional.reduction import sum as _sum
from soma.functional.shape import unsqueeze
from soma.functional.unary import _float, _float_pair

_xp = get_xp()
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LN2 = math.log(2.0)


class Erf(Function):
    """y = erf x = 2/√π ∫₀ˣ e^{-t²} dt."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _special.erf(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * (_TWO_OVER_SQRT_PI * _xp.exp(-x * x))  # dy/dx = 2/√π e^{-x²}


def erf(input):
    """The error function, element-wise."""
    return Erf.apply(_float(input))


class Erfc(Function):
    """y = erfc x = 1 - erf x (accurate where erf x is close to 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _special.erfc(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * (-_TWO_OVER_SQRT_PI * _xp.exp(-x * x))  # dy/dx = -2/√π e^{-x²}


def erfc(input):
    """The complementary error function ``1 - erf(x)``, element-wise."""
    return Erfc.apply(_float(input))


class Erfinv(Function):
    """y = erf⁻¹ x on [-1, 1]."""

    @staticmethod
    def forward(ctx, x):
        y = _special.erfinv(x).astype(x.dtype, copy=False)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        with _xp.errstate(over="ignore"):
            return gy * (_xp.exp(y * y) / _TWO_OVER_SQRT_PI)  # dy/dx = √π/2 e^{y²}


def erfinv(input):
    """The inverse error function (±inf at ±1, NaN outside [-1, 1])."""
    return Erfinv.apply(_float(input))


class Exp2(Function):
    """y = 2^x."""

    @staticmethod
    def forward(ctx, x):
        with _xp.errstate(over="ignore"):
            y = _xp.exp2(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return gy * (y * _LN2)  # dy/dx = 2^x ln 2


def exp2(input):
    """``2 ** x``, element-wise."""
    return Exp2.apply(_float(input))


class LogAddExp(Function):
    """y = log(b^a + b^c) / log b for base b = e or 2, without overflow."""

    @staticmethod
    def forward(ctx, a, c, base2):
        y = _xp.logaddexp2(a, c) if base2 else _xp.logaddexp(a, c)
        ctx.save(a, c, y)
        ctx.base2 = base2
        return y

    @staticmethod
    def backward(ctx, gy):
        a, c, y = ctx.saved
        power = _xp.exp2 if ctx.base2 else _xp.exp
        need_a, need_c = ctx.needs_input_grad[:2]
        # dy/da = b^a / (b^a + b^c) = b^(a - y): the softmax weight of a
        with _xp.errstate(invalid="ignore"):
            ga = unbroadcast(gy * power(a - y), _xp.shape(a)) if need_a else None
            gc = unbroadcast(gy * power(c - y), _xp.shape(c)) if need_c else None
        return ga, gc, None


def logaddexp(input, other):
    """``log(exp(input) + exp(other))``, computed without overflow."""
    a, c = binary_operands(input, other)
    return LogAddExp.apply(*_float_pair(a, c), False)


def logaddexp2(input, other):
    """``log2(2**input + 2**other)``, computed without overflow."""
    a, c = binary_operands(input, other)
    return LogAddExp.apply(*_float_pair(a, c), True)


class XLogY(Function):
    """y = a · ln(c + s), taken as 0 where a = 0 (even where c + s = 0): ``xlogy`` (s = 0) and
    ``xlog1py`` (s = 1, through ``log1p``)."""

    @staticmethod
    def forward(ctx, a, c, *, shift):
        ctx.save(a, c)
        ctx.shift, ctx.log = shift, _xp.log1p if shift else _xp.log
        with _xp.errstate(divide="ignore", invalid="ignore"):
            y = _xp.where(a == 0, 0, a * ctx.log(c))
        return _xp.where(_xp.isnan(c), _xp.nan, y).astype(_xp.result_type(a, c), copy=False)

    @staticmethod
    def backward(ctx, gy):
        a, c = ctx.saved
        need_a, need_c = ctx.needs_input_grad
        ga = gc = None
        with _xp.errstate(divide="ignore", invalid="ignore"):
            if need_a:
                # dy/da = ln(c + s) (PyTorch's convention: 0 where a = 0 and c + s <= 0)
                g = _xp.where((a == 0) & (c <= -ctx.shift), 0, gy * ctx.log(c))
                ga = unbroadcast(g.astype(gy.dtype, copy=False), _xp.shape(a))
            if need_c:
                gc = unbroadcast(gy * a / (c + ctx.shift), _xp.shape(c))  # dy/dc = a / (c + s)
        return ga, gc


def xlog1py(input, other):
    """``input * log1p(other)``, with 0 wherever ``input`` is 0 (torch.special.xlog1py)."""
    a, c = binary_operands(input, other)
    return XLogY.apply(*_float_pair(a, c), shift=1)


class Entr(Function):
    """y = -x ln x for x > 0, 0 at x = 0, -inf for x < 0 (the entropy of one probability)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        with _xp.errstate(divide="ignore", invalid="ignore"):
            y = _xp.where(x > 0, -x * _xp.log(x), _xp.where(x == 0, 0, -_xp.inf))
        return _xp.where(_xp.isnan(x), _xp.nan, y).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return gy * -(_xp.log(x) + 1)  # dy/dx = -(ln x + 1): +inf at 0, NaN below


def entr(input):
    """Element-wise entropy term ``-x ln x`` (torch.special.entr)."""
    return Entr.apply(_float(input))


def xlogy(input, other):
    """``input * log(other)``, with 0 wherever ``input`` is 0."""
    a, c = binary_operands(input, other)
    return XLogY.apply(*_float_pair(a, c), shift=0)


class Logit(Function):
    """y = ln(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""

    @staticmethod
    def forward(ctx, x, eps):
        p = x if eps is None else _xp.clip(x, eps, 1 - eps)
        ctx.save(x)
        ctx.eps = eps
        with _xp.errstate(divide="ignore", invalid="ignore"):
            return _xp.log(p / (1 - p))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        with _xp.errstate(divide="ignore", invalid="ignore"):
            g = gy / (x * (1 - x))  # dy/dp = 1 / (p (1 - p))
        if ctx.eps is not None:
            g = g * ((x >= ctx.eps) & (x <= 1 - ctx.eps))  # the clamp passes no gradient
        return g


def logit(input, eps=None):
    """The log-odds ``log(p / (1 - p))``; ``eps`` clamps p to [eps, 1 - eps] first."""
    return Logit.apply(_float(input), None if eps is None else float(eps))


class Sinc(Function):
    """y = sin(πx) / (πx), with y(0) = 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _xp.sinc(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        px = math.pi * x
        # dy/dx = (cos(πx) - sinc x) / x, which is 0 at x = 0
        safe = _xp.where(x == 0, 1, x)
        g = (_xp.cos(px) - _xp.sinc(x)) / safe
        return gy * _xp.where(x == 0, 0, g)


def sinc(input):
    """The normalised sinc function ``sin(πx) / (πx)``."""
    return Sinc.apply(_float(input))


class LGamma(Function):
    """y = ln |Γ(x)|."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _special.lgamma(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * _special.digamma(x).astype(gy.dtype, copy=False)  # dy/dx = ψ(x)


def lgamma(input):
    """``log |Γ(x)|`` element-wise (+inf at 0, -1, -2 …)."""
    return LGamma.apply(_float(input))


class Digamma(Function):
    """y = ψ(x) = d ln Γ(x) / dx."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return _special.digamma(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        return gy * _special.trigamma(x).astype(gy.dtype, copy=False)  # dy/dx = ψ'(x)


def digamma(input):
    """The digamma function ψ(x), the derivative of ``lgamma``."""
    return Digamma.apply(_float(input))


class Trigamma(Function):
    """y = ψ'(x); its own derivative (ψ'') is not implemented."""

    @staticmethod
    def forward(ctx, x):
        return _special.trigamma(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        raise NotImplementedError(
            "polygamma(1, x): the gradient (polygamma(2, x)) is not implemented"
        )


def polygamma(n, input):
    """The n-th derivative of ψ: n = 0 is ``digamma``, n = 1 the trigamma function."""
    if n == 0:
        return digamma(input)
    if n == 1:
        return Trigamma.apply(_float(input))
    raise NotImplementedError(f"polygamma: n={n} is not implemented (0 and 1 are)")


def mvlgamma(input, p):
    """The multivariate log-gamma ``p(p-1)/4 · ln π + Σ_{i<p} lgamma(x - i/2)``."""
    x = _float(input)
    offsets = Tensor._wrap(-_xp.arange(p, dtype=x.array.dtype) / 2)
    return _sum(lgamma(unsqueeze(x, -1) + offsets), -1) + p * (p - 1) / 4 * math.log(math.pi)
