"""Lazy layers: the input size is read from the first input, as PyTorch's ``LazyLinear`` and
``LazyConv*d``.

Until the first call, ``weight`` (and ``bias``) are empty placeholder Parameters; the first
``forward`` gives them their shape, initialises them as the eager layer would, and turns the
module into that layer (``LazyLinear`` becomes ``Linear``). The Parameter objects stay the
same, so an optimizer built before the first call trains them. Loading a state dict into a
layer still lazy takes the shapes from the state dict.
"""

from soma.autograd.factory import empty
from soma.autograd.grad_mode import no_grad
from soma.nn.modules.conv import Conv1d, Conv2d, Conv3d
from soma.nn.modules.linear import Linear
from soma.nn.parameter import Parameter


class LazyModuleMixin:
    """What lazy layers share: placeholders, materialisation at the first call, the class
    switch. A subclass sets ``cls_to_become`` and implements ``_in_size(input)`` and
    ``_set_in_size(n)``."""

    cls_to_become = None

    def _placeholders(self, bias: bool, dtype) -> None:
        self.weight = Parameter(empty(0, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(0, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        return type(self) is not self.cls_to_become

    def initialize_parameters(self, input) -> None:
        """Shape the parameters for ``input``, initialise them, become the eager layer."""
        self._materialize(self._in_size(input))
        self.reset_parameters()

    def _materialize(self, in_size: int) -> None:
        self._set_in_size(in_size)
        shape = self._weight_shape()
        with no_grad():
            self.weight.array = empty(*shape, dtype=self.weight.dtype).array
            if self.bias is not None:
                self.bias.array = empty(shape[0], dtype=self.bias.dtype).array
        self.__class__ = self.cls_to_become

    def reset_parameters(self, generator=None) -> None:
        if not self.has_uninitialized_params():
            self.cls_to_become.reset_parameters(self, generator=generator)

    def forward(self, input):
        self.initialize_parameters(input)
        return self.forward(input)  # now the eager layer's forward

    def _materialize_from_state(self, state_dict, prefix: str = "") -> None:
        """Called by ``Module.load_state_dict`` before it compares shapes."""
        key = prefix + "weight"
        if self.has_uninitialized_params() and key in state_dict:
            self._materialize(self._in_size_from_weight(tuple(state_dict[key].shape)))


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last dimension of the first input.

    Example:
        >>> import soma
        >>> layer = LazyLinear(2)
        >>> layer(soma.zeros(5, 3)).shape, type(layer).__name__, layer.weight.shape
        (soma.Size([5, 2]), 'Linear', soma.Size([2, 3]))
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        Linear.__init__(self, 0, out_features, bias, dtype=dtype)
        self._placeholders(bias, dtype)

    def _in_size(self, input):
        return input.shape[-1]

    def _in_size_from_weight(self, shape):
        return shape[1]

    def _set_in_size(self, n):
        self.in_features = n

    def _weight_shape(self):
        return (self.out_features, self.in_features)


class _LazyConvNd(LazyModuleMixin):
    def __init__(
        self,
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
        self.cls_to_become.__init__(
            self,
            groups,  # a placeholder that passes the checks; the first input decides
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            dtype=dtype,
        )
        self.in_channels = 0
        self._placeholders(bias, dtype)

    def _in_size(self, input):
        batched = input.ndim == self._nd + 2
        return input.shape[1] if batched else input.shape[0]

    def _in_size_from_weight(self, shape):
        return shape[1] * self.groups

    def _set_in_size(self, n):
        if n % self.groups:
            raise ValueError(
                f"{type(self).__name__}: the input has {n} channels, not a multiple of "
                f"groups={self.groups}"
            )
        self.in_channels = n

    def _weight_shape(self):
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)


class LazyConv1d(_LazyConvNd, Conv1d):
    """``Conv1d`` whose ``in_channels`` is read from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    """``Conv2d`` whose ``in_channels`` is read from the first input.

    Example:
        >>> import soma
        >>> conv = LazyConv2d(4, 3)
        >>> conv(soma.zeros(1, 3, 8, 8)).shape, conv.weight.shape
        (soma.Size([1, 4, 6, 6]), soma.Size([4, 3, 3, 3]))
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    """``Conv3d`` whose ``in_channels`` is read from the first input."""

    cls_to_become = Conv3d
