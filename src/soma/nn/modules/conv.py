"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` over a shared ``_ConvNd``.

Weights use PyTorch's layouts, (out, in / groups, *kernel) for convolutions and
(in, out / groups, *kernel) for transposed ones, with PyTorch's names and initialisation, so state
dicts transfer 1:1.
"""

import math
import numbers

from soma.autograd.factory import empty
from soma.functional._utils import ntuple
from soma.functional.conv import convolution as F
from soma.functional.padding import pad
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: arguments, parameters, initialisation, repr."""

    _nd = 2

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed,
        output_padding,
        groups,
        bias,
        padding_mode,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels <= 0 or channels % groups:
                raise ValueError(
                    f"{name}: {what}={channels} must be a positive multiple of groups={groups}"
                )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, nd, name, "kernel_size")
        self.stride = ntuple(stride, nd, name, "stride")
        self.dilation = ntuple(dilation, nd, name, "dilation")
        self.output_padding = ntuple(output_padding, nd, name, "output_padding")
        self.transposed, self.groups, self.padding_mode = transposed, groups, padding_mode
        self.padding = self._check_padding(padding, name)
        self._reversed_padding_repeated_twice = self._explicit_padding()
        shape = (
            (in_channels, out_channels // groups)
            if transposed
            else (out_channels, in_channels // groups)
        )
        self.weight = Parameter(empty(*shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _check_padding(self, padding, name):
        if not isinstance(padding, str):
            return ntuple(padding, self._nd, name, "padding")
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{name}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}"
            )
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(
                f"{name}: padding='same' is not supported for strided "
                f"convolutions (stride={self.stride})"
            )
        return padding

    def _explicit_padding(self):
        """``pad()`` amounts (last dimension first) for padding modes other than zeros."""
        if self.padding == "valid":
            return [0, 0] * self._nd
        if self.padding == "same":
            amounts = []
            for k, d in zip(reversed(self.kernel_size), reversed(self.dilation)):
                total = d * (k - 1)
                amounts += [total // 2, total - total // 2]
            return amounts
        return [p for p in reversed(self.padding) for _ in range(2)]

    def reset_parameters(self, generator=None) -> None:
        # kaiming_uniform_ with a = √5 gives U(−1/√fan_in, 1/√fan_in), PyTorch's default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def extra_repr(self) -> str:
        nd = self._nd
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """A convolution layer (not transposed); subclasses fix the number of dimensions."""

    _function = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input):
        conv = type(self)._function
        if self.padding_mode == "zeros":
            return conv(
                input,
                self.weight,
                self.bias,
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )
        padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution layer over (N, C_in, L) signals; see ``soma.nn.functional.conv1d``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, ``'valid'`` or ``'same'``.
        groups: independent convolutions over channel groups (depthwise: ``in_channels``).
        bias: learn a bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        (N, C_in, L) or (C_in, L) → (N, C_out, L_out) or (C_out, L_out).

    Example:
        >>> import soma
        >>> Conv1d(2, 4, 3, padding="same")(soma.zeros(5, 2, 10)).shape
        soma.Size([5, 4, 10])
    """

    _nd = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution layer over (N, C_in, H, W) images; see ``soma.nn.functional.conv2d``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: int or (height, width).
        padding: int, (pH, pW), ``'valid'`` or ``'same'``.
        groups: independent convolutions over channel groups (depthwise: ``in_channels``).
        bias: learn a bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out), with
        H_out = ⌊(H + 2·pH − dH·(kH − 1) − 1) / sH⌋ + 1 (likewise W_out).

    Weights are (out_channels, in_channels / groups, kH, kW), initialised as in PyTorch.

    Example:
        >>> import soma
        >>> conv = Conv2d(3, 10, kernel_size=5, stride=1, padding=2)
        >>> conv(soma.zeros(1, 3, 32, 32)).shape, conv.weight.numel() + conv.bias.numel()
        (soma.Size([1, 10, 32, 32]), 760)
    """

    _nd = 2
    _function = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution layer over (N, C_in, D, H, W) volumes; see ``conv3d``.

    Args: as ``Conv2d``, with three sizes per argument.

    Shape:
        (N, C_in, D, H, W) or (C_in, D, H, W) → (N, C_out, D_out, H_out, W_out).

    Example:
        >>> import soma
        >>> Conv3d(1, 2, (3, 3, 3), padding=1)(soma.zeros(1, 1, 4, 4, 4)).shape
        soma.Size([1, 2, 4, 4, 4])
    """

    _nd = 3
    _function = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution layer; subclasses fix the number of dimensions."""

    _function = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        if padding_mode != "zeros":
            raise ValueError(
                f'{type(self).__name__}: only padding_mode="zeros" is supported, '
                f"got {padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input, output_size):
        """The output_padding giving ``output_size`` (PyTorch's rule), else the configured one."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) in (nd + 1, nd + 2):
            output_size = output_size[-nd:]
        if len(output_size) != nd:
            raise ValueError(
                f"{type(self).__name__}: output_size must have {nd} spatial sizes "
                f"(or include the batch and channel sizes), got {output_size}"
            )
        smallest = tuple(
            (s - 1) * st - 2 * p + d * (k - 1) + 1
            for s, st, p, d, k in zip(
                input.shape[-nd:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        )
        largest = tuple(lo + st - 1 for lo, st in zip(smallest, self.stride))
        if any(not lo <= s <= hi for s, lo, hi in zip(output_size, smallest, largest)):
            raise ValueError(
                f"{type(self).__name__}: requested an output size of {output_size}, but valid "
                f"sizes range from {smallest} to {largest} (for an input of spatial size "
                f"{tuple(input.shape[-nd:])})"
            )
        return tuple(s - lo for s, lo in zip(output_size, smallest))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._function(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer (up-sampling); see ``conv_transpose1d``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as in
            ``Conv1d``, for the convolution this layer is the transpose of.
        output_padding: extra size added to one side of the output.

    Shape:
        (N, C_in, L) → (N, C_out, (L − 1)·stride − 2·padding + dilation·(k − 1)
        + output_padding + 1). ``forward(x, output_size=...)`` picks output_padding.

    Example:
        >>> import soma
        >>> ConvTranspose1d(4, 2, 3, stride=2)(soma.zeros(1, 4, 5)).shape
        soma.Size([1, 2, 11])
    """

    _nd = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer (up-sampling); see ``conv_transpose2d``.

    Args: as ``ConvTranspose1d``, with (height, width) pairs.

    Shape:
        (N, C_in, H, W) → (N, C_out, H_out, W_out), H_out = (H − 1)·sH − 2·pH + dH·(kH − 1)
        + output_padding + 1. Weights are (in_channels, out_channels / groups, kH, kW).

    Example:
        >>> import soma
        >>> up = ConvTranspose2d(1, 1, kernel_size=2, stride=2, padding=1)
        >>> up(soma.zeros(1, 1, 3, 3)).shape
        soma.Size([1, 1, 4, 4])
    """

    _nd = 2
    _function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution layer (up-sampling); see ``conv_transpose3d``.

    Args: as ``ConvTranspose1d``, with three sizes per argument.

    Example:
        >>> import soma
        >>> ConvTranspose3d(2, 2, 2, stride=2)(soma.zeros(1, 2, 2, 3, 4)).shape
        soma.Size([1, 2, 4, 6, 8])
    """

    _nd = 3
    _function = staticmethod(F.conv_transpose3d)
