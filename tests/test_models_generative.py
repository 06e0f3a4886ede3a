"""The generative models (issue 13): parameter counts and shapes at reference settings, the
lectures' facts (a transposed-convolution decoder retraces the encoder's sizes), and forward and
backward against PyTorch twins built here from ``torch.nn`` primitives with copied weights.

Twins are matched to soma models parameter by parameter in registration order (same shapes),
except DCGAN, whose state-dict names are those of PyTorch's DCGAN example and load by name.
"""

import math

import numpy as np
import pytest

import soma
from soma.models import (
    DCGAN,
    DDPM,
    VAE,
    ConvAutoencoder,
    DenseAutoencoder,
    MLPDenoiser,
    UNetDenoiser,
    get_model,
)
from soma.models.blocks import sinusoidal_embedding
from soma.models.diffusion import cosine_beta_schedule, linear_beta_schedule

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def copy_in_order(ours, theirs):
    """Load ``theirs``'s state into ``ours`` entry by entry (names may differ, shapes not)."""
    mine, other = ours.state_dict(), theirs.state_dict()
    assert len(mine) == len(other), (list(mine), list(other))
    state = {}
    for (k, v), (k2, w) in zip(mine.items(), other.items()):
        assert tuple(v.shape) == tuple(w.shape), (k, k2)
        state[k] = w.detach().numpy().copy()
    ours.load_state_dict(state)


def assert_grads_match(ours, theirs, rtol=1e-4, atol=1e-5):
    mine = list(ours.named_parameters())
    other = list(theirs.named_parameters())
    assert len(mine) == len(other)
    for (k, p), (_, q) in zip(mine, other):
        assert p.grad is not None, k
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=atol, err_msg=k)


def close(a, b, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------- autoencoders
@pytest.mark.parametrize("size", [(8, 8), (28, 28), (13, 10)])
def test_decoder_retraces_the_encoder_sizes(size):
    ae = ConvAutoencoder(1, size, channels=(4, 8, 8))
    seen = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[2:])))
        for m in ae.modules()
        if isinstance(m, (soma.nn.Conv2d, soma.nn.ConvTranspose2d))
    ]
    out = ae(soma.rand(2, 1, *size))
    for h in hooks:
        h.remove()
    encoder, decoder = seen[:3], seen[3:]
    assert encoder == [s for s in ae.sizes[1:]]
    assert decoder == list(reversed(ae.sizes[:-1]))
    assert tuple(out.shape) == (2, 1, *size)


def test_autoencoder_reference_counts_and_shapes():
    ae = get_model("autoencoder")  # conv, digits 1×8×8, channels (32, 64), latent 16
    # conv 1→32: 320, conv 32→64: 18,496, fc 256→16: 4,112, fc 16→256: 4,352,
    # deconv 64→32: 18,464, deconv 32→1: 289
    assert n_params(ae) == 320 + 18_496 + 4_112 + 4_352 + 18_464 + 289 == 46_033
    assert tuple(ae.encode(soma.rand(3, 1, 8, 8)).shape) == (3, 16)
    dense = get_model("autoencoder", kind="dense", latent_dim=8)
    assert n_params(dense) == (64 * 128 + 128) + (128 * 8 + 8) + (8 * 128 + 128) + (128 * 64 + 64)


def torch_conv_ae():
    class AE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.enc = tnn.Sequential(
                tnn.Conv2d(1, 32, 3, 2, 1), tnn.ReLU(), tnn.Conv2d(32, 64, 3, 2, 1), tnn.ReLU(),
                tnn.Flatten(), tnn.Linear(256, 16),
            )  # fmt: skip
            self.dec = tnn.Sequential(
                tnn.Linear(16, 256), tnn.ReLU(), tnn.Unflatten(1, (64, 2, 2)),
                tnn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), tnn.ReLU(),
                tnn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1),
            )  # fmt: skip

        def forward(self, x):
            return torch.sigmoid(self.dec(self.enc(x)))

    return AE()


