"""Pooling layers with fixed windows: max, average, min, sum and power-average (LP) pooling.

Each layer stores its window arguments and calls one function of ``soma.functional``; see
``soma/functional/pooling/max_avg.py`` for the semantics (PyTorch's, including ``ceil_mode`` and the
index convention of ``return_indices``). ``MinPool*`` and ``SumPool*`` are soma's additions for
the min and sum pooling the lectures list; PyTorch's spelling of sum pooling is
``LPPool2d(1, kernel_size)``.
"""

from soma.functional.pooling import lp_min_sum as V
from soma.functional.pooling import max_avg as P
from soma.nn.module import Module


def _positive(layer, name, value):
    values = (value,) if isinstance(value, int) else tuple(value)
    if any(v <= 0 for v in values):
        raise ValueError(f"{layer}: {name} must be positive, got {value}")


def _single(value):
    return (value,) if isinstance(value, int) else tuple(value)


class _MaxPoolNd(Module):
    _fn = None

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices=False,
        ceil_mode=False,
    ):
        super().__init__()
        layer = type(self).__name__
        _positive(layer, "kernel_size", kernel_size)
        _positive(layer, "dilation", dilation)
        if stride is not None:
            _positive(layer, "stride", stride)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """1D max pooling layer over (N, C, L) input; see ``MaxPool2d``."""

    _fn = staticmethod(P.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2D max pooling: keep the largest value of each window of each channel.

    Args:
        kernel_size: window size (int or (kH, kW)).
        stride: step between windows (default: ``kernel_size``).
        padding: −∞ padding on each side (at most half the window).
        dilation: spacing between window elements.
        return_indices: also return the flat in-plane index of each maximum (for MaxUnpool2d).
        ceil_mode: round the output size up instead of down.

    Shape:
        (N, C, H, W) → (N, C, H_out, W_out); ``H_out = ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1``.

    Example:
        >>> import soma
        >>> pool = MaxPool2d(2)
        >>> tuple(pool(soma.zeros(1, 3, 28, 28)).shape)
        (1, 3, 14, 14)
    """

    _fn = staticmethod(P.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3D max pooling layer over (N, C, D, H, W) input; see ``MaxPool2d``."""

    _fn = staticmethod(P.max_pool3d)


class MinPool1d(_MaxPoolNd):
    """1D min pooling (soma's addition); see ``MinPool2d``."""

    _fn = staticmethod(V.min_pool1d)


class MinPool2d(_MaxPoolNd):
    """2D min pooling (soma's addition): the smallest value of each window, −MaxPool2d(−x).

    Same arguments and output size as ``MaxPool2d``.

    Example:
        >>> import soma
        >>> MinPool2d(2)(soma.arange(16.0).reshape(1, 1, 4, 4)).flatten().tolist()
        [0.0, 2.0, 8.0, 10.0]
    """

    _fn = staticmethod(V.min_pool2d)


class MinPool3d(_MaxPoolNd):
    """3D min pooling (soma's addition); see ``MinPool2d``."""

    _fn = staticmethod(V.min_pool3d)


class _AvgPoolNd(Module):
    _fn = None

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        super().__init__()
        layer = type(self).__name__
        _positive(layer, "kernel_size", kernel_size)
        if stride is not None:
            _positive(layer, "stride", stride)
        if divisor_override is not None and divisor_override == 0:
            raise ValueError(f"{layer}: divisor_override must be non-zero")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return type(self)._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1D average pooling layer over (N, C, L) input; see ``AvgPool2d`` (no divisor_override)."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
    ):
        # NOTE: stored as 1-tuples, as PyTorch's AvgPool1d does (its repr shows them)
        super().__init__(
            _single(kernel_size),
            None if stride is None else _single(stride),
            _single(padding),
            ceil_mode,
            count_include_pad,
        )

    def forward(self, input):
        return P.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(_AvgPoolNd):
    """2D average pooling: the mean of each window of each channel.

    Args:
        kernel_size, stride, padding, ceil_mode: as in ``MaxPool2d`` (zero padding).
        count_include_pad: include the zero padding in each window's divisor (default True).
        divisor_override: divide every window's sum by this number instead.

    Example:
        >>> import soma
        >>> AvgPool2d(2)(soma.ones(1, 1, 4, 4)).flatten().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    _fn = staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3D average pooling layer over (N, C, D, H, W) input; see ``AvgPool2d``."""

    _fn = staticmethod(P.avg_pool3d)


class _SumPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        _positive(type(self).__name__, "kernel_size", kernel_size)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class SumPool1d(_SumPoolNd):
    """1D sum pooling (soma's addition); see ``SumPool2d``."""

    _fn = staticmethod(V.sum_pool1d)


class SumPool2d(_SumPoolNd):
    """2D sum pooling (soma's addition, named by the lectures): the sum of each window.

    ``AvgPool2d`` without the division (PyTorch: ``LPPool2d(1, k)`` or
    ``AvgPool2d(k, divisor_override=1)``).

    Example:
        >>> import soma
        >>> SumPool2d(2)(soma.ones(1, 1, 4, 4)).flatten().tolist()
        [4.0, 4.0, 4.0, 4.0]
    """

    _fn = staticmethod(V.sum_pool2d)


class SumPool3d(_SumPoolNd):
    """3D sum pooling (soma's addition); see ``SumPool2d``."""

    _fn = staticmethod(V.sum_pool3d)


class _LPPoolNd(Module):
    _fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        _positive(type(self).__name__, "kernel_size", kernel_size)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._fn(
            input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode
        )

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    """1D power-average pooling; see ``LPPool2d``."""

    _fn = staticmethod(V.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """2D power-average pooling ``(Σ_window x^p)^(1/p)``: p = 1 is sum pooling, p = ∞ max pooling.

    Args:
        norm_type: the power p.
        kernel_size, stride, ceil_mode: as in ``MaxPool2d`` (no padding).

    Example:
        >>> import soma
        >>> LPPool2d(1, 2)(soma.ones(1, 1, 2, 2)).flatten().tolist()
        [4.0]
    """

    _fn = staticmethod(V.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """3D power-average pooling; see ``LPPool2d``."""

    _fn = staticmethod(V.lp_pool3d)
