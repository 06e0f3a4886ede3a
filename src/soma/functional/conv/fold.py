"""Sliding blocks: ``unfold`` (im2col as an op) and ``fold`` (its adjoint, col2im), as in PyTorch.

``unfold`` turns every sliding block of an (N, C, H, W) image into a column: (N, C·K, L) with
K = kH·kW values per channel and L blocks. ``fold`` sums such columns back into an image, so
``fold(unfold(x))`` multiplies each pixel by the number of blocks that cover it.
"""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import ntuple, shape_str
from soma.functional._window_geometry import output_size
from soma.functional.conv._args import check_fits
from soma.functional.conv._geometry import (
    Geometry,
    channels_last,
    interior,
    tap_regions,
)
from soma.functional.conv._im2col import windows
from soma.functional.shape import squeeze, unsqueeze


def _geometry(in_size, kernel_size, dilation, padding, stride, op):
    kernel = ntuple(kernel_size, 2, op, "kernel_size")
    dilation = ntuple(dilation, 2, op, "dilation")
    stride = ntuple(stride, 2, op, "stride")
    pads = tuple((p, p) for p in ntuple(padding, 2, op, "padding"))
    if min(kernel + dilation + stride) <= 0 or min(p for p, _ in pads) < 0:
        raise ShapeError(
            f"{op}: kernel_size, dilation and stride must be positive and padding "
            f"non-negative, got {kernel}, {dilation}, {stride}, {padding}"
        )
    check_fits(in_size, kernel, dilation, pads, op)
    out = output_size(in_size, kernel, stride, dilation, pads)
    return Geometry(kernel, stride, dilation, pads, 1, tuple(in_size), out)


_xp = get_xp()


def _unfold(x, g):
    """(N, C, *S) → (N, C·K, L) columns, channel-major rows as PyTorch orders them."""
    n, c = x.shape[:2]
    win = windows(channels_last(x, g), g)  # (N, *out, *k, C)
    nd = len(g.kernel)
    order = (0, 2 * nd + 1) + tuple(range(nd + 1, 2 * nd + 1)) + tuple(range(1, nd + 1))
    return win.transpose(order).reshape(n, c * g.taps, g.positions)


def _fold(cols, g, c):
    """Adjoint of ``_unfold``: (N, C·K, L) → (N, C, *S), summing overlapping entries."""
    n = cols.shape[0]
    buf = _xp.zeros((n, c) + g.padded_size, dtype=cols.dtype)
    taps = cols.reshape((n, c, g.taps) + g.out_size)
    for t, region in enumerate(tap_regions(g)):
        buf[(slice(None), slice(None)) + region] += taps[:, :, t]
    return buf[interior(g)]


class Unfold(Function):
    """cols[n, c·K + t, l] = x[n, c, position of tap t in block l]."""

    @staticmethod
    def forward(ctx, x, *, geometry):
        ctx.geometry, ctx.channels = geometry, x.shape[1]
        return _unfold(x, geometry)

    @staticmethod
    def backward(ctx, gy):
        # ∂x = fold(gy): each pixel gathers the gradient of every column entry it was copied to
        return _fold(gy, ctx.geometry, ctx.channels)


class Fold(Function):
    """y = col2im(cols): the adjoint of ``unfold``."""

    @staticmethod
    def forward(ctx, cols, *, geometry, channels):
        ctx.geometry = geometry
        return _fold(cols, geometry, channels)

    @staticmethod
    def backward(ctx, gy):
        return _unfold(gy, ctx.geometry)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks as columns (im2col).

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size, dilation, padding, stride: int or (height, width), as in ``conv2d``.

    Shape:
        (N, C, H, W) → (N, C·kH·kW, L) with L = H_out·W_out, the number of blocks.

    Example:
        >>> import soma
        >>> unfold(soma.arange(9.).reshape(1, 1, 3, 3), 2)[0].tolist()
        [[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]
    """
    if input.ndim not in (3, 4):
        raise ShapeError(
            f"unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
            f"{shape_str(input.shape)}"
        )
    if input.ndim == 3:
        return squeeze(unfold(unsqueeze(input, 0), kernel_size, dilation, padding, stride), 0)
    g = _geometry(tuple(input.shape[2:]), kernel_size, dilation, padding, stride, "unfold")
    return Unfold.apply(input, geometry=g)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns of sliding blocks back into an image (col2im), the adjoint of ``unfold``.

    Args:
        input: (N, C·kH·kW, L) or unbatched (C·kH·kW, L).
        output_size: (H, W) of the image.
        kernel_size, dilation, padding, stride: as given to ``unfold``.

    Shape:
        (N, C·kH·kW, L) → (N, C, H, W); L must be the number of blocks in an (H, W) image.

    Example:
        >>> import soma
        >>> fold(soma.ones(1, 4, 4), (3, 3), 2)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    if input.ndim not in (2, 3):
        raise ShapeError(
            f"fold: expected a 2-D (C·K, L) or 3-D (N, C·K, L) input, got shape "
            f"{shape_str(input.shape)}"
        )
    if input.ndim == 2:
        return squeeze(
            fold(unsqueeze(input, 0), output_size, kernel_size, dilation, padding, stride), 0
        )
    g = _geometry(
        ntuple(output_size, 2, "fold", "output_size"),
        kernel_size,
        dilation,
        padding,
        stride,
        "fold",
    )
    rows, blocks = input.shape[1:]
    if rows % g.taps or blocks != g.positions:
        raise ShapeError(
            f"fold: input of shape {shape_str(input.shape)} does not fit: dimension 1 must be a "
            f"multiple of the kernel's {g.taps} taps and dimension 2 the number of blocks "
            f"{g.positions} ({g.out_size}) of an output of size {g.in_size}"
        )
    return Fold.apply(input, geometry=g, channels=rows // g.taps)
