"""Smooth activations built on exp, erf or log: the ELU family, GELU, SiLU, Mish, Softplus …

Each kernel counts its transcendental calls (they dominate the cost here, see
docs/DEVELOPING.md): one exp/expm1/erf-like evaluation in the forward pass, and a backward
pass that reuses what the forward saved instead of recomputing it. Each is stable for
|x| up to 1e4 and beyond: no overflow or invalid-value warnings, and finite values wherever
PyTorch's are finite.
"""

import math

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, parallel
from soma.backend.special import log1p, normal_cdf
from soma.functional._utils import lift_0d
from soma.functional.activation import _kernels
from soma.functional.unary import _float, exp

_xp = get_xp()

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def _result(x, y, inplace):
    """``y``, or ``x`` overwritten by ``y`` when ``inplace`` (PyTorch's ``inplace=True``)."""
    return x._assign(y) if inplace else y


def _sigmoid_array(x, out=None):
    """σ(x) = 1 / (1 + e^-x) (in ``out`` if given); e^-x overflowing to inf gives the limit 0."""
    s = _xp.negative(x, out=out)
    with _xp.errstate(over="ignore"):
        _xp.exp(s, out=s)
    s += 1.0
    return _xp.reciprocal(s, out=s)


# ---------------------------------------------------------------------------- ELU family
class ELU(Function):
    """y = scale · (max(x, 0) + α (e^{min(x, 0)·s} - 1)), s the input scale (ELU, SELU, CELU)."""

    _backward_name = "EluBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, *, alpha, scale, input_scale):
        ctx.fast = _kernels.fused(x, min_size=1)
        if ctx.fast:
            e, y = _kernels.elu(x, alpha, scale, input_scale)
        else:
            e, y = _xp.empty(x.shape, x.dtype), _xp.empty(x.shape, x.dtype)
            with _xp.errstate(over="ignore"):
                parallel.elementwise(_elu, x, alpha, scale, input_scale, out=(e, y), work=2)
        ctx.save(x, e)
        ctx.slope, ctx.scale = alpha * scale * input_scale, scale
        return y

    @staticmethod
    def backward(ctx, gy):
        x, e = ctx.saved
        if ctx.fast and _kernels.usable(gy, dense=False, min_size=1, like=x):
            return _kernels.grad("elu", gy, (x, e), (ctx.slope, ctx.scale))
        out = _xp.empty(gy.shape, gy.dtype)
        return parallel.elementwise(_elu_grad, gy, x, e, ctx.slope, ctx.scale, out=out)


def _elu(x, alpha, scale, input_scale, out):
    """out ← (e, y): e = e^{min(x, 0)·s} − 1 (one transcendental call), y the ELU."""
    e, y = out
    _xp.clip(x, -_xp.inf, 0.0, out=e)
    if input_scale != 1:
        e *= input_scale
    _xp.expm1(e, out=e)
    _xp.multiply(e, alpha * scale, out=y)
    y += _xp.clip(x, 0.0, _xp.inf) * scale
    return out


def _elu_grad(gy, x, e, slope, scale, out):
    """out ← gy · dy/dx: dy/dx = scale for x > 0, slope·(e + 1) for x <= 0 (e is 0 for x > 0)."""
    _xp.add(e, 1.0, out=out)
    out *= slope
    out += (x > 0) * gy.dtype.type(scale - slope)
    return _xp.multiply(gy, out, out=out)


