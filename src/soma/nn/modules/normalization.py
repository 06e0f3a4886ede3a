"""Per-sample normalization layers: layer, group and instance norm, and local response norm."""

import numbers
import warnings

from soma.autograd.factory import ones, zeros
from soma.functional.normalization.layer import group_norm, instance_norm, layer_norm
from soma.functional.normalization.local_response import local_response_norm
from soma.functional.normalization.rms import rms_norm
from soma.nn.module import Module
from soma.nn.modules.batchnorm import _NormBase
from soma.nn.parameter import Parameter


class LayerNorm(Module):
    """Normalise each sample over its last dimensions, then scale and shift element-wise.

    Args:
        normalized_shape: the trailing shape the statistics are taken over (int or tuple).
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn ``weight`` (init 1) of ``normalized_shape``.
        bias: also learn ``bias`` (init 0) when ``elementwise_affine``.

    Shape:
        (*, *normalized_shape) → same shape.

    Example:
        >>> import soma
        >>> ln = LayerNorm(4)
        >>> ln(soma.tensor([[1.0, 2.0, 3.0, 4.0]])).sum().abs().item() < 1e-5
        True
    """

    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Root-mean-square normalisation: ``x / √(mean(x²) + ε) · w`` over the last dimensions.

    Args:
        normalized_shape: the trailing shape the mean square is taken over (int or tuple).
        eps: added to the mean square (default: the machine epsilon of the input's dtype).
        elementwise_affine: learn ``weight`` (init 1) of ``normalized_shape``.

    Example:
        >>> import soma
        >>> RMSNorm(2, eps=0.0)(soma.tensor([[3.0, 4.0]]))
        tensor([[0.8485, 1.1314]], grad_fn=<MulBackward0>)
    """

    def __init__(
        self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None
    ):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1

    def forward(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


class GroupNorm(Module):
    """Normalise each group of channels of each sample, then scale and shift per channel.

    Args:
        num_groups: number of groups the channels are split into.
        num_channels: number of channels C (divisible by ``num_groups``).
        eps: added to the variance.
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0).
        bias: also learn ``bias`` when ``affine`` (default True).

    Example:
        >>> import soma
        >>> tuple(GroupNorm(2, 4)(soma.randn(3, 4, 5)).shape)
        (3, 4, 5)
    """

    def __init__(
        self, num_groups, num_channels, eps=1e-5, affine=True, bias=True, device=None, dtype=None
    ):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                f"num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self.register_parameter(
            "weight", Parameter(ones(num_channels, dtype=dtype)) if affine else None
        )
        self.register_parameter(
            "bias", Parameter(zeros(num_channels, dtype=dtype)) if affine and bias else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"expected input with {self.num_channels} channels (num_channels) "
                f"in dimension 1, got input of shape {tuple(input.shape)}"
            )
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_NormBase):
    _d = 0

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input):
        d = self._d
        if input.ndim not in (d + 1, d + 2):
            raise ValueError(
                f"expected {d + 1}D (unbatched) or {d + 2}D input, got "
                f"{input.ndim}D input of shape {tuple(input.shape)}"
            )
        dim = input.ndim - d - 1
        if input.shape[dim] != self.num_features:
            if self.affine or self.track_running_stats:
                self._check_channels(input, dim)
            warnings.warn(
                f"{type(self).__name__}({self.num_features}) got input of shape "
                f"{tuple(input.shape)} with {input.shape[dim]} channels",
                stacklevel=2,
            )
        x = input.unsqueeze(0) if dim == 0 else input
        y = instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return y.squeeze(0) if dim == 0 else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L) input; see ``InstanceNorm2d``."""

    _d = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each image over its pixels (style transfer, GANs).

    Args:
        num_features: number of channels C.
        eps, momentum: as in ``BatchNorm2d``.
        affine: learn per-channel γ, β (default False, unlike batch norm).
        track_running_stats: keep running statistics and use them in evaluation (default
            False: instance statistics are always used).

    Example:
        >>> import soma
        >>> y = InstanceNorm2d(3)(soma.randn(2, 3, 4, 4))
        >>> y.mean((2, 3)).abs().max().item() < 1e-5
        True
    """

    _d = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W) input; see ``InstanceNorm2d``."""

    _d = 3


class LocalResponseNorm(Module):
    """AlexNet's local response normalization across channels.

    ``y_c = x_c / (k + α/n · Σ_{c' near c} x_c'²)^β`` over ``n = size`` neighbouring channels.

    Args:
        size: number of neighbouring channels.
        alpha, beta, k: the constants (defaults 1e-4, 0.75, 1).

    Example:
        >>> import soma
        >>> tuple(LocalResponseNorm(5)(soma.randn(1, 8, 4, 4)).shape)
        (1, 8, 4, 4)
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        if size < 1:
            raise ValueError(f"LocalResponseNorm: size must be positive, got {size}")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