def test_conv_autoencoder_matches_torch_forward_and_backward():
    theirs = torch_conv_ae()
    ours = ConvAutoencoder(1, (8, 8), 16)
    copy_in_order(ours, theirs)
    x = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    y_ours, y_theirs = ours(soma.tensor(x)), theirs(torch.tensor(x))
    close(y_ours, y_theirs)
    soma.functional.mse_loss(y_ours, soma.tensor(x)).backward()
    TF.mse_loss(y_theirs, torch.tensor(x)).backward()
    assert_grads_match(ours, theirs)


def test_dense_autoencoder_matches_torch_forward_and_backward():
    theirs = tnn.Sequential(
        tnn.Flatten(), tnn.Linear(64, 32), tnn.ReLU(), tnn.Linear(32, 4),
        tnn.Linear(4, 32), tnn.ReLU(), tnn.Linear(32, 64), tnn.Tanh(), tnn.Unflatten(1, (1, 8, 8)),
    )  # fmt: skip
    ours = DenseAutoencoder(64, latent_dim=4, hidden=(32,), output="tanh")
    copy_in_order(ours, theirs)
    x = np.random.default_rng(5).random((3, 1, 8, 8), dtype=np.float32)
    y_ours, y_theirs = ours(soma.tensor(x)), theirs(torch.tensor(x))
    assert tuple(y_ours.shape) == (3, 1, 8, 8)
    close(y_ours, y_theirs)
    soma.functional.l1_loss(y_ours, soma.tensor(x)).backward()
    TF.l1_loss(y_theirs, torch.tensor(x)).backward()
    assert_grads_match(ours, theirs)


def test_denoising_autoencoder_corrupts_only_while_training():
    dae = get_model("denoising_autoencoder", noise_level=0.5)
    x = soma.rand(2, 1, 8, 8)
    dae.eval()
    with soma.no_grad():
        assert np.array_equal(dae(x).numpy(), dae(x).numpy())  # eval: deterministic
        assert not np.array_equal(dae.corrupt(x).numpy(), x.numpy())
        dae.train()
        assert not np.array_equal(dae(x).numpy(), dae(x).numpy())
    masked = get_model("denoising_autoencoder", noise="mask", noise_level=0.5).corrupt(
        soma.ones(1000)
    )
    assert set(np.unique(masked.numpy())) == {0.0, 1.0}
    assert 0.4 < (masked.numpy() == 0).mean() < 0.6
    with pytest.raises(ValueError, match="noise_level"):
        DenseAutoencoder(4, noise_level=-1)


# ---------------------------------------------------------------------- VAE
def test_vae_reference_counts_and_shapes():
    vae = get_model("vae")  # digits 1×8×8, latent 8, channels (32, 64)
    # encoder convs 320 + 18,496; μ and log σ² heads 2·(256·8 + 8); decoder fc 8→256: 2,304;
    # deconvs 18,464 + 289
    assert n_params(vae) == 320 + 18_496 + 2 * 2_056 + 2_304 + 18_464 + 289 == 43_985
    recon, mu, logvar = vae(soma.rand(5, 1, 8, 8))
    assert tuple(recon.shape) == (5, 1, 8, 8) and tuple(mu.shape) == tuple(logvar.shape) == (5, 8)
    s = vae.sample(7)
    assert tuple(s.shape) == (7, 1, 8, 8) and 0 <= s.min().item() and s.max().item() <= 1


def test_vae_forward_backward_and_elbo_match_torch():
    ours = VAE(1, (8, 8), latent_dim=4)
    enc = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, 2, 1),
        tnn.ReLU(),
        tnn.Conv2d(32, 64, 3, 2, 1),
        tnn.ReLU(),
        tnn.Flatten(),
    )
    heads = tnn.ModuleList([tnn.Linear(256, 4), tnn.Linear(256, 4)])
    dec = torch_conv_ae().dec
    dec[0] = tnn.Linear(4, 256)
    theirs = tnn.ModuleList([enc, heads, dec])
    copy_in_order(ours, theirs)
    x = np.random.default_rng(1).random((3, 1, 8, 8), dtype=np.float32)
    eps = soma.randn(3, 4, generator=soma.Generator().manual_seed(5)).numpy()

    mu, logvar = ours.encode(soma.tensor(x))
    z = ours.reparameterize(mu, logvar, generator=soma.Generator().manual_seed(5))
    loss_ours = soma.nn.functional.vae_loss(ours.decoder(z), soma.tensor(x), mu, logvar, beta=0.5)
    h = enc(torch.tensor(x))
    tmu, tlogvar = heads[0](h), heads[1](h)
    tz = tmu + torch.exp(0.5 * tlogvar) * torch.tensor(eps)
    rec = TF.binary_cross_entropy_with_logits(dec(tz), torch.tensor(x), reduction="sum") / 3
    kl = -0.5 * torch.sum(1 + tlogvar - tmu**2 - tlogvar.exp()) / 3
    loss_theirs = rec + 0.5 * kl
    close(loss_ours, loss_theirs)
    loss_ours.backward()
    loss_theirs.backward()
    assert_grads_match(ours, theirs)


