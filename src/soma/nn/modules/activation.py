"""Activation layers: thin modules over ``soma.nn.functional`` with PyTorch's signatures.

``inplace=True`` is honoured (the input is overwritten, as in PyTorch). Keras' ``'linear'``
activation is ``nn.Identity``; its ``'exponential'`` is ``Exponential``. ``Step`` and
``Maxout`` come from the lectures and have no PyTorch twin.
"""

import math

from soma import functional as F
from soma.autograd.factory import empty
from soma.functional.activation.gated import glu
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter
from soma.nn.registry import register_activation


def _inplace_repr(inplace):
    return "inplace=True" if inplace else ""


class _Elementwise(Module):
    """An activation without options: y = f(x) element-wise."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return _inplace_repr(self.inplace)


@register_activation("relu", "max(0, x)")
class ReLU(_Elementwise):
    """max(x, 0). Shape: any, output the same shape.

    Example:
        >>> import soma
        >>> ReLU()(soma.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def forward(self, x):
        return F.relu(x, self.inplace)


class SELU(_Elementwise):
    """scale · elu(x, alpha) with the self-normalising constants."""

    def forward(self, x):
        return F.selu(x, self.inplace)


@register_activation("silu", "x·σ(x) (swish)")
class SiLU(_Elementwise):
    """x · sigmoid(x), also called Swish."""

    def forward(self, x):
        return F.silu(x, self.inplace)


Swish = SiLU


class Mish(_Elementwise):
    """x · tanh(softplus(x))."""

    def forward(self, x):
        return F.mish(x, self.inplace)


class Hardsigmoid(_Elementwise):
    """0 below -3, 1 above 3, x/6 + 1/2 between."""

    def forward(self, x):
        return F.hardsigmoid(x, self.inplace)

    def extra_repr(self):
        return ""  # PyTorch does not show inplace here


class Hardswish(_Elementwise):
    """x · relu6(x + 3) / 6."""

    def forward(self, x):
        return F.hardswish(x, self.inplace)

    def extra_repr(self):
        return ""  # PyTorch does not show inplace here


@register_activation("sigmoid", "σ(x) = 1 / (1 + e^-x)")
class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x):
        return F.sigmoid(x)


@register_activation("tanh", "tanh(x)")
class Tanh(Module):
    """tanh x."""

    def forward(self, x):
        return F.tanh(x)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, x):
        return F.softsign(x)


class LogSigmoid(Module):
    """log(sigmoid(x)), without overflow."""

    def forward(self, x):
        return F.logsigmoid(x)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, x):
        return F.tanhshrink(x)


class Exponential(Module):
    """e^x (Keras' ``'exponential'`` activation)."""

    def forward(self, x):
        return F.exponential(x)


@register_activation("leaky_relu", "x for x > 0, 0.01·x below")
class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope · x``.

    Example:
        >>> import soma
        >>> LeakyReLU(0.1)(soma.tensor([-2.0, 3.0]))
        tensor([-0.2000,  3.0000])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class RReLU(Module):
    """Randomised leaky ReLU: x for x ≥ 0, else a · x with a drawn from U(lower, upper) per
    element while training, and a = (lower + upper) / 2 in evaluation."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (
            ", inplace=True" if self.inplace else ""
        )


@register_activation("elu", "x for x > 0, e^x − 1 below")
class ELU(Module):
    """x for x > 0, else ``alpha · (e^x - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x for x > 0, else ``alpha · (e^{x/alpha} - 1)``."""

    def forward(self, x):
        return F.celu(x, self.alpha, self.inplace)


@register_activation("gelu", "x·Φ(x), Φ the standard normal CDF")
class GELU(Module):
    """x Φ(x); ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + e^{beta·x}) / beta, linear where ``beta·x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(
                f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        text = f"min_val={self.min_val}, max_val={self.max_val}"
        return text + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): ``Hardtanh(0, 6)``."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Threshold(Module):
    """x where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        text = f"threshold={self.threshold}, value={self.value}"
        return text + (", inplace=True" if self.inplace else "")


class Hardshrink(Module):
    """x where ``|x| > lambd``, else 0."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return F.hardshrink(x, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x shrunk towards 0 by ``lambd`` (0 within it)."""

    def forward(self, x):
        return F.softshrink(x, self.lambd)


