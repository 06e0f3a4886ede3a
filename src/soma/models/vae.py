"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014).

The encoder maps an image x to the parameters of a Gaussian q(z | x) = N(μ(x), diag σ²(x)),
given as μ and log σ² (the log keeps σ² positive without a constraint). A latent code is drawn
with the reparameterisation trick, z = μ + σ·ε with ε ~ N(0, I), so that the sample is a
differentiable function of μ and σ and gradients reach the encoder. The decoder maps z to the
logits of a Bernoulli distribution per pixel (or to the mean of a Gaussian). Training minimises
the negative ELBO, reconstruction + KL(q(z | x) ‖ N(0, I)) (``soma.nn.VAELoss``); afterwards
decoding z ~ N(0, I) generates new images (``sample``).

Layout here: the convolutional encoder and transposed-convolution decoder of
``soma.models.autoencoder`` (stride-2 3×3 stages), with two Linear heads for μ and log σ².
"""

from soma import functional as F
from soma import nn
from soma.autograd.factory import randn
from soma.models.autoencoder import ConvDecoder, ConvEncoder
from soma.models.registry import register_model


class VAE(nn.Module):
    """Convolutional VAE: ``forward(x)`` returns ``(recon_logits, mu, logvar)``.

    Args:
        in_channels: image channels.
        input_size: (H, W) of the images.
        latent_dim: size of z.
        channels: channels of the encoder's stride-2 stages (the decoder mirrors them).
        likelihood: ``"bernoulli"`` (decoder outputs logits, images in [0, 1], train with
            ``VAELoss("bce")``) or ``"gaussian"`` (decoder outputs means; ``VAELoss(
            reconstruction="mse")``).

    Shape:
        x (N, C, H, W) → recon (N, C, H, W), mu and logvar (N, latent_dim).

    Example:
        >>> import soma
        >>> vae = VAE(1, (8, 8), latent_dim=2)
        >>> recon, mu, logvar = vae(soma.rand(4, 1, 8, 8))
        >>> tuple(recon.shape), tuple(mu.shape), tuple(vae.sample(3).shape)
        ((4, 1, 8, 8), (4, 2), (3, 1, 8, 8))
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size=(8, 8),
        latent_dim: int = 8,
        channels=(32, 64),
        likelihood: str = "bernoulli",
    ):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(
                f"VAE: likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}"
            )
        self.latent_dim, self.likelihood = latent_dim, likelihood
        self.image_shape = (in_channels, *tuple(input_size))
        self.encoder = ConvEncoder(in_channels, tuple(input_size), tuple(channels))
        self.fc_mu = nn.Linear(self.encoder.features, latent_dim)
        self.fc_logvar = nn.Linear(self.encoder.features, latent_dim)
        self.decoder = ConvDecoder(latent_dim, in_channels, self.encoder.sizes, tuple(channels))

    def encode(self, x):
        """(mu, logvar) of q(z | x)."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    @staticmethod
    def reparameterize(mu, logvar, generator=None):
        """z = μ + σ·ε, ε ~ N(0, I), σ = exp(½ log σ²): a sample that gradients pass through."""
        eps = randn(*mu.shape, generator=generator, device=mu.device)
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z):
        """Images from latent codes: pixel probabilities (Bernoulli) or means (Gaussian)."""
        out = self.decoder(z)
        return F.sigmoid(out) if self.likelihood == "bernoulli" else out

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decoder(z), mu, logvar

    def reconstruct(self, x):
        """decode(μ(x)): the most likely reconstruction (no sampling)."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator=None):
        """``n`` new images: decode(z) for z ~ N(0, I)."""
        z = randn(n, self.latent_dim, generator=generator, device=self.fc_mu.weight.device)
        return self.decode(z)


@register_model("vae", "variational autoencoder (Kingma & Welling 2014), convolutional")
def vae(num_classes=None, in_channels: int = 1, input_size=(8, 8), latent_dim: int = 8, **kwargs):
    """A convolutional VAE for images of ``input_size`` (``num_classes`` is ignored)."""
    return VAE(in_channels, tuple(input_size), latent_dim, **kwargs)
