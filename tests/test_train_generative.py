"""Training loops and the command line of the generative models (issue 13): the GAN's
alternating steps with two optimizers, the diffusion loop, checkpoints and resume, fit on an
autoencoder and a VAE, ``soma train`` / ``soma sample`` and their pictures."""

import json

import numpy as np
import pytest

import soma
from soma.cli import main
from soma.models import DCGAN, DDPM, VAE, ConvAutoencoder, MLPDenoiser
from soma.train import ModelCheckpoint, fit
from soma.train.diffusion import fit_diffusion
from soma.train.gan import GANTrainer, fit_gan


def _images(n=32, size=16):
    return soma.rand(n, 1, size, size) * 2 - 1, soma.randint(0, 10, (n,))


def _state(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def test_gan_step_updates_each_network_with_its_own_optimizer():
    gan = DCGAN(8, 1, 16, 4)
    x, y = _images(8)
    trainer = GANTrainer(gan, verbose=False)
    g0, d0 = _state(gan.generator), _state(gan.discriminator)
    # freeze one network at a time through its optimizer's learning rate
    for group in trainer.optimizer.generator.param_groups:
        group["lr"] = 0.0
    trainer.fit((x, y), 1, batch_size=8)
    g1, d1 = _state(gan.generator), _state(gan.discriminator)
    weights = [k for k in g0 if k.endswith("weight")]
    assert all(np.array_equal(g0[k], g1[k]) for k in weights)  # lr 0: the generator kept still
    assert any(not np.array_equal(d0[k], d1[k]) for k in d0 if k.endswith("weight"))
    logs = trainer.history.epochs[-1]
    for key in ("loss", "d_loss", "g_loss", "d_real", "d_fake"):
        assert np.isfinite(logs[key])
    assert logs["loss"] == pytest.approx(logs["d_loss"] + logs["g_loss"])


@pytest.mark.parametrize("kind", ["hinge", "wasserstein"])
def test_gan_trains_with_the_other_losses(kind):
    x, y = _images(16)
    history = fit_gan(DCGAN(8, 1, 16, 4), (x, y), 1, batch_size=8, loss=kind, verbose=False)
    assert np.isfinite(history["d_loss"][-1]) and np.isfinite(history["g_loss"][-1])


def test_gan_generator_step_sees_the_updated_discriminator_and_detached_fakes():
    """One batch by hand, the same way GANTrainer does it, compared with the trainer."""
    x, y = _images(8)
    soma.manual_seed(3)
    gan = DCGAN(8, 1, 16, 4)
    ref = DCGAN(8, 1, 16, 4)
    ref.load_state_dict(_state(gan))
    opt_g = soma.optim.Adam(ref.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = soma.optim.Adam(ref.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = soma.nn.GANLoss()
    loader = soma.data.DataLoader(soma.data.TensorDataset(x, y), batch_size=8)
    soma.manual_seed(11)
    iter(loader)  # the trainer's epoch starts with the loader's base-seed draw, as in PyTorch
    fake = ref.generator(soma.randn(8, 8))
    opt_d.zero_grad()
    loss.discriminator(ref.discriminator(x), ref.discriminator(fake.detach())).backward()
    opt_d.step()
    opt_g.zero_grad()
    loss.generator(ref.discriminator(fake)).backward()
    opt_g.step()
    soma.manual_seed(11)
    fit_gan(gan, loader, 1, verbose=False)
    for k, v in _state(ref).items():
        np.testing.assert_allclose(_state(gan)[k], v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_conditional_gan_trains_on_labels_and_checkpoints_resume(tmp_path):
    x, y = _images(16)
    soma.manual_seed(0)
    gan = DCGAN(8, 1, 16, 4, num_classes=10)
    trainer = GANTrainer(
        gan, callbacks=[ModelCheckpoint(tmp_path, monitor="loss", save_best=False)], verbose=False
    )
    trainer.fit((x, y), 2, batch_size=8, shuffle=False)
    ckpt = soma.load(tmp_path / "last.safetensors")
    assert set(ckpt["optimizer"]) == {"generator", "discriminator"}
    resumed = GANTrainer(DCGAN(8, 1, 16, 4, num_classes=10), verbose=False)
    resumed.fit((x, y), 3, batch_size=8, shuffle=False, resume=tmp_path / "last.safetensors")
    assert resumed.epoch == 3 and len(resumed.history.epochs) == 3


def test_diffusion_training_lowers_the_loss_and_logs():
    x = soma.randn(256, 2) * 0.1 + 1.0
    soma.manual_seed(0)
    model = DDPM(MLPDenoiser(2, 32), (2,), timesteps=50)
    history = fit_diffusion(model, x, 15, batch_size=64, lr=3e-3, verbose=False)
    assert history["loss"][-1] < 0.7 * history["loss"][0]


def test_fit_trains_an_autoencoder_and_a_vae_with_inputs_as_targets():
    x = soma.rand(64, 1, 8, 8)
    soma.manual_seed(0)
    ae = ConvAutoencoder(1, (8, 8), 8, channels=(8, 16))
    h = fit(ae, (x, x), loss="mse", lr=3e-3, epochs=5, metrics=[], verbose=False)
    assert h["loss"][-1] < h["loss"][0]
    vae = VAE(1, (8, 8), 4, channels=(8, 16))
    h = fit(
        vae,
        (x, x),
        loss=soma.nn.VAELoss(),
        lr=3e-3,
        epochs=5,
        val_data=(x, x),
        metrics=[],
        verbose=False,
    )
    assert h["loss"][-1] < h["loss"][0] and np.isfinite(h["val_loss"][-1])


# ---------------------------------------------------------------------- the command line
@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pytest.importorskip("matplotlib")
    return tmp_path


def _train(model, *extra):
    argv = ["train", "--model", model, "--data", "digits", "--epochs", "1", "--batch-size", "64"]
    return main([*argv, "--quiet", "--out", model, *extra])


def test_cli_summaries_of_the_generative_models(capsys):
    assert main(["summary", "--model", "vae", "--input", "1,8,8"]) == 0
    assert "output shapes for one input: (1, 1, 8, 8), (1, 8), (1, 8)" in capsys.readouterr().out
    assert main(["summary", "--model", "dcgan", "--input", "3,64,64"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 3,576,704" in out and "Total params: 2,765,568" in out
    assert main(["summary", "--model", "ddpm", "--input", "1,8,8"]) == 0
    assert "UNetDenoiser: 439,393 parameters; T = 1000" in capsys.readouterr().out


def test_cli_vae_run_and_sample(workdir, capsys):
    assert _train("vae") == 0
    out = capsys.readouterr().out
    assert "test: neg_elbo" in out
    for name in (
        "last.safetensors",
        "history.json",
        "curves.png",
        "reconstructions.png",
        "interpolation.png",
        "latent.png",
        "samples.png",
    ):
        assert (workdir / "vae" / name).stat().st_size > 150, name
    history = json.loads((workdir / "vae" / "history.json").read_text())
    assert history["test"]["neg_elbo"] > 0
    assert main(["sample", "vae", "--n", "16", "--out", "grid.png"]) == 0
    assert (workdir / "grid.png").stat().st_size > 1000
    assert main(["evaluate", "vae"]) == 2
    assert "soma sample" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_dcgan_ddpm_and_autoencoder_runs(workdir, capsys):
    assert _train("dcgan", "--model-arg", "base_channels=8", "--model-arg", "latent_dim=16") == 0
    assert "inputs resized from 8x8 to 16x16 for dcgan" in capsys.readouterr().out
    assert (workdir / "dcgan" / "samples.png").exists()
    assert main(["sample", "dcgan", "--n", "9"]) == 0
    assert (workdir / "dcgan" / "grid.png").exists()

    assert _train("ddpm", "--model-arg", "timesteps=20", "--model-arg", "base_channels=8") == 0
    assert (workdir / "ddpm" / "chain.png").exists()
    assert main(["sample", "ddpm", "--n", "4", "--steps", "5", "--out", "d.png"]) == 0

    argv = [
        "train",
        "--model",
        "ddpm",
        "--data",
        "moons",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "moons",
    ]
    assert main([*argv, "--model-arg", "timesteps=20"]) == 0
    assert main(["sample", "moons", "--n", "50"]) == 0

    assert _train("denoising_autoencoder") == 0
    assert "test: mse" in capsys.readouterr().out
    assert main(["sample", "denoising_autoencoder"]) == 2
    assert "does not generate" in capsys.readouterr().err


def test_pictures_of_a_chain_and_of_points(tmp_path):
    pytest.importorskip("matplotlib")
    from soma.inspection import plot_diffusion_chain, plot_points, plot_samples

    class Zero(soma.nn.Module):  # any ε_θ will do for the picture
        def forward(self, x, t):
            return x * 0

    model = DDPM(Zero(), (1, 2, 2), timesteps=10)
    _, chain = model.sample(3, chain_every=5)
    assert len(chain) == 3  # x_T, x_5, x_0
    assert plot_diffusion_chain(chain, tmp_path / "chain.png", n=3).endswith("chain.png")
    assert plot_points(soma.randn(50, 2), str(tmp_path / "p.png"), reference=soma.randn(50, 2))
    plot_samples(soma.rand(5, 3, 4, 4), str(tmp_path / "rgb.png"), columns=3)
    for name in ("chain.png", "p.png", "rgb.png"):
        assert (tmp_path / name).stat().st_size > 1000