class Step(Module):
    """Binary step: 1 where ``x >= threshold``, else 0 (the perceptron's activation).

    WARNING: its gradient is ZERO EVERYWHERE; layers before it cannot learn through it by
    gradient descent (see ``soma.nn.functional.step``).

    Example:
        >>> import soma
        >>> Step(0.5)(soma.tensor([0.2, 0.5, 0.9]))
        tensor([0., 1., 1.])
    """

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        return F.step(x, self.threshold)

    def extra_repr(self):
        return f"threshold={self.threshold}"


class _Softmaxes(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_Softmaxes):
    """e^{x_i} / Σ_j e^{x_j} along ``dim``.

    Example:
        >>> import soma
        >>> Softmax(dim=0)(soma.tensor([0.0, 0.0]))
        tensor([0.5000, 0.5000])
    """

    def forward(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_Softmaxes):
    """log softmax along ``dim``."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)


class Softmin(_Softmaxes):
    """softmax(-x) along ``dim``."""

    def forward(self, x):
        return F.softmin(x, self.dim)


class PReLU(Module):
    """x for x > 0, else ``a · x`` with a learned slope a (one, or one per channel).

    Args:
        num_parameters: 1 (one slope for all) or the number of channels (dimension 1).
        init: the initial slope.

    Shape:
        input (N, C, *) (or any shape when ``num_parameters`` is 1); output the same shape.

    Example:
        >>> import soma
        >>> PReLU()(soma.tensor([-2.0, 1.0]))
        tensor([-0.5000,  1.0000], grad_fn=<PReLUBackward0>)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be at least 1, got {num_parameters}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.data.fill_(self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Maxout(Module):
    """A maxout layer: ``out_features`` units, each the max of ``pieces`` linear functions.

    y_j = max_{i<k} (w_{jk+i} · x + b_{jk+i}): a ``Linear(in_features, out_features·k)`` whose
    outputs are grouped k at a time (consecutively) and reduced by max (the lecture's
    ``max(w₁ᵀx + b₁, w₂ᵀx + b₂)`` for k = 2). Weights are initialised as ``Linear``'s.

    Args:
        in_features: size of each input sample.
        out_features: number of maxout units.
        pieces: k, the number of linear pieces per unit.
        bias: learn the biases b (default True).

    Shape:
        input (*, in_features) → output (*, out_features); ``weight`` is
        (out_features·pieces, in_features).

    Example:
        >>> import soma
        >>> tuple(Maxout(3, 2, pieces=4)(soma.zeros(5, 3)).shape)
        (5, 2)
    """

    def __init__(
        self, in_features: int, out_features: int, pieces: int, bias: bool = True, dtype=None
    ):
        super().__init__()
        if min(in_features, out_features, pieces) < 1:
            raise ValueError(
                f"Maxout: in_features, out_features and pieces must be positive, got "
                f"({in_features}, {out_features}, {pieces})"
            )
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        self.weight = Parameter(empty(out_features * pieces, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features * pieces, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Maxout: expected input with {self.in_features} features in its "
                f"last dimension, got shape {tuple(x.shape)}"
            )
        return F.maxout(F.linear(x, self.weight, self.bias), self.pieces, dim=-1)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}, bias={self.bias is not None}"
        )


__all__ = [
    "CELU",
    "ELU",
    "Exponential",
    "GELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Maxout",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Step",
    "Swish",
    "Tanh",
    "Tanhshrink",
    "Threshold",
]


class GLU(Module):
    """Gated linear unit ``a ⊗ σ(b)``, the input halved along ``dim`` into a and b.

    Shape:
        (*, 2M, *) → (*, M, *).

    Example:
        >>> import soma
        >>> GLU()(soma.zeros(3, 4)).shape
        soma.Size([3, 2])
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels at every spatial position: (N, C, H, W) or (C, H, W)."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected an input of 3 or 4 dimensions, got {tuple(input.shape)}"
            )
        return F.softmax(input, -3)
