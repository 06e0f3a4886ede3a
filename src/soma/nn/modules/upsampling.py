"""Upsampling layers (``Upsample`` and its fixed-mode variants) and pixel (un)shuffle."""

from soma.functional.resample import interpolate, pixel_shuffle, pixel_unshuffle
from soma.nn.module import Module


def _float_factor(scale_factor):
    if scale_factor is None:
        return None
    if isinstance(scale_factor, (tuple, list)):
        return tuple(float(s) for s in scale_factor)
    return float(scale_factor)


class Upsample(Module):
    """Resize images (or 1D/3D signals) by a factor or to a size; see ``F.interpolate``.

    Args:
        size: output spatial size, or
        scale_factor: multiplier of the spatial size.
        mode: 'nearest' (default), 'nearest-exact', 'linear', 'bilinear', 'bicubic',
            'trilinear' or 'area'.
        align_corners: for the linear/cubic modes (default False).
        recompute_scale_factor: derive the sampling positions from the rounded output size.

    Example:
        >>> import soma
        >>> Upsample(scale_factor=2)(soma.tensor([[[1.0, 2.0]]]))
        tensor([[[1., 1., 2., 2.]]])
    """

    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode="nearest",
        align_corners=None,
        recompute_scale_factor=None,
    ):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = _float_factor(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) input: ``Upsample(mode='nearest')``.

    Example:
        >>> import soma
        >>> tuple(UpsamplingNearest2d(scale_factor=2)(soma.zeros(1, 1, 3, 4)).shape)
        (1, 1, 6, 8)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with aligned corners: ``Upsample(mode='bilinear', align_corners=True)``.

    Example:
        >>> import soma
        >>> UpsamplingBilinear2d(size=(1, 3))(soma.tensor([[[[0.0, 2.0]]]])).flatten().tolist()
        [0.0, 1.0, 2.0]
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r): sub-pixel convolution's upsampling step.

    Example:
        >>> import soma
        >>> tuple(PixelShuffle(3)(soma.zeros(1, 9, 4, 4)).shape)
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of ``PixelShuffle``.

    Example:
        >>> import soma
        >>> tuple(PixelUnshuffle(2)(soma.zeros(1, 1, 4, 6)).shape)
        (1, 4, 2, 3)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