# ---------------------------------------------------------------------- DCGAN
def torch_dcgan(nz=100, ngf=64, ndf=64, nc=3):
    """PyTorch's DCGAN example (pytorch/examples dcgan/main.py), logits out of D."""
    g = tnn.Sequential(
        tnn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 8), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 4), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), tnn.Tanh(),
    )  # fmt: skip
    d = tnn.Sequential(
        tnn.Conv2d(nc, ndf, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 2), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 4), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), tnn.BatchNorm2d(ndf * 8), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
    )  # fmt: skip
    gen, disc = tnn.Module(), tnn.Module()
    gen.main, disc.main = g, d
    return gen, disc


def test_dcgan_reference_counts_and_state_dict_names():
    gan = get_model("dcgan")  # the paper's 64×64×3, z of 100, 64 base channels
    gen, disc = torch_dcgan()
    assert n_params(gan.generator) == sum(p.numel() for p in gen.parameters()) == 3_576_704
    assert n_params(gan.discriminator) == sum(p.numel() for p in disc.parameters()) == 2_765_568
    assert list(gan.generator.state_dict()) == list(gen.state_dict())
    assert list(gan.discriminator.state_dict()) == list(disc.state_dict())
    assert tuple(gan.sample(2).shape) == (2, 3, 64, 64)


def test_dcgan_initialisation_follows_the_paper():
    gan = DCGAN(100, 3, 64, 32)
    convs = [
        m.weight.detach().numpy()
        for m in gan.modules()
        if isinstance(m, (soma.nn.Conv2d, soma.nn.ConvTranspose2d))
    ]
    w = np.concatenate([c.ravel() for c in convs])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 5e-4
    bn = [m for m in gan.modules() if isinstance(m, soma.nn.BatchNorm2d)]
    gamma = np.concatenate([m.weight.detach().numpy() for m in bn])
    assert abs(gamma.mean() - 1) < 5e-3 and abs(gamma.std() - 0.02) < 3e-3
    assert all(np.all(m.bias.detach().numpy() == 0) for m in bn)


@pytest.mark.parametrize("size", [16, 64])
def test_dcgan_matches_torch_forward_and_backward(size):
    nz, ngf = 8, 4
    gan = DCGAN(nz, 3, size, ngf)
    gen, disc = torch_dcgan(nz, ngf, ngf) if size == 64 else _small_torch_dcgan(nz, ngf)
    gan.generator.load_state_dict({k: v.numpy().copy() for k, v in gen.state_dict().items()})
    gan.discriminator.load_state_dict({k: v.numpy().copy() for k, v in disc.state_dict().items()})
    z = np.random.default_rng(2).standard_normal((3, nz)).astype(np.float32)
    fake = gan(soma.tensor(z))
    tfake = gen.main(torch.tensor(z).reshape(3, nz, 1, 1))
    close(fake, tfake)
    logits, tlogits = gan.discriminator(fake), disc.main(tfake).reshape(-1)
    close(logits, tlogits)
    soma.nn.functional.gan_generator_loss(logits).backward()
    TF.softplus(-tlogits).mean().backward()
    assert_grads_match(gan, tnn.ModuleList([gen, disc]), rtol=2e-4, atol=1e-5)


def _small_torch_dcgan(nz, ngf):
    g = tnn.Sequential(
        tnn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 2), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(True),
        tnn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), tnn.Tanh(),
    )  # fmt: skip
    d = tnn.Sequential(
        tnn.Conv2d(3, ngf, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2), tnn.LeakyReLU(0.2, inplace=True),
        tnn.Conv2d(ngf * 2, 1, 4, 1, 0, bias=False),
    )  # fmt: skip
    gen, disc = tnn.Module(), tnn.Module()
    gen.main, disc.main = g, d
    return gen, disc


