"""Losses of the generative models: the VAE's negative ELBO and the GAN losses.

All are composites of existing ops (softplus, relu, binary cross-entropy, exp), so their
gradients come from those ops; none needs a backward of its own.

* ``gaussian_kl``: KL(N(μ, σ²) ‖ N(0, 1)) per sample, summed over the latent dimensions.
* ``vae_loss``: reconstruction + β·KL, the negative evidence lower bound (Kingma & Welling,
  "Auto-Encoding Variational Bayes", 2014; β from Higgins et al., "β-VAE", 2017).
* ``gan_discriminator_loss`` / ``gan_generator_loss``: the non-saturating loss of Goodfellow et
  al. ("Generative Adversarial Nets", 2014), the hinge loss (Lim & Ye 2017; Miyato et al. 2018)
  and the Wasserstein critic loss (Arjovsky et al. 2017, here without weight clipping or gradient
  penalty: add either yourself).
"""

from soma.functional.activation.piecewise import relu
from soma.functional.activation.smooth import softplus
from soma.functional.loss._reduction import _check_reduction, _check_same_shape, _reduce
from soma.functional.loss.classification import binary_cross_entropy_with_logits
from soma.functional.loss.regression import mse_loss

GAN_LOSSES = ("nonsaturating", "hinge", "wasserstein")


def gaussian_kl(mu, logvar):
    """KL(N(μ, diag σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²), one value per sample.

    Args:
        mu, logvar: (N, D) means and log-variances of the approximate posterior q(z | x).

    Returns:
        (N,) tensor.

    Example:
        >>> import soma
        >>> gaussian_kl(soma.zeros(2, 3), soma.zeros(2, 3))
        tensor([0., 0.])
    """
    _check_same_shape(mu, logvar, "gaussian_kl")
    per_dim = 1.0 + logvar - mu * mu - logvar.exp()
    return per_dim.flatten(1).sum(1) * -0.5


def vae_loss(
    recon,
    target,
    mu,
    logvar,
    beta: float = 1.0,
    reconstruction: str = "bce",
    reduction: str = "mean",
):
    """The VAE's negative ELBO: −E_q[log p(x | z)] + β·KL(q(z | x) ‖ p(z)), per sample.

    The reconstruction term is summed over every pixel of a sample (the log-likelihood of the
    whole image): ``"bce"`` treats the decoder's output ``recon`` as Bernoulli logits
    (targets in [0, 1]), ``"mse"`` as the mean of a Gaussian with unit variance up to a constant
    (½·Σ(x̂ − x)²). ``beta`` weighs the KL term (1 gives the ELBO; β > 1 a β-VAE).

    Args:
        recon: decoder output (logits for "bce"), same shape as ``target``.
        target: the input images.
        mu, logvar: (N, D) posterior parameters from the encoder.
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or ``"none"`` (N values).

    Example:
        >>> import soma
        >>> x = soma.tensor([[1.0, 0.0]])
        >>> loss = vae_loss(soma.tensor([[0.0, 0.0]]), x, soma.zeros(1, 2), soma.zeros(1, 2))
        >>> round(loss.item(), 4)  # 2·log 2: each pixel costs log 2 at logit 0
        1.3863
    """
    _check_reduction(reduction, "vae_loss")
    _check_same_shape(recon, target, "vae_loss")
    if reconstruction == "bce":
        rec = binary_cross_entropy_with_logits(recon, target, reduction="none")
    elif reconstruction == "mse":
        rec = mse_loss(recon, target, reduction="none") * 0.5
    else:
        raise ValueError(
            f"vae_loss: reconstruction must be 'bce' or 'mse', got {reconstruction!r}"
        )
    per_sample = rec.flatten(1).sum(1) + gaussian_kl(mu, logvar) * beta
    return _reduce(per_sample, reduction)


def _check_kind(kind, op):
    if kind not in GAN_LOSSES:
        names = ", ".join(repr(k) for k in GAN_LOSSES)
        raise ValueError(f"{op}: kind must be one of {names}; got {kind!r}")


def gan_discriminator_loss(real_logits, fake_logits, kind: str = "nonsaturating"):
    """The discriminator's (critic's) loss on a batch of real and a batch of generated samples.

    * ``"nonsaturating"``: −log D(x) − log(1 − D(G(z))) = softplus(−r) + softplus(f), the binary
      cross-entropy of real against fake with D = sigmoid(logit);
    * ``"hinge"``: max(0, 1 − r) + max(0, 1 + f);
    * ``"wasserstein"``: f − r (the critic's estimate of −W₁; keep the critic Lipschitz
      yourself, e.g. by weight clipping).

    Each term is averaged over its batch. ``real_logits`` and ``fake_logits`` are the
    discriminator's raw outputs (any shape).

    Example:
        >>> import soma
        >>> gan_discriminator_loss(soma.tensor([2.0]), soma.tensor([-2.0]), "hinge")
        tensor(0.)
    """
    _check_kind(kind, "gan_discriminator_loss")
    if kind == "nonsaturating":
        return softplus(-real_logits).mean() + softplus(fake_logits).mean()
    if kind == "hinge":
        return relu(1.0 - real_logits).mean() + relu(1.0 + fake_logits).mean()
    return fake_logits.mean() - real_logits.mean()


def gan_generator_loss(fake_logits, kind: str = "nonsaturating"):
    """The generator's loss on the discriminator's outputs for generated samples.

    * ``"nonsaturating"``: −log D(G(z)) = softplus(−f) (Goodfellow et al.'s fix for the weak
      gradient of log(1 − D(G(z))) early in training);
    * ``"hinge"`` and ``"wasserstein"``: −f.

    Example:
        >>> import soma
        >>> round(gan_generator_loss(soma.tensor([0.0])).item(), 4)  # log 2
        0.6931
    """
    _check_kind(kind, "gan_generator_loss")
    if kind == "nonsaturating":
        return softplus(-fake_logits).mean()
    return -fake_logits.mean()
