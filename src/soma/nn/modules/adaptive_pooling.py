"""Adaptive pooling (fixed output size), global pooling and max unpooling layers.

Global average pooling, the step before a CNN's classifier, is ``AdaptiveAvgPool2d(1)`` (as in
PyTorch); ``GlobalAvgPool2d`` and ``GlobalMaxPool2d`` are soma's small shorthands for it that
also drop the two size-1 dimensions.
"""

from soma.functional._utils import ntuple
from soma.functional.pooling import adaptive as A
from soma.functional.pooling import unpooling as U
from soma.nn.module import Module


class _AdaptiveAvgPoolNd(Module):
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1D adaptive average pooling to ``output_size``; see ``AdaptiveAvgPool2d``."""

    _fn = staticmethod(A.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size, whatever the input size.

    ``AdaptiveAvgPool2d(1)`` is global average pooling: one value per channel.

    Args:
        output_size: (H_out, W_out), or an int for both; None keeps that input size.

    Shape:
        (N, C, H, W) → (N, C, H_out, W_out).

    Example:
        >>> import soma
        >>> tuple(AdaptiveAvgPool2d(1)(soma.zeros(8, 512, 7, 7)).shape)
        (8, 512, 1, 1)
    """

    _fn = staticmethod(A.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3D adaptive average pooling to ``output_size``; see ``AdaptiveAvgPool2d``."""

    _fn = staticmethod(A.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _fn = None

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return type(self)._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1D adaptive max pooling to ``output_size``; see ``AdaptiveMaxPool2d``."""

    _fn = staticmethod(A.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size (windows as in ``AdaptiveAvgPool2d``).

    Args:
        output_size: (H_out, W_out), or an int for both; None keeps that input size.
        return_indices: also return each maximum's flat index in its H·W plane.

    Example:
        >>> import soma
        >>> AdaptiveMaxPool2d(1)(soma.arange(16.0).reshape(1, 1, 4, 4)).flatten().tolist()
        [15.0]
    """

    _fn = staticmethod(A.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3D adaptive max pooling to ``output_size``; see ``AdaptiveMaxPool2d``."""

    _fn = staticmethod(A.adaptive_max_pool3d)


class GlobalAvgPool2d(Module):
    """Global average pooling (soma's shorthand): (N, C, H, W) → (N, C).

    Equal to ``AdaptiveAvgPool2d(1)`` followed by ``Flatten()``.

    Example:
        >>> import soma
        >>> GlobalAvgPool2d()(soma.ones(2, 3, 5, 5)).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    def forward(self, input):
        return A.adaptive_avg_pool2d(input, 1).flatten(-3)


class GlobalMaxPool2d(Module):
    """Global max pooling (soma's shorthand): (N, C, H, W) → (N, C).

    Example:
        >>> import soma
        >>> GlobalMaxPool2d()(soma.arange(8.0).reshape(1, 2, 2, 2)).tolist()
        [[3.0, 7.0]]
    """

    def forward(self, input):
        return A.adaptive_max_pool2d(input, 1).flatten(-3)


class _MaxUnpoolNd(Module):
    _fn = None
    _d = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        layer, d = type(self).__name__, self._d
        self.kernel_size = ntuple(kernel_size, d, layer, "kernel_size")
        self.stride = ntuple(stride if stride is not None else kernel_size, d, layer, "stride")
        self.padding = ntuple(padding, d, layer, "padding")

    def forward(self, input, indices, output_size=None):
        return type(self)._fn(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """1D max unpooling; see ``MaxUnpool2d``."""

    _fn = staticmethod(U.max_unpool1d)
    _d = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Undo ``MaxPool2d(..., return_indices=True)``: maxima back in place, zeros elsewhere.

    Args:
        kernel_size, stride, padding: those of the max pooling being undone.

    ``forward(input, indices, output_size=None)``: ``output_size`` (e.g. the pooled input's
    shape) picks the size when the pooling rounded down.

    Example:
        >>> import soma
        >>> from soma.functional.pooling.max_avg import max_pool2d
        >>> y, i = max_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)
        >>> MaxUnpool2d(2)(y, i)[0, 0]
        tensor([[ 0.,  0.,  0.,  0.],
                [ 0.,  5.,  0.,  7.],
                [ 0.,  0.,  0.,  0.],
                [ 0., 13.,  0., 15.]])
    """

    _fn = staticmethod(U.max_unpool2d)
    _d = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """3D max unpooling; see ``MaxUnpool2d``."""

    _fn = staticmethod(U.max_unpool3d)
    _d = 3