def test_conditional_dcgan_reads_labels():
    gan = DCGAN(8, 1, 16, 4, num_classes=10)
    assert gan.generator.main[0].in_channels == 18 and gan.discriminator.main[0].in_channels == 11
    z = soma.randn(2, 8)
    gan.eval()
    with soma.no_grad():
        a = gan(z, soma.tensor([1, 1])).numpy()
        b = gan(z, soma.tensor([1, 7])).numpy()
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[1], b[1])
    assert tuple(gan.discriminator(gan.sample(3), soma.tensor([0, 1, 2])).shape) == (3,)
    with pytest.raises(ValueError, match="needs labels"):
        gan(z)
    with pytest.raises(ValueError, match="power of two"):
        DCGAN(8, 1, 28, 4)


# ---------------------------------------------------------------------- diffusion
def test_sinusoidal_embedding_is_the_transformer_code():
    t = soma.tensor([0, 3, 250])
    emb = sinusoidal_embedding(t, 8).numpy()
    freqs = 10000.0 ** (-np.arange(4) / 4)
    want = np.concatenate(
        [np.sin(np.outer([0, 3, 250], freqs)), np.cos(np.outer([0, 3, 250], freqs))], 1
    )
    np.testing.assert_allclose(emb, want, rtol=1e-5, atol=1e-5)


