"""Gated and randomised activations: GLU (one half gates the other), RReLU (a leaky ReLU with
a random slope while training) and the Gumbel-softmax (a differentiable sample of a category);
and the ``F.relu_``-style in-place forms of the activations that have one in PyTorch.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random
from soma.functional._utils import ShapeError, normalize_axis, shape_str
from soma.functional.activation.piecewise import hardtanh, leaky_relu, relu, threshold
from soma.functional.activation.smooth import _sigmoid_array, celu, elu, selu
from soma.functional.activation.softmax import softmax
from soma.functional.unary import _float

_xp = get_xp()


class GLU(Function):
    """y = a · σ(b), with x split in halves a, b along one axis."""

    @staticmethod
    def forward(ctx, x, axis):
        a, b = _xp.split(x, 2, axis=axis)
        s = _sigmoid_array(b)
        ctx.save(a, s)
        ctx.axis = axis
        return a * s

    @staticmethod
    def backward(ctx, gy):
        a, s = ctx.saved
        # dy/da = σ(b),  dy/db = a σ(b) (1 - σ(b))
        return _xp.concatenate([gy * s, gy * a * s * (1 - s)], axis=ctx.axis)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split ``input`` in two halves a, b along ``dim``; ``a * sigmoid(b)``.

    Shape:
        (*, 2N, *) → (*, N, *)

    Example:
        >>> import soma
        >>> glu(soma.tensor([2.0, 0.0])).tolist()
        [1.0]
    """
    x = _float(input)
    axis = normalize_axis(dim, x.array.ndim, "glu")
    if x.array.ndim == 0 or x.array.shape[axis] % 2:
        raise ShapeError(
            f"glu: halving dimension {dim} of input {shape_str(x.shape)} needs an even size"
        )
    return GLU.apply(x, axis)


class RReLU(Function):
    """y = x for x >= 0, else a · x with a slope ``a`` per element."""

    @staticmethod
    def forward(ctx, x, slope):
        factor = _xp.where(x >= 0, 1, slope).astype(x.dtype, copy=False)
        ctx.save(factor)
        return x * factor

    @staticmethod
    def backward(ctx, gy):
        (factor,) = ctx.saved
        return gy * factor


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False, generator=None):
    """Randomised leaky ReLU: the negative slope is drawn uniformly from [lower, upper] per
    element while training, and is (lower + upper) / 2 otherwise."""
    x = _float(input)
    if training:
        rng = _random.draws(generator)
        slope = rng.uniform(lower, upper, x.array.shape).astype(x.array.dtype)
    else:
        slope = (lower + upper) / 2
    y = RReLU.apply(x, slope)
    return input._assign(y) if inplace else y


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1, generator=None):
    """A differentiable sample from the categorical distribution of ``logits``:
    ``softmax((logits + g) / tau)`` with g standard Gumbel noise.

    With ``hard=True`` the result is the one-hot vector of the sample's argmax, with the soft
    sample's gradient (the straight-through estimator).
    """
    rng = _random.draws(generator)
    x = _float(logits)
    gumbels = -_xp.log(rng.exponential(1.0, x.array.shape)).astype(x.array.dtype)
    y = softmax((x + Tensor._wrap(gumbels)) / tau, dim)
    if not hard:
        return y
    axis = normalize_axis(dim, y.array.ndim, "gumbel_softmax")
    index = _xp.expand_dims(y.array.argmax(axis=axis), axis)
    one_hot = _xp.zeros_like(y.array)
    _xp.put_along_axis(one_hot, index, 1, axis=axis)
    return Tensor._wrap(one_hot) - y.detach() + y


# ---------------------------------------------------------------------------- in-place forms
def relu_(input):
    """``relu(input, inplace=True)``."""
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    """``leaky_relu(input, negative_slope, inplace=True)``."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input, alpha=1.0):
    """``elu(input, alpha, inplace=True)``."""
    return elu(input, alpha, inplace=True)


def selu_(input):
    """``selu(input, inplace=True)``."""
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    """``celu(input, alpha, inplace=True)``."""
    return celu(input, alpha, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """``hardtanh(input, min_val, max_val, inplace=True)``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold_value, value):
    """``threshold(input, threshold, value, inplace=True)``."""
    return threshold(input, threshold_value, value, inplace=True)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    """``rrelu(input, lower, upper, training, inplace=True)``."""
    return rrelu(input, lower, upper, training, inplace=True, generator=generator)
