"""Piecewise-linear activations (the ReLU family, hard variants, shrinkage, step) and maxout.

The smooth, exponential-based activations live in ``smooth_activation.py`` and the softmax
family in ``softmax_family.py``; both are re-exported here, so every activation can be
imported from ``soma.functional.activation.piecewise``.

Kernels follow docs/DEVELOPING.md: ``clip`` with two bounds (NumPy's vectorised path) instead of
``maximum(x, 0)``, masks multiplied in instead of ``where``, and gradients built from what the
forward pass saved. Every one is exact at ±inf and propagates NaN as PyTorch does.

``inplace=True`` is honoured as in PyTorch: the input tensor is overwritten with the result (or,
when it is part of a graph, takes the result's place in it); a leaf that requires grad refuses.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, parallel
from soma.functional._utils import lift_0d, normalize_axis, shape_str
from soma.functional.activation import _kernels
from soma.functional.shape import unflatten
from soma.functional.unary import _float, sigmoid, tanh

_xp = get_xp()


def _result(x, y, inplace):
    """``y``, or ``x`` overwritten by ``y`` when ``inplace`` (PyTorch's ``inplace=True``)."""
    return x._assign(y) if inplace else y


# ---------------------------------------------------------------------------- ReLU family
class ReLU(Function):
    """y = max(x, 0)."""

    _backward_name = "ReluBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "f":  # NOTE: empty_like keeps a channels-last input's layout
            y = parallel.elementwise(_relu, x, out=_xp.empty_like(x))
        else:
            y = x * (x > 0)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        if _kernels.usable(y) and _kernels.usable(gy, dense=False, like=y):
            return _kernels.grad("relu", gy, (y,))
        # dy/dx = 1 for x > 0, else 0; the result in the activation's layout (a strided
        # gradient, e.g. from a padded depthwise convolution, must not turn the layers before
        # this one to another layout)
        out = _xp.empty_like(y, dtype=gy.dtype)
        return parallel.elementwise(_times_positive, gy, y, out=out)


def _relu(x, out):
    return _xp.clip(x, 0, _xp.inf, out=out)


def _times_positive(gy, y, out):
    """out ← gy · (y > 0)."""
    return _xp.multiply(gy, y > 0, out=out)


@lift_0d
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """Rectified linear unit, ``max(x, 0)`` element-wise.

    Args:
        input: a tensor of any shape.
        inplace: overwrite ``input`` with the result.

    Example:
        >>> import soma
        >>> relu(soma.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    return _result(input, ReLU.apply(input), inplace)


class LeakyReLU(Function):
    """y = x for x > 0, else slope · x (PReLU with a learned slope is ``PReLU``)."""

    _backward_name = "LeakyReluBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, *, slope):
        ctx.slope = slope
        if _kernels.usable(x):  # one pass each way; the backward reads x
            ctx.save(x)
            ctx.fast = True
            return _kernels.leaky_relu(x, slope)
        ctx.fast = False
        # NOTE: one factor array (1 or slope) serves both passes: y = x·f, dy/dx = f
        factor, y = _xp.empty(x.shape, x.dtype), _xp.empty(x.shape, x.dtype)
        parallel.elementwise(_leaky_relu, x, slope, out=(factor, y))
        ctx.save(factor)
        return y

    @staticmethod
    def backward(ctx, gy):
        if ctx.fast:
            (x,) = ctx.saved
            if _kernels.usable(gy, dense=False, like=x):
                return _kernels.grad("leaky_relu", gy, (x,), (ctx.slope,))
            return gy * _xp.where(x > 0, x.dtype.type(1), x.dtype.type(ctx.slope))
        (factor,) = ctx.saved
        return parallel.elementwise(_xp.multiply, gy, factor, out=_xp.empty(gy.shape, gy.dtype))


def _leaky_relu(x, slope, out):
    """out ← (f, x·f) with f = 1 for x > 0, else slope."""
    factor, y = out
    _xp.multiply(x > 0, x.dtype.type(1 - slope), out=factor)
    factor += slope
    return _xp.multiply(x, factor, out=y)


@lift_0d
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """Leaky ReLU: ``x`` for ``x > 0``, else ``negative_slope · x``.

    Args:
        input: a tensor of any shape.
        negative_slope: slope for negative inputs (the lectures use 0.01 or 0.1).
        inplace: overwrite ``input`` with the result.

    Example:
        >>> import soma
        >>> leaky_relu(soma.tensor([-2.0, 3.0]), 0.1)
        tensor([-0.2000,  3.0000])
    """
    return _result(input, LeakyReLU.apply(_float(input), slope=float(negative_slope)), inplace)


class PReLU(Function):
    """y = x for x > 0, else w_c · x, with one learned slope per channel (or one in all)."""

    @staticmethod
    def forward(ctx, x, w):
        wb = _channel_view(w, x.ndim)
        negative = x <= 0
        factor = wb * negative
        factor += ~negative
        ctx.save(x, negative, factor)
        ctx.w_shape = w.shape
        return x * factor

    @staticmethod
    def backward(ctx, gy):
        x, negative, factor = ctx.saved
        gx = gy * factor if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            # dy/dw_c = x where x <= 0 (summed over every position of channel c)
            g = gy * x * negative
            per_channel = ctx.w_shape[0] > 1
            axes = tuple(i for i in range(g.ndim) if not (per_channel and i == 1))
            gw = g.sum(axis=axes).reshape(ctx.w_shape)
        return gx, gw


def _channel_view(w, ndim):
    """Weight of shape (C,) broadcast along dim 1 (PyTorch's channel dim) of an ndim input."""
    if w.size == 1:
        return w.reshape(())
    return w.reshape((1, w.size) + (1,) * (ndim - 2))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: ``x`` for ``x > 0``, else ``weight · x``, weight learned per channel.

    Args:
        input: a tensor whose dimension 1 holds the channels (any shape for one weight).
        weight: one slope (shape (1,)) or one per channel (shape (C,)).

    Shape:
        input (N, C, *) (or any shape with one weight); output the same shape.

    Example:
        >>> import soma
        >>> prelu(soma.tensor([[-2.0, 1.0]]), soma.tensor([0.25]))
        tensor([[-0.5000,  1.0000]])
    """
    input = _float(input)
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise ValueError(
            f"prelu: weight has {n} elements but the input of shape {shape_str(input.shape)} "
            f"has {channels} channels (dimension 1; inputs under 2-d have one); "
            f"use one weight or one per channel"
        )
    return PReLU.apply(input, weight)


class Hardtanh(Function):
    """y = clip(x, lo, hi): hardtanh, relu6 (0, 6) and the clipping activations."""

    @staticmethod
    def forward(ctx, x, *, lo, hi):
        ctx.save(x)
        ctx.lo, ctx.hi = lo, hi
        return _xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        inside = x > ctx.lo
        inside &= x < ctx.hi
        return gy * inside  # dy/dx = 1 strictly inside (lo, hi), else 0


@lift_0d
def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """Hard tanh: ``x`` clipped to ``[min_val, max_val]``.

    Args:
        input: a tensor of any shape.
        min_val, max_val: the clipping range (``min_val <= max_val``).
        inplace: overwrite ``input`` with the result.

    Example:
        >>> import soma
        >>> hardtanh(soma.tensor([-3.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})"
        )
    kind = input.array.dtype.kind if isinstance(input, Tensor) else "f"
    if kind in "iub":  # PyTorch clips integers in their own dtype
        return _result(
            input, Hardtanh.apply(input, **_integer_limits(input, min_val, max_val)), inplace
        )
    return _result(input, Hardtanh.apply(_float(input), lo=min_val, hi=max_val), inplace)


def _integer_limits(x, min_val, max_val):
    """hardtanh's limits for an integer tensor, truncated toward zero as PyTorch does (−1.5 →
    −1); bool inputs, and negative limits for unsigned ones, refused as PyTorch refuses them."""
    dtype = x.array.dtype
    if dtype.kind == "b":
        raise RuntimeError("hardtanh: bool inputs are not supported")
    if dtype.kind == "u" and min_val < 0:
        raise RuntimeError(
            f"hardtanh: an unsigned input ({dtype}) cannot be clipped with a negative limit "
            f"(min_val={min_val})"
        )
    return dict(lo=int(min_val), hi=int(max_val))


@lift_0d
def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU capped at 6: ``min(max(x, 0), 6)``.

    Example:
        >>> import soma
        >>> relu6(soma.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


class Threshold(Function):
    """y = x where x > threshold, else value."""

    @staticmethod
    def forward(ctx, x, *, threshold, value):
        above = x > threshold
        ctx.save(above)
        # NOTE: where, not a mask product: -inf · 0 would give NaN
        return _xp.where(above, x, x.dtype.type(value))

    @staticmethod
    def backward(ctx, gy):
        (above,) = ctx.saved
        return gy * above


@lift_0d
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """Keep ``x`` where ``x > threshold``, replace it by ``value`` elsewhere.

    Example:
        >>> import soma
        >>> threshold(soma.tensor([0.5, 1.5]), 1.0, -9.0)
        tensor([-9.0000,  1.5000])
    """
    kind = input.array.dtype.kind if isinstance(input, Tensor) else "f"
    if kind == "b":
        raise NotImplementedError("threshold: bool inputs are not supported (as in PyTorch)")
    if kind in "iu":  # PyTorch keeps the integers' dtype: value truncated toward zero
        y = Threshold.apply(input, threshold=float(threshold), value=int(value))
    else:
        y = Threshold.apply(_float(input), threshold=float(threshold), value=float(value))
    return _result(input, y, inplace)


# ---------------------------------------------------------------------------- hard sigmoid / swish
class Hardsigmoid(Function):
    """y = clip(x/6 + 1/2, 0, 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        y = x * (1 / 6)
        y += 0.5
        return _xp.clip(y, 0.0, 1.0, out=y)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        inside = x > -3.0
        inside &= x < 3.0
        return gy * inside * gy.dtype.type(1 / 6)  # dy/dx = 1/6 on (-3, 3), else 0


@lift_0d
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Piecewise-linear sigmoid: 0 below -3, 1 above 3, ``x/6 + 1/2`` between.

    Example:
        >>> import soma
        >>> hardsigmoid(soma.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _result(input, Hardsigmoid.apply(_float(input)), inplace)


class Hardswish(Function):
    """y = x · clip(x + 3, 0, 6) / 6."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        y = x + 3.0
        _xp.clip(y, 0.0, 6.0, out=y)
        with _xp.errstate(invalid="ignore"):  # -inf · 0 is NaN, as in PyTorch
            y *= x
        y *= 1 / 6
        return y

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved
        # dy/dx = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3 (PyTorch's sides)
        d = x * (1 / 3)
        d += 0.5
        d *= (x > -3.0) & (x < 3.0)
        d += x >= 3.0
        return gy * d


@lift_0d
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hard swish (MobileNetV3): ``x · relu6(x + 3) / 6``.

    Example:
        >>> import soma
        >>> hardswish(soma.tensor([-4.0, 1.0, 4.0]))
        tensor([-0.0000, 0.6667, 4.0000])
    """
    return _result(input, Hardswish.apply(_float(input)), inplace)


# ---------------------------------------------------------------------------- shrinkage
class Hardshrink(Function):
    """y = x where |x| > λ, else 0."""

    @staticmethod
    def forward(ctx, x, *, lambd):
        outside = _xp.abs(x) > lambd
        ctx.save(outside)
        return x * outside

    @staticmethod
    def backward(ctx, gy):
        (outside,) = ctx.saved
        return gy * outside


@lift_0d
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Zero the entries with ``|x| <= lambd``, keep the others.

    Example:
        >>> import soma
        >>> hardshrink(soma.tensor([-1.0, 0.2, 0.7]))
        tensor([-1.0000,  0.0000,  0.7000])
    """
    return Hardshrink.apply(_float(input), lambd=float(lambd))


class Softshrink(Function):
    """y = x - λ for x > λ, x + λ for x < -λ, else 0  (= x - clip(x, -λ, λ))."""

    @staticmethod
    def forward(ctx, x, *, lambd):
        y = x - _xp.clip(x, -lambd, lambd)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return gy * (y != 0)  # dy/dx = 1 for |x| > λ (exactly where y ≠ 0), else 0


@lift_0d
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Soft thresholding: shrink every entry towards 0 by ``lambd`` (entries within it become 0).

    Example:
        >>> import soma
        >>> softshrink(soma.tensor([-1.0, 0.2, 0.75]))
        tensor([-0.5000,  0.0000,  0.2500])
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be greater or equal to 0, got {lambd}")
    return Softshrink.apply(_float(input), lambd=float(lambd))


# ---------------------------------------------------------------------------- step, maxout
class Step(Function):
    """y = 1 where x >= θ, else 0; its gradient is zero everywhere."""

    @staticmethod
    def forward(ctx, x, *, threshold):
        return (x >= threshold).astype(x.dtype)

    @staticmethod
    def backward(ctx, gy):
        return _xp.zeros_like(gy)  # flat on both sides; the jump at θ has no derivative


def step(input: Tensor, threshold: float = 0.0) -> Tensor:
    """Binary step (the perceptron's activation): 1 where ``x >= threshold``, else 0.

    WARNING: the gradient is ZERO EVERYWHERE (the function is flat on both sides of the jump
    and the jump itself has no derivative). Nothing placed before a step can learn by gradient
    descent through it; use it for inference, perceptron-rule demos, or replace it by
    ``sigmoid`` while training.

    Args:
        input: a tensor of any shape.
        threshold: θ; inputs equal to θ give 1 (the lectures' ``a >= θ``).

    Example:
        >>> import soma
        >>> step(soma.tensor([-0.5, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """
    return Step.apply(_float(input), threshold=float(threshold))


def maxout(input: Tensor, pieces: int, dim: int = 1) -> Tensor:
    """Maxout: the maximum over groups of ``pieces`` consecutive channels along ``dim``.

    Channel ``c`` of the output is ``max(x[c·k], …, x[c·k + k - 1])`` with ``k = pieces``; the
    gradient goes to the first maximum of each group (as ``max(dim)`` does).

    Args:
        input: a tensor whose size along ``dim`` is a multiple of ``pieces``.
        pieces: k, the number of linear pieces per output channel.
        dim: the channel dimension.

    Shape:
        input (*, C·k, *) → output (*, C, *) (``dim`` shrinks by the factor k).

    Example:
        >>> import soma
        >>> maxout(soma.tensor([[1.0, 3.0, -2.0, -5.0]]), pieces=2)
        tensor([[ 3., -2.]])
    """
    axis = normalize_axis(dim, input.ndim, "maxout")
    size = input.shape[axis]
    if pieces < 1 or size % pieces:
        raise ValueError(
            f"maxout: the size of dimension {dim} of the input {shape_str(input.shape)} "
            f"({size}) must be a multiple of pieces ({pieces})"
        )
    grouped = unflatten(_float(input), axis, (size // pieces, pieces))
    return grouped.max(axis + 1).values


# NOTE: re-exports, so that every activation is importable from this module
from soma.functional.activation.smooth import (  # noqa: E402
    celu,
    elu,
    exponential,
    gelu,
    logsigmoid,
    mish,
    selu,
    silu,
    softplus,
    softsign,
    tanhshrink,
)
from soma.functional.activation.softmax import log_softmax, softmax, softmin  # noqa: E402

__all__ = [
    "celu",
    "elu",
    "exponential",
    "gelu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "maxout",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "step",
    "tanh",
    "tanhshrink",
    "threshold",
]
