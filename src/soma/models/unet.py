"""U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015).

A network that labels every pixel. The contracting path is a classifier's: conv-conv-pool
stages that halve the size and double the channels; the expanding path mirrors it with
up-convolutions that double the size and halve the channels, and at each step concatenates the
contracting path's map of the same scale (the skip connection), so the fine detail lost by
pooling comes back. A 1×1 convolution maps the last 64 channels to class scores.

Layout at the paper's settings (``width=64, depth=4, padding=False``, one input channel, two
classes), sizes for its 572×572 input tile:

    inc      DoubleConv 1 → 64                     572 → 568
    down[0]  pool, DoubleConv 64 → 128             284 → 280
    down[1]  pool, DoubleConv 128 → 256            140 → 136
    down[2]  pool, DoubleConv 256 → 512             68 → 64
    down[3]  pool, DoubleConv 512 → 1024            32 → 28      (the bottom)
    up[0]    up-conv 1024 → 512, cat skip, DoubleConv 1024 → 512    56 → 52
    up[1]    up-conv 512 → 256,  cat skip, DoubleConv 512 → 256    104 → 100
    up[2]    up-conv 256 → 128,  cat skip, DoubleConv 256 → 128    200 → 196
    up[3]    up-conv 128 → 64,   cat skip, DoubleConv 128 → 64     392 → 388
    head     1×1 convolution 64 → 2                                388×388 output

31,030,658 parameters (23 convolutional layers, as the paper counts them; checked in the
tests layer by layer). With ``padding=True`` (the default here, as most re-implementations)
every 3×3 convolution keeps the size and the output has the input's height and width, which
must then be divisible by ``2**depth`` only for the up-sampled maps to meet their skips
exactly (other sizes are padded).

Initialisation as the paper's: Gaussian weights with standard deviation √(2/N), N the fan-in
of one unit (He et al.), zero biases.
"""

from soma import nn
from soma.models.blocks.unet import DoubleConv, UNetDown, UNetUp
from soma.models.registry import register_model
from soma.nn import init


class UNet(nn.Module):
    """U-Net with ``depth`` poolings and ``width`` channels in its first stage.

    Args:
        in_channels: input channels.
        num_classes: output channels (class scores per pixel).
        depth: number of 2×2 poolings (4 in the paper).
        width: channels of the first stage (64 in the paper); stage ``i`` has ``width · 2**i``.
        padding: pad the 3×3 convolutions so sizes are kept (default); False is the paper's
            unpadded network, whose output is smaller than its input (388 for 572).
        batch_norm: batch norm after every 3×3 convolution (not in the paper; trains faster).

    Shape:
        (N, in_channels, H, W) → (N, num_classes, H, W) with padding.

    Example:
        >>> import soma
        >>> UNet(1, 3, depth=2, width=4)(soma.zeros(2, 1, 16, 16)).shape
        soma.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        depth: int = 4,
        width: int = 64,
        padding: bool = True,
        batch_norm: bool = False,
    ):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"UNet: depth and width must be positive, got {depth} and {width}")
        self.depth, self.padding = depth, padding
        widths = [width * 2**i for i in range(depth + 1)]
        with init.no_init():  # every weight is drawn once, by _init_weights below
            self.inc = DoubleConv(in_channels, width, padding, batch_norm)
            self.down = nn.ModuleList(
                UNetDown(widths[i], widths[i + 1], padding, batch_norm) for i in range(depth)
            )
            self.up = nn.ModuleList(
                UNetUp(widths[i + 1], widths[i], padding, batch_norm)
                for i in reversed(range(depth))
            )
            self.head = nn.Conv2d(width, num_classes, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                # std = sqrt(2 / N), N = fan-in (in_channels · k · k for a convolution)
                init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        skips = [self.inc(x)]
        for stage in self.down:
            skips.append(stage(skips[-1]))
        x = skips.pop()
        for stage in self.up:
            x = stage(x, skips.pop())
        return self.head(x)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, padding={self.padding}"


@register_model(
    "unet",
    "U-Net (Ronneberger et al. 2015): conv-conv-pool down, up-conv + skip concat up; per pixel",
    reference_input=(1, 572, 572),
    min_input_size=(16, 16),
)
def unet(depth: int = 3, width: int = 16, batch_norm: bool = True, **kwargs) -> UNet:
    """A laptop-sized U-Net by default (depth 3, width 16, batch norm: 482,500 parameters for
    one input channel and 4 classes), so ``soma train --model unet`` finishes in minutes on a
    CPU; ``depth=4, width=64, batch_norm=False`` (and ``padding=False``) is the paper's network,
    ``UNet(1, 2)``'s default, with 31,030,658 parameters.

    Example:
        >>> from soma.nn.utils import skip_init   # count only: no random draws
        >>> paper = skip_init(unet, in_channels=1, num_classes=2, depth=4, width=64,
        ...                   batch_norm=False)
        >>> sum(p.numel() for p in paper.parameters())
        31030658
    """
    return UNet(depth=depth, width=width, batch_norm=batch_norm, **kwargs)


__all__ = ["UNet", "unet"]
