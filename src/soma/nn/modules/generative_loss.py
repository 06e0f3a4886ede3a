"""Loss modules of the generative models: ``VAELoss`` (negative ELBO) and ``GANLoss``.

Each stores its options and calls ``soma.functional.loss.generative``.
"""

from soma.functional.loss.generative import (
    GAN_LOSSES,
    gan_discriminator_loss,
    gan_generator_loss,
    vae_loss,
)
from soma.nn.module import Module


class VAELoss(Module):
    """Negative ELBO of a VAE, ``loss(output, target)`` with ``output = (recon, mu, logvar)``.

    That signature is the one ``soma.train.fit`` calls, so a VAE trains with
    ``fit(vae, (x, x), loss=VAELoss())``. See ``soma.nn.functional.vae_loss``.

    Args:
        beta: weight of the KL term (1: the ELBO).
        reconstruction: ``"bce"`` (decoder outputs Bernoulli logits) or ``"mse"``.
        reduction: ``"mean"`` over the batch, ``"sum"`` or ``"none"``.

    Example:
        >>> import soma
        >>> out = (soma.zeros(1, 2), soma.zeros(1, 2), soma.zeros(1, 2))
        >>> round(VAELoss()(out, soma.tensor([[1.0, 0.0]])).item(), 4)
        1.3863
    """

    def __init__(self, beta: float = 1.0, reconstruction: str = "bce", reduction: str = "mean"):
        super().__init__()
        if reconstruction not in ("bce", "mse"):
            raise ValueError(
                f"VAELoss: reconstruction must be 'bce' or 'mse', got {reconstruction!r}"
            )
        self.beta, self.reconstruction, self.reduction = beta, reconstruction, reduction

    def forward(self, output, target):
        recon, mu, logvar = output
        return vae_loss(recon, target, mu, logvar, self.beta, self.reconstruction, self.reduction)

    def extra_repr(self):
        return f"beta={self.beta}, reconstruction='{self.reconstruction}'"


class GANLoss(Module):
    """The two losses of adversarial training, of one ``kind``.

    ``loss.discriminator(real_logits, fake_logits)`` and ``loss.generator(fake_logits)``;
    calling the module is ``discriminator``. Kinds: ``"nonsaturating"`` (default),
    ``"hinge"``, ``"wasserstein"`` (see ``soma.nn.functional.gan_discriminator_loss``).

    Example:
        >>> import soma
        >>> loss = GANLoss("wasserstein")
        >>> loss.discriminator(soma.tensor([3.0]), soma.tensor([1.0])), loss.generator(soma.tensor([1.0]))
        (tensor(-2.), tensor(-1.))
    """

    def __init__(self, kind: str = "nonsaturating"):
        super().__init__()
        if kind not in GAN_LOSSES:
            raise ValueError(f"GANLoss: kind must be one of {GAN_LOSSES}; got {kind!r}")
        self.kind = kind

    def discriminator(self, real_logits, fake_logits):
        return gan_discriminator_loss(real_logits, fake_logits, self.kind)

    def generator(self, fake_logits):
        return gan_generator_loss(fake_logits, self.kind)

    def forward(self, real_logits, fake_logits):
        return self.discriminator(real_logits, fake_logits)

    def extra_repr(self):
        return f"kind='{self.kind}'"