@lift_0d
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha · (e^x - 1)``.

    Args:
        input: a tensor of any shape.
        alpha: the value approached for large negative inputs is ``-alpha``.
        inplace: overwrite ``input`` with the result.

    Example:
        >>> import soma
        >>> elu(soma.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """
    y = ELU.apply(_float(input), alpha=float(alpha), scale=1.0, input_scale=1.0)
    return _result(input, y, inplace)


@lift_0d
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Scaled ELU, ``scale · elu(x, alpha)`` with the self-normalising constants
    alpha ≈ 1.6733 and scale ≈ 1.0507.

    Example:
        >>> import soma
        >>> selu(soma.tensor([-1.0, 2.0]))
        tensor([-1.1113,  2.1014])
    """
    y = ELU.apply(_float(input), alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)
    return _result(input, y, inplace)


@lift_0d
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Continuously differentiable ELU: ``x`` for ``x > 0``, else ``alpha · (e^{x/alpha} - 1)``.

    Example:
        >>> import soma
        >>> celu(soma.tensor([-1.0, 2.0]), alpha=2.0)
        tensor([-0.7869,  2.0000])
    """
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero (the input is divided by it)")
    y = ELU.apply(_float(input), alpha=float(alpha), scale=1.0, input_scale=1.0 / alpha)
    return _result(input, y, inplace)


# ---------------------------------------------------------------------------- GELU
class GELU(Function):
    """y = x Φ(x), Φ the standard normal CDF."""

    _backward_name = "GeluBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x):
        if _kernels.fused(x, min_size=1):
            cdf, y = _kernels.gelu(x)  # float64 stays on special.erf's Cody fit
        else:
            cdf, y = _xp.empty(x.shape, x.dtype), _xp.empty(x.shape, x.dtype)
            with _xp.errstate(invalid="ignore"):  # -inf · 0 is NaN, as in PyTorch
                parallel.elementwise(_gelu, x, out=(cdf, y))
        ctx.save(x, cdf)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, cdf = ctx.saved
        if (
            _kernels.fused(x, min_size=1)
            and _kernels.usable(gy, dense=False, min_size=1, like=x)
            and cdf.strides == x.strides
        ):
            return _kernels.gelu_grad(gy, x, cdf)
        out = _xp.empty(gy.shape, gy.dtype)
        # NOTE: at x = ±inf, x·φ(x) is inf·0 = NaN, as in PyTorch and the compiled kernel
        with _xp.errstate(invalid="ignore"):
            return parallel.elementwise(_gelu_grad, gy, x, cdf, out=out)


def _gelu(x, out):
    """out ← (Φ(x), x Φ(x))."""
    cdf, y = out
    _xp.copyto(cdf, normal_cdf(x))
    return _xp.multiply(x, cdf, out=y)


def _gelu_grad(gy, x, cdf, out):
    """out ← gy · (Φ(x) + x φ(x)),  φ(x) = e^{-x²/2} / √(2π)."""
    _xp.multiply(x, x, out=out)
    out *= -0.5
    _xp.exp(out, out=out)
    out *= x
    out *= _INV_SQRT_2PI
    out += cdf
    return _xp.multiply(gy, out, out=out)


class GELUTanh(Function):
    """y = ½ x (1 + tanh u), u = √(2/π) (x + 0.044715 x³); computed as x σ(2u) (one exp)."""

    @staticmethod
    def forward(ctx, x):
        v = x * x
        v *= _GELU_CUBIC
        v += 1.0
        v *= x
        v *= 2 * _SQRT_2_OVER_PI  # 2u
        s = _sigmoid_array(v)  # ½ (1 + tanh u) = σ(2u)
        ctx.save(x, s)
        with _xp.errstate(invalid="ignore"):  # -inf · 0 is NaN, as in PyTorch
            return x * s

    @staticmethod
    def backward(ctx, gy):
        x, s = ctx.saved
        # dy/dx = σ + x σ (1 - σ) · 2√(2/π) (1 + 3·0.044715 x²)
        d = x * x
        d *= 3 * _GELU_CUBIC
        d += 1.0
        d *= 2 * _SQRT_2_OVER_PI
        d *= x
        d *= s
        d *= 1.0 - s
        d += s
        return gy * d


@lift_0d
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x Φ(x)`` (Φ the standard normal CDF).

    Args:
        input: a tensor of any shape.
        approximate: ``'none'`` for the exact form (with erf), ``'tanh'`` for
            ``½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    Example:
        >>> import soma
        >>> gelu(soma.tensor([-1.0, 0.0, 2.0]))
        tensor([-0.1587,  0.0000,  1.9545])
    """
    if approximate == "none":
        return GELU.apply(_float(input))
    if approximate == "tanh":
        return GELUTanh.apply(_float(input))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


# ---------------------------------------------------------------------------- SiLU, Mish
class SiLU(Function):
    """y = x σ(x)."""

    _backward_name = "SiluBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x):
        ctx.fast = _kernels.fused(x)
        if ctx.fast:
            s, y = _kernels.silu(x)
        else:
            s, y = _xp.empty(x.shape, x.dtype), _xp.empty(x.shape, x.dtype)
            with _xp.errstate(invalid="ignore"):  # -inf · 0 is NaN, as in PyTorch
                parallel.elementwise(_silu, x, out=(s, y))
        ctx.save(x, s)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, s = ctx.saved
        if ctx.fast and _kernels.usable(gy, dense=False, like=x):
            return _kernels.grad("silu", gy, (x, s))
        out = _xp.empty(gy.shape, gy.dtype)
        # NOTE: at x = -inf, x·(1 - σ) is inf·0 = NaN, as in PyTorch and the compiled kernel
        with _xp.errstate(invalid="ignore"):
            return parallel.elementwise(_silu_grad, gy, x, s, out=out)


def _silu(x, out):
    """out ← (σ(x), x σ(x))."""
    s, y = out
    _sigmoid_array(x, out=s)
    return _xp.multiply(x, s, out=y)


def _silu_grad(gy, x, s, out):
    """out ← gy · σ (1 + x (1 - σ))."""
    _xp.subtract(1.0, s, out=out)
    out *= x
    out += 1.0
    out *= s
    return _xp.multiply(gy, out, out=out)


@lift_0d
def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """Sigmoid-weighted linear unit (Swish): ``x · sigmoid(x)``.

    Example:
        >>> import soma
        >>> silu(soma.tensor([-1.0, 2.0]))
        tensor([-0.2689,  1.7616])
    """
    return _result(input, SiLU.apply(_float(input)), inplace)


swish = silu


class Mish(Function):
    """y = x tanh(softplus x) = x n / (n + 2), n = e^x (e^x + 2)."""

    @staticmethod
    def forward(ctx, x):
        # NOTE: beyond x = 20, tanh(softplus x) is 1 in every float dtype: clip keeps e^x finite
        e = _xp.exp(_xp.clip(x, -_xp.inf, 20.0))
        n = e + 2.0
        n *= e
        t = n + 2.0
        _xp.divide(n, t, out=t)  # tanh(softplus x)
        ctx.save(x, e, n, t)
        with _xp.errstate(invalid="ignore"):  # -inf · 0 is NaN, as in PyTorch
            return x * t

    @staticmethod
    def backward(ctx, gy):
        x, e, n, t = ctx.saved
        # dy/dx = t + x σ(x) sech²(softplus x),  σ = e/(1 + e),  sech² = 4 (n + 1) / (n + 2)²
        q = n + 2.0
        d = n + 1.0
        d /= q
        d /= q  # NOTE: two divisions, as (n + 2)² overflows float32 near x = 20
        d *= 4.0
        s = e + 1.0
        _xp.divide(e, s, out=s)
        d *= s
        d *= x
        d += t
        return gy * d


@lift_0d
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish: ``x · tanh(softplus(x))``.

    Example:
        >>> import soma
        >>> mish(soma.tensor([-1.0, 2.0]))
        tensor([-0.3034,  1.9440])
    """
    return _result(input, Mish.apply(_float(input)), inplace)


# ---------------------------------------------------------------------------- softplus family
class Softplus(Function):
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold."""

    @staticmethod
    def forward(ctx, x, *, beta, threshold):
        ctx.fast, ctx.beta, ctx.threshold = _kernels.fused(x, min_size=1), beta, threshold
        if ctx.fast:
            e, y = _kernels.softplus(x, beta, threshold)
            ctx.save(x, e, None)
            return y
        t = x * beta if beta != 1 else x
        e, y = _xp.empty(x.shape, x.dtype), _xp.empty(x.shape, x.dtype)
        parallel.elementwise(_softplus, t, out=(e, y))
        if beta != 1:
            y /= beta
        linear = t > threshold
        linear = linear if linear.any() else None
        if linear is not None:
            y = _xp.where(linear, x, y)
        ctx.save(t, e, linear)
        return y

    @staticmethod
    def backward(ctx, gy):
        t, e, linear = ctx.saved
        if ctx.fast:  # t is x here
            return _kernels.grad("softplus", gy, (t, e), (ctx.beta, ctx.threshold))
        out = _xp.empty(gy.shape, gy.dtype)
        return parallel.elementwise(_softplus_grad, gy, t, e, linear, out=out)


def _softplus(t, out):
    """out ← (e^{-|t|}, log(1 + e^t)), with log(1 + e^t) = max(t, 0) + log(1 + e^{-|t|})."""
    e, y = out
    _xp.abs(t, out=e)
    _xp.negative(e, out=e)
    _xp.exp(e, out=e)  # e^{-|βx|} <= 1: never overflows
    _xp.copyto(y, log1p(e))
    y += _xp.clip(t, 0.0, _xp.inf)
    return out


def _softplus_grad(gy, t, e, linear, out):
    """out ← gy · dy/dx: σ(βx) = (1 or e)/(1 + e) for βx >= 0 or < 0; 1 where y is linear."""
    _xp.subtract(1.0, e, out=out)
    out *= t >= 0
    out += e
    out /= e + 1.0
    if linear is not None:
        out[linear] = 1.0
    return _xp.multiply(gy, out, out=out)


@lift_0d
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth ReLU ``log(1 + e^{beta·x}) / beta``; linear (``x``) where ``beta·x > threshold``.

    Example:
        >>> import soma
        >>> softplus(soma.tensor([-1.0, 0.0, 30.0]))
        tensor([ 0.3133,  0.6931, 30.0000])
    """
    return Softplus.apply(_float(input), beta=float(beta), threshold=float(threshold))


class LogSigmoid(Function):
    """y = log σ(x) = min(x, 0) - log(1 + e^{-|x|})."""

    @staticmethod
    def forward(ctx, x):
        e = _xp.abs(x)
        _xp.negative(e, out=e)
        _xp.exp(e, out=e)
        y = _xp.clip(x, -_xp.inf, 0.0)
        y -= log1p(e)
        ctx.save(x, e)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, e = ctx.saved
        # dy/dx = σ(-x) = (1 or e)/(1 + e) for x < 0 or >= 0
        d = 1.0 - e
        d *= x < 0
        d += e
        d /= e + 1.0
        return gy * d


@lift_0d
def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed without overflow or log(0).

    Example:
        >>> import soma
        >>> logsigmoid(soma.tensor([-100.0, 0.0]))
        tensor([-100.0000,   -0.6931])
    """
    return LogSigmoid.apply(_float(input))


class Softsign(Function):
    """y = x / (1 + |x|)."""

    @staticmethod
    def forward(ctx, x):
        d = _xp.abs(x)
        d += 1.0
        ctx.save(d)
        with _xp.errstate(invalid="ignore"):  # ±inf / inf is NaN, as in PyTorch
            return x / d

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        return gy / (d * d)  # dy/dx = 1 / (1 + |x|)²


@lift_0d
def softsign(input: Tensor) -> Tensor:
    """Softsign ``x / (1 + |x|)``.

    Example:
        >>> import soma
        >>> softsign(soma.tensor([-3.0, 1.0]))
        tensor([-0.7500,  0.5000])
    """
    return Softsign.apply(_float(input))


class Tanhshrink(Function):
    """y = x - tanh x."""

    @staticmethod
    def forward(ctx, x):
        t = _xp.tanh(x)
        ctx.save(t)
        return x - t

    @staticmethod
    def backward(ctx, gy):
        (t,) = ctx.saved
        return gy * (t * t)  # dy/dx = 1 - (1 - tanh²x) = tanh²x


@lift_0d
def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``.

    Example:
        >>> import soma
        >>> tanhshrink(soma.tensor([0.0, 2.0]))
        tensor([0.0000, 1.0360])
    """
    return Tanhshrink.apply(_float(input))


def exponential(input: Tensor) -> Tensor:
    """The exponential activation ``e^x`` (Keras' ``'exponential'``); same as ``soma.exp``.

    Example:
        >>> import soma
        >>> exponential(soma.tensor([0.0, 1.0]))
        tensor([1.0000, 2.7183])
    """
    return exp(input)
