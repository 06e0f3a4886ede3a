"""Fully connected layers: ``Linear`` (y = x Wᵀ + b), ``Bilinear`` and ``Identity``."""

import math

from soma.autograd.factory import empty
from soma.functional.linalg import einsum, linear
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (a placeholder that accepts and ignores any arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """A layer of neurons: each output is Σ_i w_i x_i + b, the lecture's f(Σ wᵢxᵢ + b) without f.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample (the number of neurons).
        bias: learn an additive bias (default True).

    Shape:
        input (*, in_features) → output (*, out_features)

    Weights are stored as (out_features, in_features) and initialised as PyTorch does,
    U(−1/√in, 1/√in), so state dicts transfer between the two 1:1.

    Example:
        >>> import soma
        >>> layer = Linear(3, 2)
        >>> tuple(layer(soma.zeros(5, 3)).shape)
        (5, 2)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype=None, device=None
    ):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"Linear: feature counts must be non-negative, got ({in_features}, {out_features})"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        # kaiming_uniform_ with a = √5 reduces to U(−1/√fan_in, 1/√fan_in)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"expected input with {self.in_features} features in its last dimension "
                f"(in_features), got input of shape {tuple(x.shape)}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under PyTorch's name for attention's output projection (PyTorch keeps it
    apart from dynamic quantisation); soma has it so that models print as PyTorch's."""


class Bilinear(Module):
    """y_k = x1ᵀ W_k x2 + b_k."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = (
            in1_features,
            in2_features,
            out_features,
        )
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x1, x2):
        y = einsum(
            "bi,kij,bj->bk",
            x1.reshape(-1, self.in1_features),
            self.weight,
            x2.reshape(-1, self.in2_features),
        )
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(tuple(x1.shape[:-1]) + (self.out_features,))

    def extra_repr(self):
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
