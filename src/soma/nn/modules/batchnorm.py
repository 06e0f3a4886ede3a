"""Batch normalization layers: learnable γ, β and running statistics kept as buffers.

The state matches PyTorch's one to one (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked`` as int64), so state dicts transfer in both directions.
"""

from soma.autograd.factory import ones, zeros
from soma.backend import int64
from soma.functional.normalization.batch import batch_norm
from soma.nn.module import Module
from soma.nn.parameter import Buffer, Parameter


class _NormBase(Module):
    """Parameters and running statistics shared by batch and instance normalization."""

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        if num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be positive, got {num_features}"
            )
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}"
            )
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.register_parameter(
            "weight", Parameter(ones(num_features, dtype=dtype)) if affine else None
        )
        self.register_parameter(
            "bias", Parameter(zeros(num_features, dtype=dtype)) if affine and bias else None
        )
        if track_running_stats:
            self.running_mean = Buffer(zeros(num_features, dtype=dtype))
            self.running_var = Buffer(ones(num_features, dtype=dtype))
            self.num_batches_tracked = Buffer(zeros((), dtype=int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def _check_channels(self, x, dim=1):
        if x.ndim <= dim or x.shape[dim] != self.num_features:
            raise ValueError(
                f"expected input with {self.num_features} channels (num_features) in dimension "
                f"{dim}, got input of shape {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    _dims = ()

    def forward(self, input):
        if input.ndim not in self._dims:
            wanted = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(
                f"expected {wanted} input, got {input.ndim}D input of shape {tuple(input.shape)}"
            )
        self._check_channels(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch_stats = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if tracked else None,
            self.running_var if tracked else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input; see ``BatchNorm2d``."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalise each channel over the batch and the image: y = (x − E[x])/√(Var[x] + ε)·γ + β.

    Training uses the batch's mean and (biased) variance and updates the running statistics,
    ``running = (1 − momentum)·running + momentum·batch`` with the unbiased variance (a
    cumulative average when ``momentum=None``); evaluation uses the running statistics.

    Args:
        num_features: number of channels C.
        eps: added to the variance (default 1e-5).
        momentum: weight of each new batch in the running statistics (default 0.1), or None.
        affine: learn γ (``weight``, init 1) and β (``bias``, init 0).
        bias: with ``affine``, also learn β (default True; keyword only).
        track_running_stats: keep running statistics; if False, batch statistics are used in
            evaluation too.

    Shape:
        (N, C, H, W) → (N, C, H, W).

    Example:
        >>> import soma
        >>> bn = BatchNorm2d(3)
        >>> y = bn(soma.randn(4, 3, 5, 5))
        >>> y.mean((0, 2, 3)).abs().max().item() < 1e-5
        True
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) input; see ``BatchNorm2d``."""

    _dims = (5,)
