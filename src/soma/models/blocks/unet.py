"""The stages of U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for
Biomedical Image Segmentation", MICCAI 2015).

* ``DoubleConv``: two 3×3 convolutions, each followed by ReLU (optionally batch norm before
  it): the unit both paths of U-Net repeat. Without padding each convolution trims one pixel
  from every border, as in the paper (572 → 570 → 568).
* ``UNetDown``: 2×2 max-pooling (stride 2), then a ``DoubleConv`` that doubles the channels: one
  step of the contracting path.
* ``UNetUp``: a 2×2 "up-convolution" (transposed convolution, stride 2) that halves the
  channels and doubles the size, concatenation with the skip connection from the contracting
  path, then a ``DoubleConv``: one step of the expanding path. The skip is centre-cropped to
  the up-sampled map (the paper's "cropping is necessary due to the loss of border pixels in
  every convolution"); with ``padding=True`` the maps already agree, except for odd sizes, where
  the up-sampled map is zero-padded to the skip's size.
"""

from soma import functional as F
from soma import nn


class DoubleConv(nn.Sequential):
    """(3×3 convolution → [BatchNorm] → ReLU) twice, as ``Sequential`` children.

    Args:
        in_channels, out_channels: channels in and out (the middle has ``out_channels``).
        padding: pad by 1 so the size is kept (default); False trims 2 pixels per convolution.
        batch_norm: add ``BatchNorm2d`` after each convolution (whose bias is then dropped).

    Shape:
        (N, in_channels, H, W) → (N, out_channels, H, W), or (H − 4, W − 4) without padding.

    Example:
        >>> import soma
        >>> DoubleConv(1, 8, padding=False)(soma.zeros(1, 1, 12, 12)).shape
        soma.Size([1, 8, 8, 8])
    """

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = True, batch_norm: bool = False
    ):
        layers = []
        for c_in in (in_channels, out_channels):
            layers.append(
                nn.Conv2d(c_in, out_channels, 3, padding=int(padding), bias=not batch_norm)
            )
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
        super().__init__(*layers)


class UNetDown(nn.Module):
    """2×2 max-pooling, then ``DoubleConv(in_channels, out_channels)``.

    Example:
        >>> import soma
        >>> UNetDown(8, 16)(soma.zeros(1, 8, 16, 16)).shape
        soma.Size([1, 16, 8, 8])
    """

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = True, batch_norm: bool = False
    ):
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x):
        return self.conv(self.pool(x))


def match_size(skip, x, padding: bool):
    """(skip, x) with equal spatial sizes: ``skip`` centre-cropped to ``x`` (``padding=False``,
    the paper's cropping), or ``x`` zero-padded to ``skip`` (``padding=True``, odd sizes)."""
    dh = skip.shape[-2] - x.shape[-2]
    dw = skip.shape[-1] - x.shape[-1]
    if dh == 0 and dw == 0:
        return skip, x
    if dh < 0 or dw < 0:
        raise ValueError(
            f"UNetUp: the skip connection {tuple(skip.shape)} is smaller than the up-sampled "
            f"map {tuple(x.shape)}"
        )
    amounts = (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)
    if padding:
        return skip, F.pad(x, amounts)
    return F.pad(skip, tuple(-a for a in amounts)), x  # negative padding crops


class UNetUp(nn.Module):
    """Up-convolution (2×2 transposed, stride 2) to ``in_channels // 2`` channels, concatenation
    with the skip connection (skip first, as in the paper's figure), then
    ``DoubleConv(in_channels, out_channels)``.

    Args:
        in_channels: channels of the map from below; the skip has ``in_channels // 2``.
        out_channels: channels out.
        padding, batch_norm: as ``DoubleConv``; ``padding`` also picks crop or pad for the skip.

    Shape:
        x (N, in_channels, H, W), skip (N, in_channels // 2, H', W') with H' ≥ 2H →
        (N, out_channels, 2H, 2W) (minus 4 without padding).

    Example:
        >>> import soma
        >>> up = UNetUp(16, 8)
        >>> up(soma.zeros(1, 16, 4, 4), soma.zeros(1, 8, 8, 8)).shape
        soma.Size([1, 8, 8, 8])
    """

    def __init__(
        self, in_channels: int, out_channels: int, padding: bool = True, batch_norm: bool = False
    ):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        skip, x = match_size(skip, x, self.padding)
        return self.conv(F.cat([skip, x], 1))


__all__ = ["DoubleConv", "UNetDown", "UNetUp", "match_size"]
