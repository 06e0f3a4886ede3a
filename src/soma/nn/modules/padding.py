"""Padding layers: constant (and zero), reflection, replication and circular, in 1, 2 and 3-D.

Each is a thin module over ``soma.nn.functional.pad``. ``padding`` is an int (the same amount on
every side) or a tuple of (before, after) amounts from the last dimension backwards:
(left, right) in 1-D, (left, right, top, bottom) in 2-D, and (…, front, back) in 3-D.
"""

import numbers

from soma.functional.padding import pad
from soma.nn.module import Module


class _PadNd(Module):
    """Shared constructor and forward; subclasses set the mode and the number of dimensions."""

    _nd = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        n = 2 * self._nd
        if isinstance(padding, numbers.Integral):
            padding = (int(padding),) * n
        padding = tuple(int(p) for p in padding)
        if len(padding) != n:
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a tuple of {n} "
                f"ints, got {padding}"
            )
        self.padding = padding

    def forward(self, input):
        return pad(input, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension with ``value``: (N, C, W) → (N, C, W + left + right).

    Example:
        >>> import soma
        >>> ConstantPad1d((1, 2), 3.5)(soma.zeros(1, 2)).tolist()
        [[3.5, 0.0, 0.0, 3.5, 3.5]]
    """

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions with ``value``; padding (left, right, top, bottom)."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dimensions with ``value``; padding (left, right, top, bottom, front,
    back)."""

    _nd = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dimension with zeros."""

    _nd = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dimensions with zeros, e.g. the lecture's border of zeros around an image.

    Example:
        >>> import soma
        >>> ZeroPad2d(1)(soma.ones(1, 2, 2)).shape
        soma.Size([1, 4, 4])
    """

    _nd = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dimensions with zeros."""

    _nd = 3


class ReflectionPad1d(_PadNd):
    """Mirror the last dimension at its edges (the edge itself is not repeated).

    Example:
        >>> import soma
        >>> ReflectionPad1d(2)(soma.tensor([[1., 2., 3.]])).tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    """

    _nd = 1
    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last two dimensions at their edges."""

    _nd = 2
    _mode = "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last three dimensions at their edges."""

    _nd = 3
    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dimension.

    Example:
        >>> import soma
        >>> ReplicationPad1d((1, 2))(soma.tensor([[1., 2.]])).tolist()
        [[1.0, 1.0, 2.0, 2.0, 2.0]]
    """

    _nd = 1
    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dimensions."""

    _nd = 2
    _mode = "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three dimensions."""

    _nd = 3
    _mode = "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dimension around (periodic boundary).

    Example:
        >>> import soma
        >>> CircularPad1d(1)(soma.tensor([[1., 2., 3.]])).tolist()
        [[3.0, 1.0, 2.0, 3.0, 1.0]]
    """

    _nd = 1
    _mode = "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two dimensions around."""

    _nd = 2
    _mode = "circular"


class CircularPad3d(_PadNd):
    """Wrap the last three dimensions around."""

    _nd = 3
    _mode = "circular"