def test_schedules():
    lin = linear_beta_schedule(1000)
    assert lin[0] == pytest.approx(1e-4) and lin[-1] == pytest.approx(0.02)
    assert np.prod(1 - lin) < 1e-4  # x_T is (almost) pure noise
    assert np.prod(1 - linear_beta_schedule(100)) < 1e-4  # rescaled for short chains
    cos = cosine_beta_schedule(1000)
    abar = np.cumprod(1 - cos)
    f = np.cos((np.arange(1, 1001) / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2
    f0 = np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(abar[:900], (f / f0)[:900], rtol=1e-9)  # before the 0.999 clip
    assert cos.max() <= 0.999


def test_q_sample_is_the_closed_form_and_has_its_moments():
    ddpm = DDPM(MLPDenoiser(2, 8), (2,), timesteps=100)
    x0 = soma.ones(20000, 2) * 3.0
    t = soma.full((20000,), 40, dtype=soma.int64)
    xt = ddpm.q_sample(x0, t).numpy()
    abar = np.prod(1 - linear_beta_schedule(100)[:41])
    np.testing.assert_allclose(xt.mean(0), 3 * np.sqrt(abar), atol=0.03)
    np.testing.assert_allclose(xt.std(0), np.sqrt(1 - abar), atol=0.02)
    # and it is the same as 41 single steps x_t = √(1−β_t) x_{t−1} + √β_t ε, in distribution
    x = np.full((20000, 2), 3.0)
    rng = np.random.default_rng(0)
    for beta in linear_beta_schedule(100)[:41]:
        x = np.sqrt(1 - beta) * x + np.sqrt(beta) * rng.standard_normal(x.shape)
    np.testing.assert_allclose(x.mean(0), xt.mean(0), atol=0.04)
    np.testing.assert_allclose(x.std(0), xt.std(0), atol=0.03)


def torch_mlp_denoiser(dim=2, hidden=16, layers=2, time_dim=8):
    class Den(tnn.Module):
        def __init__(self):
            super().__init__()
            self.time = tnn.Sequential(
                tnn.Linear(time_dim, hidden), tnn.SiLU(), tnn.Linear(hidden, hidden)
            )
            self.inp = tnn.Linear(dim, hidden)
            self.hid = tnn.ModuleList([tnn.Linear(hidden, hidden) for _ in range(layers)])
            self.proj = tnn.ModuleList([tnn.Linear(hidden, hidden) for _ in range(layers)])
            self.out = tnn.Linear(hidden, dim)

        def forward(self, x, t):
            half = time_dim // 2
            freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
            ang = t.float()[:, None] * freqs[None]
            emb = TF.silu(self.time(torch.cat([ang.sin(), ang.cos()], 1)))
            h = self.inp(x)
            for lin, p in zip(self.hid, self.proj):
                h = lin(TF.silu(h + p(emb)))
            return self.out(TF.silu(h))

    return Den()


def test_ddpm_loss_with_mlp_denoiser_matches_torch():
    ours = DDPM(MLPDenoiser(2, 16, 2, 8), (2,), timesteps=50, schedule="cosine")
    theirs = torch_mlp_denoiser()
    copy_in_order(ours.denoiser, theirs)
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((6, 2)).astype(np.float32)
    gen = soma.Generator().manual_seed(9)
    t = soma.randint(0, 50, (6,), generator=gen).numpy()
    noise = soma.randn(6, 2, generator=gen).numpy()
    loss = ours.loss(soma.tensor(x0), generator=soma.Generator().manual_seed(9))
    abar = torch.tensor(np.cumprod(1 - cosine_beta_schedule(50)), dtype=torch.float32)
    a = abar[torch.tensor(t)][:, None]
    xt = a.sqrt() * torch.tensor(x0) + (1 - a).sqrt() * torch.tensor(noise)
    tloss = TF.mse_loss(theirs(xt, torch.tensor(t)), torch.tensor(noise))
    close(loss, tloss)
    loss.backward()
    tloss.backward()
    assert_grads_match(ours.denoiser, theirs)


def torch_unet_denoiser(c_in=1, ch=8, mults=(1, 2), groups=4):
    class Res(tnn.Module):
        def __init__(self, cin, cout, tdim):
            super().__init__()
            self.n1, self.c1 = tnn.GroupNorm(groups, cin), tnn.Conv2d(cin, cout, 3, padding=1)
            self.t = tnn.Linear(tdim, cout)
            self.n2, self.c2 = tnn.GroupNorm(groups, cout), tnn.Conv2d(cout, cout, 3, padding=1)
            self.skip = tnn.Identity() if cin == cout else tnn.Conv2d(cin, cout, 1)

        def forward(self, x, e):
            h = self.c1(TF.silu(self.n1(x))) + self.t(TF.silu(e))[:, :, None, None]
            return self.c2(TF.silu(self.n2(h))) + self.skip(x)

    class UNet(tnn.Module):
        def __init__(self):
            super().__init__()
            tdim = 4 * ch
            self.time = tnn.Sequential(tnn.Linear(ch, tdim), tnn.SiLU(), tnn.Linear(tdim, tdim))
            self.cin = tnn.Conv2d(c_in, ch, 3, padding=1)
            w = [ch * m for m in mults]
            self.down = tnn.ModuleList([Res(ch, w[0], tdim), Res(w[0], w[1], tdim)])
            self.ds = tnn.Conv2d(w[0], w[0], 3, stride=2, padding=1)
            self.mid = Res(w[1], w[1], tdim)
            self.up = tnn.ModuleList([Res(2 * w[1], w[1], tdim)])
            self.us = tnn.ConvTranspose2d(w[1], w[1], 4, 2, 1)
            self.up.append(Res(w[1] + w[0], w[0], tdim))
            self.out = tnn.Sequential(
                tnn.GroupNorm(groups, w[0]), tnn.SiLU(), tnn.Conv2d(w[0], c_in, 3, padding=1)
            )

        def forward(self, x, t):
            half = ch // 2
            freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
            ang = t.float()[:, None] * freqs[None]
            e = self.time(torch.cat([ang.sin(), ang.cos()], 1))
            h = self.cin(x)
            s0 = self.down[0](h, e)
            s1 = self.down[1](self.ds(s0), e)
            h = self.mid(s1, e)
            h = self.us(self.up[0](torch.cat([h, s1], 1), e))
            h = self.up[1](torch.cat([h, s0], 1), e)
            return self.out(h)

    return UNet()


def test_unet_denoiser_matches_torch_forward_and_backward():
    ours = UNetDenoiser(1, 8, (1, 2), groups=4)
    theirs = torch_unet_denoiser()
    # soma registers time, conv_in, down…, downsample…, mid, up…, upsample…, out; reorder twin
    order = ["time", "cin", "down.0", "down.1", "ds", "mid", "up.0", "up.1", "us", "out"]
    named = dict(theirs.state_dict())
    ordered = [(k, v) for prefix in order for k, v in named.items() if k.startswith(prefix + ".")]
    mine = ours.state_dict()
    assert len(ordered) == len(mine)
    ours.load_state_dict({k: v.numpy().copy() for k, (_, v) in zip(mine, ordered)})
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)
    t = np.array([3, 77])
    y, ty = ours(soma.tensor(x), soma.tensor(t)), theirs(torch.tensor(x), torch.tensor(t))
    close(y, ty)
    (y * y).mean().backward()
    (ty * ty).mean().backward()
    tparams = dict(theirs.named_parameters())
    pairs = [
        (p, tparams[k])
        for (_, p), (k, _) in zip(
            ours.named_parameters(), [(k, v) for k, v in ordered if k in tparams]
        )
    ]
    assert len(pairs) == len(list(ours.parameters()))
    for p, q in pairs:
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=2e-4, atol=1e-5)


