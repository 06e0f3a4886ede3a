"""``Unfold`` (sliding blocks to columns, im2col) and ``Fold`` (columns back to an image)."""

from soma.functional.conv.fold import fold, unfold
from soma.nn.module import Module


class Unfold(Module):
    """Extract sliding blocks as columns: (N, C, H, W) → (N, C·kH·kW, L); see ``unfold``.

    Example:
        >>> import soma
        >>> Unfold(kernel_size=2)(soma.zeros(1, 3, 4, 4)).shape
        soma.Size([1, 12, 9])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Fold(Module):
    """Sum columns back into an image: (N, C·kH·kW, L) → (N, C, H, W); see ``fold``.

    Example:
        >>> import soma
        >>> Fold(output_size=(4, 5), kernel_size=2)(soma.zeros(1, 12, 12)).shape
        soma.Size([1, 3, 4, 5])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )
