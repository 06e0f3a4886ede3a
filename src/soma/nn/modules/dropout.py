"""Dropout layers: active in training mode, the identity in evaluation mode."""

from soma.functional.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from soma.nn.module import Module


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p: float = 0.5, inplace: bool = False, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, self.inplace, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training, scaling the others by 1/(1 − p).

    In evaluation mode (``model.eval()``) it passes its input through unchanged, so the
    expected activation is the same in both modes (inverted dropout).

    Args:
        p: probability of an element being zeroed (default 0.5).
        inplace: overwrite the input.
        generator: a ``soma.Generator`` for the masks (soma's addition; default: the global one).

    Example:
        >>> import soma
        >>> drop = Dropout(0.5)
        >>> y = drop(soma.ones(4, 1000))
        >>> sorted(set(y.flatten().tolist())), drop.eval()(soma.ones(2)).tolist()
        ([0.0, 2.0], [1.0, 1.0])
    """

    _fn = staticmethod(dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``; see ``Dropout``."""

    _fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of (N, C, H, W) input with probability ``p``.

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
    regularises little; dropping whole maps does. 3D input is treated as (N, C, L), with a
    warning, as in PyTorch.

    Example:
        >>> import soma
        >>> y = Dropout2d(0.5)(soma.ones(2, 8, 3, 3))
        >>> sorted(set(y.amax((2, 3)).flatten().tolist()) | set(y.amin((2, 3)).flatten().tolist()))
        [0.0, 2.0]
    """

    _fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input; see ``Dropout2d``."""

    _fn = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalising (SELU) networks: keeps mean 0 and variance 1.

    Dropped units take SELU's negative saturation value, then an affine map restores the
    input's mean and variance. The identity in evaluation mode.

    Example:
        >>> import soma
        >>> y = AlphaDropout(0.2)(soma.randn(200000))
        >>> abs(y.mean().item()) < 0.02, abs(y.std().item() - 1) < 0.02
        (True, True)
    """

    _fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) input; see ``AlphaDropout``."""

    _fn = staticmethod(feature_alpha_dropout)