def test_ddpm_reference_counts_and_shapes():
    model = get_model("ddpm")  # digits: U-Net 32 base channels, mults (1, 2), T = 1000
    assert model.timesteps == 1000 and model.sample_shape == (1, 8, 8)
    assert n_params(model) == 439_393
    assert tuple(model.ddim_sample(2, steps=3).shape) == (2, 1, 8, 8)
    toy = get_model("ddpm", in_features=2, timesteps=100)
    # time MLP 32→128→128: 4,224 + 16,512; input 2→128: 384; 3 hidden and 3 time projections
    # 128→128: 6 · 16,512; output 128→2: 258
    assert isinstance(toy.denoiser, MLPDenoiser) and n_params(toy) == 120_450
    assert tuple(toy.ddim_sample(3, steps=10).shape) == (3, 2)


def test_ancestral_step_equals_hos_equation_11():
    """The posterior-mean form used here equals Ho et al.'s x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε)/√α_t
    + σ_t z when x̂_0 is not clipped (σ_t² = β̃_t)."""
    ddpm = DDPM(MLPDenoiser(2, 8), (2,), timesteps=30)
    x = soma.randn(5, 2)
    t = 17
    eps = ddpm._eps(x, t).detach().numpy()
    betas = linear_beta_schedule(30)
    abar = np.cumprod(1 - betas)
    ho = (x.numpy() - betas[t] / np.sqrt(1 - abar[t]) * eps) / np.sqrt(1 - betas[t])
    ddpm.timesteps = t + 1  # run exactly one step, from t, without noise: compare the means
    x0 = ddpm._predict_x0(x, t, soma.tensor(eps))
    mean = x0 * (math.sqrt(abar[t - 1]) * betas[t] / (1 - abar[t])) + x * (
        math.sqrt(1 - betas[t]) * (1 - abar[t - 1]) / (1 - abar[t])
    )
    np.testing.assert_allclose(mean.detach().numpy(), ho, rtol=1e-4, atol=1e-5)


def test_ddim_with_eta_zero_is_deterministic_and_ancestral_is_not():
    ddpm = DDPM(MLPDenoiser(2, 8), (2,), timesteps=50)
    g = lambda s: soma.Generator().manual_seed(s)  # noqa: E731
    a = ddpm.ddim_sample(4, steps=5, generator=g(1)).numpy()
    b = ddpm.ddim_sample(4, steps=5, generator=g(1)).numpy()
    assert np.array_equal(a, b)
    samples, chain = ddpm.sample(4, generator=g(1), chain_every=5)
    assert len(chain) == 11 and np.array_equal(chain[-1].numpy(), samples.numpy())
    with pytest.raises(ValueError, match="steps"):
        ddpm.ddim_sample(2, steps=0)


def test_benchmark_denoiser_is_the_unet_denoiser():
    """The benchmark writes its denoiser from nn primitives; it is UNetDenoiser(1, 32, (1, 2)),
    and its training step runs in soma."""
    from benchmarks.cases import generative

    bench = generative._unet(soma)
    model = UNetDenoiser(1, 32, (1, 2), groups=8)
    assert n_params(bench) == n_params(model)
    assert sorted(tuple(p.shape) for p in bench.parameters()) == sorted(
        tuple(p.shape) for p in model.parameters()
    )
    generative.ddpm_denoiser_training_step(soma)()
