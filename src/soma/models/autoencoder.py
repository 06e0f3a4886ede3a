"""Autoencoders: an encoder squeezes the input through a bottleneck of ``latent_dim`` numbers,
a decoder rebuilds the input from them, and training minimises the reconstruction error
(Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science
2006). The denoising variant corrupts the input during training and still asks for the clean
input back (Vincent, Larochelle, Bengio & Manzagol, "Extracting and Composing Robust Features
with Denoising Autoencoders", ICML 2008).

* ``DenseAutoencoder``: fully connected, input flattened, e.g. 64 → 128 → 16 → 128 → 64.
* ``ConvAutoencoder``: stride-2 3×3 convolutions halve the map size at each stage
  (8×8 → 4×4 → 2×2 for digits), a Linear layer maps to the bottleneck; the decoder mirrors it
  with transposed convolutions whose ``output_padding`` is chosen so that every map size of
  the encoder is met again in reverse (28 → 14 → 7 → 4 comes back as 4 → 7 → 14 → 28).

Train with ``soma.train.fit(model, (x, x), loss="mse")``: the input is its own target.
"""

from soma import functional as F
from soma import nn
from soma.autograd.factory import rand, randn
from soma.models.registry import register_model

OUTPUTS = ("sigmoid", "tanh", "linear")


def conv_sizes(size: int, stages: int) -> list:
    """Map sizes through ``stages`` 3×3 stride-2 convolutions with padding 1: ⌊(h − 1)/2⌋ + 1."""
    sizes = [size]
    for _ in range(stages):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


class ConvEncoder(nn.Module):
    """Conv(3×3, stride 2)-ReLU stages, then flatten: (N, C, H, W) → (N, features).

    ``self.sizes`` lists the (H, W) of each stage, input first; ``self.features`` the size of
    the flattened output.
    """

    def __init__(self, in_channels: int, input_size, channels=(32, 64)):
        super().__init__()
        hs, ws = conv_sizes(input_size[0], len(channels)), conv_sizes(input_size[1], len(channels))
        self.sizes = list(zip(hs, ws))
        layers, c = [], in_channels
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1), nn.ReLU()]
            c = out
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.features = c * hs[-1] * ws[-1]

    def forward(self, x):
        return self.convs(x)


class ConvDecoder(nn.Module):
    """Linear-ReLU to the encoder's last maps, then ConvTranspose2d(3×3, stride 2) stages
    that retrace the encoder's sizes in reverse: (N, latent_dim) → (N, C, H, W).

    A transposed convolution with kernel 3, stride 2 and padding 1 maps h to 2h − 1 + p, where
    p is its ``output_padding``; p = H − 2h + 1 ∈ {0, 1} lands exactly on the encoder's H.
    The last stage has no activation (the model applies its output function).
    """

    def __init__(self, latent_dim: int, out_channels: int, sizes, channels=(32, 64)):
        super().__init__()
        c, (h, w) = channels[-1], sizes[-1]
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, c * h * w), nn.ReLU(), nn.Unflatten(1, (c, h, w))
        )
        targets = list(reversed(sizes[:-1]))  # sizes to reach, last stage first
        outs = list(reversed(channels[:-1])) + [out_channels]
        layers = []
        for i, (out, (th, tw)) in enumerate(zip(outs, targets)):
            padding = (th - 2 * h + 1, tw - 2 * w + 1)
            layers.append(
                nn.ConvTranspose2d(c, out, 3, stride=2, padding=1, output_padding=padding)
            )
            if i < len(outs) - 1:
                layers.append(nn.ReLU())
            c, h, w = out, th, tw
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z):
        return self.deconvs(self.fc(z))


def _output(x, kind):
    if kind == "sigmoid":
        return F.sigmoid(x)
    if kind == "tanh":
        return F.tanh(x)
    return x


class _Autoencoder(nn.Module):
    """encode, decode, and a forward pass that corrupts the input first while training."""

    def _init_options(self, latent_dim, output, noise, noise_level):
        if output not in OUTPUTS:
            raise ValueError(
                f"{type(self).__name__}: output must be one of {OUTPUTS}, got {output!r}"
            )
        if noise not in ("gaussian", "mask"):
            raise ValueError(
                f"{type(self).__name__}: noise must be 'gaussian' or 'mask', got {noise!r}"
            )
        if noise_level < 0:
            raise ValueError(f"{type(self).__name__}: noise_level must be >= 0, got {noise_level}")
        self.latent_dim, self.output = latent_dim, output
        self.noise, self.noise_level = noise, noise_level

    def corrupt(self, x):
        """x plus N(0, noise_level²) noise, or x with a ``noise_level`` fraction of its values
        set to 0 (``noise="mask"``); x itself when noise_level is 0."""
        if self.noise_level == 0:
            return x
        if self.noise == "gaussian":
            return x + randn(*x.shape, device=x.device) * self.noise_level
        return x * (rand(*x.shape, device=x.device) >= self.noise_level).to(x.dtype)

    def forward(self, x):
        if self.training:
            x = self.corrupt(x)
        return self.decode(self.encode(x))

    def decode(self, z):
        return _output(self.decoder(z), self.output)


class DenseAutoencoder(_Autoencoder):
    """Fully connected autoencoder: in_features → hidden… → latent_dim → …hidden → in_features.

    Args:
        in_features: size of one (flattened) input.
        latent_dim: the bottleneck size.
        hidden: widths of the hidden layers of the encoder (the decoder mirrors them).
        output: ``"sigmoid"`` (inputs in [0, 1]), ``"tanh"`` ([−1, 1]) or ``"linear"``.
        noise_level, noise: corruption while training (0: a plain autoencoder).

    Shape:
        input (N, *) with in_features values per sample → output of the same shape.

    Example:
        >>> import soma
        >>> DenseAutoencoder(64, latent_dim=8)(soma.rand(5, 1, 8, 8)).shape
        soma.Size([5, 1, 8, 8])
    """

    def __init__(
        self,
        in_features: int,
        latent_dim: int = 16,
        hidden=(128,),
        output: str = "sigmoid",
        noise_level: float = 0.0,
        noise: str = "gaussian",
    ):
        super().__init__()
        self._init_options(latent_dim, output, noise, noise_level)
        widths = [in_features, *hidden]
        enc = []
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(nn.Flatten(), *enc, nn.Linear(widths[-1], latent_dim))
        dec, back = [], [latent_dim, *reversed(hidden)]
        for a, b in zip(back[:-1], back[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Linear(back[-1], in_features))

    def encode(self, x):
        return self.encoder(x)

    def forward(self, x):
        return super().forward(x).reshape(x.shape)


class ConvAutoencoder(_Autoencoder):
    """Convolutional autoencoder: ``ConvEncoder`` → Linear bottleneck → ``ConvDecoder``.

    Args:
        in_channels: image channels.
        input_size: (H, W) of the images.
        latent_dim: the bottleneck size.
        channels: channels of the encoder's stride-2 stages (the decoder mirrors them).
        output, noise_level, noise: as in ``DenseAutoencoder``.

    Shape:
        (N, in_channels, H, W) → (N, in_channels, H, W); ``encode`` gives (N, latent_dim).

    Example:
        >>> import soma
        >>> ConvAutoencoder(1, (28, 28), channels=(8, 16, 32))(soma.rand(2, 1, 28, 28)).shape
        soma.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size=(8, 8),
        latent_dim: int = 16,
        channels=(32, 64),
        output: str = "sigmoid",
        noise_level: float = 0.0,
        noise: str = "gaussian",
    ):
        super().__init__()
        self._init_options(latent_dim, output, noise, noise_level)
        features = ConvEncoder(in_channels, tuple(input_size), tuple(channels))
        self.encoder = nn.Sequential(features, nn.Linear(features.features, latent_dim))
        self.decoder = ConvDecoder(latent_dim, in_channels, features.sizes, tuple(channels))
        self.sizes = features.sizes

    def encode(self, x):
        return self.encoder(x)


def _build(kind, in_channels, input_size, **kwargs):
    if kind == "conv":
        return ConvAutoencoder(in_channels, input_size, **kwargs)
    if kind == "dense":
        kwargs.pop("channels", None)
        return DenseAutoencoder(in_channels * input_size[0] * input_size[1], **kwargs)
    raise ValueError(f"autoencoder: kind must be 'conv' or 'dense', got {kind!r}")


@register_model(
    "autoencoder",
    "autoencoder (Hinton & Salakhutdinov 2006): conv or dense, bottleneck latent_dim",
)
def autoencoder(
    num_classes=None,
    in_channels: int = 1,
    input_size=(8, 8),
    latent_dim: int = 16,
    kind: str = "conv",
    **kwargs,
):
    """An autoencoder for images of ``input_size``; ``kind="conv"`` or ``"dense"``.

    ``num_classes`` is accepted (every registered builder takes it) and ignored.
    """
    return _build(kind, in_channels, tuple(input_size), latent_dim=latent_dim, **kwargs)


@register_model(
    "denoising_autoencoder",
    "denoising autoencoder (Vincent et al. 2008): noisy input, clean target",
)
def denoising_autoencoder(
    num_classes=None,
    in_channels: int = 1,
    input_size=(8, 8),
    latent_dim: int = 16,
    kind: str = "conv",
    noise_level: float = 0.3,
    noise: str = "gaussian",
    **kwargs,
):
    """An autoencoder trained on inputs corrupted by ``noise`` of strength ``noise_level``."""
    return _build(
        kind,
        in_channels,
        tuple(input_size),
        latent_dim=latent_dim,
        noise_level=noise_level,
        noise=noise,
        **kwargs,
    )
