"""DCGAN (Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", ICLR 2016).

The paper's guidelines, each visible below: no pooling (strided convolutions in the
discriminator, transposed convolutions in the generator), BatchNorm in both networks except
the generator's output and the discriminator's input layer, ReLU in the generator with tanh
at its output, LeakyReLU (slope 0.2) in the discriminator, no fully connected hidden layers,
and every weight drawn from N(0, 0.02) (BatchNorm scales from N(1, 0.02), biases 0).

For 64×64 images (the paper's LSUN setting, ``latent_dim=100``, 64 base channels) the layers
and their names (``main.0`` …) are those of PyTorch's DCGAN example, so its state dicts load:
generator 100 → 512×4×4 → 256×8×8 → 128×16×16 → 64×32×32 → 3×64×64 (3,576,704 parameters),
discriminator the mirror image down to one logit (2,765,568 parameters). Smaller powers of two
drop stages from the middle (16×16 digits: z → 2·g×4×4 → g×8×8 → C×16×16). The discriminator
returns logits (no sigmoid): the losses in ``soma.nn.GANLoss`` take logits.

Conditional variant (Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014):
with ``num_classes > 0`` the generator reads [z, one_hot(y)] and the discriminator gets
one_hot(y) as extra constant input channels.
"""

import math

from soma import functional as F
from soma import nn
from soma.autograd.factory import randint, randn
from soma.models.registry import register_model


def _stages(image_size: int, who: str) -> int:
    n = int(round(math.log2(image_size))) - 2 if image_size > 0 else 0
    if n < 1 or 2 ** (n + 2) != image_size:
        raise ValueError(f"{who}: image_size must be a power of two >= 8, got {image_size}")
    return n


def dcgan_init_(module) -> None:
    """Radford et al.'s initialisation: conv weights ~ N(0, 0.02), BatchNorm γ ~ N(1, 0.02),
    β = 0, applied to every submodule (PyTorch's ``weights_init`` in its DCGAN example)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _label_channels(y, num_classes, like):
    """one_hot(y) as (N, num_classes, H, W) constant maps shaped like ``like``'s spatial size."""
    code = F.one_hot(y, num_classes).to(like.dtype)
    n, _, h, w = like.shape
    return code.reshape(n, num_classes, 1, 1).expand(n, num_classes, h, w)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) → images (N, out_channels, image_size, image_size) in [−1, 1].

    Example:
        >>> import soma
        >>> DCGANGenerator(latent_dim=16, out_channels=1, image_size=16, base_channels=8)(
        ...     soma.randn(2, 16)).shape
        soma.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        latent_dim: int = 100,
        out_channels: int = 3,
        image_size: int = 64,
        base_channels: int = 64,
        num_classes: int = 0,
    ):
        super().__init__()
        n = _stages(image_size, "DCGANGenerator")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        c = base_channels * 2 ** (n - 1)
        layers = [
            nn.ConvTranspose2d(latent_dim + num_classes, c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z, y=None):
        if self.num_classes:
            if y is None:
                raise ValueError("DCGANGenerator: a conditional generator needs labels y")
            z = F.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, in_channels, image_size, image_size) → (N,) logits of "real".

    Example:
        >>> import soma
        >>> DCGANDiscriminator(in_channels=1, image_size=16, base_channels=8)(
        ...     soma.randn(2, 1, 16, 16)).shape
        soma.Size([2])
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 64,
        base_channels: int = 64,
        num_classes: int = 0,
    ):
        super().__init__()
        n = _stages(image_size, "DCGANDiscriminator")
        self.num_classes = num_classes
        c = base_channels
        layers = [
            nn.Conv2d(in_channels + num_classes, c, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False),
                nn.BatchNorm2d(2 * c),
                nn.LeakyReLU(0.2, True),
            ]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x, y=None):
        if self.num_classes:
            if y is None:
                raise ValueError("DCGANDiscriminator: a conditional discriminator needs labels y")
            x = F.cat([x, _label_channels(y, self.num_classes, x)], dim=1)
        return self.main(x).reshape(-1)


class DCGAN(nn.Module):
    """A generator and a discriminator in one module (one state dict, one checkpoint).

    ``forward(z[, y])`` runs the generator; ``sample(n)`` draws z ~ N(0, I) and generates.
    Train with ``soma.train.gan.fit_gan``.

    Example:
        >>> gan = DCGAN(latent_dim=8, channels=1, image_size=16, base_channels=8)
        >>> tuple(gan.sample(3).shape), tuple(gan.discriminator(gan.sample(3)).shape)
        ((3, 1, 16, 16), (3,))
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 3,
        image_size: int = 64,
        base_channels: int = 64,
        num_classes: int = 0,
    ):
        super().__init__()
        self.latent_dim, self.num_classes, self.image_size = latent_dim, num_classes, image_size
        self.generator = DCGANGenerator(
            latent_dim, channels, image_size, base_channels, num_classes
        )
        self.discriminator = DCGANDiscriminator(channels, image_size, base_channels, num_classes)

    def forward(self, z, y=None):
        return self.generator(z, y)

    def sample(self, n: int, labels=None, generator=None):
        """``n`` images; a conditional model takes ``labels`` (default: random classes)."""
        device = next(self.parameters()).device
        z = randn(n, self.latent_dim, generator=generator, device=device)
        if self.num_classes and labels is None:
            labels = randint(0, self.num_classes, (n,), generator=generator, device=device)
        return self.generator(z, labels)


@register_model(
    "dcgan", "DCGAN (Radford et al. 2016): generator and discriminator", min_input_size=(16, 16)
)
def dcgan(
    num_classes=None,
    in_channels: int = 3,
    input_size=(64, 64),
    latent_dim: int = 100,
    base_channels: int = 64,
    conditional: bool = False,
):
    """A DCGAN for square images of ``input_size`` (a power of two); ``conditional=True``
    conditions both networks on ``num_classes`` labels (else ``num_classes`` is ignored)."""
    if input_size[0] != input_size[1]:
        raise ValueError(f"dcgan: images must be square, got {tuple(input_size)}")
    classes = (num_classes or 10) if conditional else 0
    return DCGAN(latent_dim, in_channels, input_size[0], base_channels, classes)
