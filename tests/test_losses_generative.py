"""The generative losses (issue 13): the VAE's negative ELBO and the GAN losses, against
formulas written with PyTorch ops (forward and every input gradient) and values by hand."""

import math

import numpy as np
import pytest

import soma
from soma.nn import GANLoss, VAELoss
from soma.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def pair(a):
    return soma.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def check(ours, theirs, inputs):
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5, atol=1e-6)
    ours.backward()
    theirs.backward()
    for a, b in inputs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reconstruction", ["bce", "mse"])
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_vae_loss_matches_torch(reconstruction, beta):
    rng = np.random.default_rng(0)
    recon, t_recon = pair(rng.standard_normal((3, 1, 4, 4)).astype(np.float32))
    x = rng.random((3, 1, 4, 4)).astype(np.float32)
    mu, t_mu = pair(rng.standard_normal((3, 5)).astype(np.float32))
    logvar, t_logvar = pair(rng.standard_normal((3, 5)).astype(np.float32) * 0.5)
    ours = F.vae_loss(recon, soma.tensor(x), mu, logvar, beta, reconstruction)
    if reconstruction == "bce":
        rec = TF.binary_cross_entropy_with_logits(t_recon, torch.tensor(x), reduction="sum")
    else:
        rec = 0.5 * TF.mse_loss(t_recon, torch.tensor(x), reduction="sum")
    kl = -0.5 * torch.sum(1 + t_logvar - t_mu**2 - t_logvar.exp())
    theirs = (rec + beta * kl) / 3
    check(ours, theirs, [(recon, t_recon), (mu, t_mu), (logvar, t_logvar)])


def test_vae_loss_by_hand_and_reductions():
    # KL of N(1, e^0) against N(0, 1) in one dimension: ½(σ² + μ² − 1 − log σ²) = ½
    assert F.gaussian_kl(soma.tensor([[1.0]]), soma.tensor([[0.0]])).item() == pytest.approx(0.5)
    # σ² = e: ½(e − 1 − 1) per dimension
    kl = F.gaussian_kl(soma.zeros(1, 2), soma.ones(1, 2)).item()
    assert kl == pytest.approx(math.e - 2, rel=1e-6)
    out = (soma.zeros(2, 3), soma.zeros(2, 1), soma.zeros(2, 1))
    x = soma.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert VAELoss(reduction="none")(out, x).tolist() == pytest.approx([3 * math.log(2)] * 2)
    assert VAELoss(reduction="sum")(out, x).item() == pytest.approx(6 * math.log(2))
    with pytest.raises(ValueError, match="reconstruction"):
        F.vae_loss(out[0], x, out[1], out[2], reconstruction="l1")
    with pytest.raises(ValueError, match="shape"):
        F.vae_loss(soma.zeros(2, 4), x, out[1], out[2])


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "wasserstein"])
def test_gan_losses_match_torch(kind):
    rng = np.random.default_rng(1)
    real, t_real = pair(rng.standard_normal(7).astype(np.float32) * 2)
    fake, t_fake = pair(rng.standard_normal(7).astype(np.float32) * 2)
    d = F.gan_discriminator_loss(real, fake, kind)
    if kind == "nonsaturating":  # BCE with logits of real → 1, fake → 0
        ones, zeros = torch.ones(7), torch.zeros(7)
        td = TF.binary_cross_entropy_with_logits(
            t_real, ones
        ) + TF.binary_cross_entropy_with_logits(t_fake, zeros)
    elif kind == "hinge":
        td = TF.relu(1 - t_real).mean() + TF.relu(1 + t_fake).mean()
    else:
        td = t_fake.mean() - t_real.mean()
    check(d, td, [(real, t_real), (fake, t_fake)])

    fake, t_fake = pair(rng.standard_normal(7).astype(np.float32) * 2)
    g = GANLoss(kind).generator(fake)
    if kind == "nonsaturating":
        tg = TF.binary_cross_entropy_with_logits(t_fake, torch.ones(7))
    else:
        tg = -t_fake.mean()
    check(g, tg, [(fake, t_fake)])


def test_nonsaturating_generator_loss_does_not_saturate():
    """Early in training D calls fakes fake with confidence; log(1 − D(G(z))) then has almost no
    gradient, −log D(G(z)) has a large one (Goodfellow et al. 2014, section 3)."""
    fake = soma.tensor([-8.0], requires_grad=True)
    F.gan_generator_loss(fake).backward()
    assert fake.grad.item() == pytest.approx(-1 / (1 + math.exp(-8)), rel=1e-5)  # ≈ −1
    with pytest.raises(ValueError, match="kind"):
        GANLoss("least_squares")
