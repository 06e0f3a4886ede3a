"""Generative models on data that needs no download, measured and drawn.

    python examples/generative_digits.py                 # every model, pictures in runs/generative
    python examples/generative_digits.py --only vae gan  # some of them
    python examples/generative_digits.py --out docs/images --small   # the pictures of the docs

What it measures (the figures in docs/GENERATIVE.md come from this script):

* convolutional autoencoder on ``digits`` (8×8): test reconstruction MSE against the baseline of
  predicting the mean training image for every test image;
* VAE on ``digits``: negative ELBO (nats per image) on the test split, and the share of 500
  samples that a separately trained digits classifier (a small CNN, trained here) assigns to a
  class with probability ≥ 0.8, with the classes they fall in;
* DCGAN on ``digits`` resized to 16×16: the same classifier on 500 samples (pooled back to 8×8):
  the confident share and how many of the 10 classes the confident samples cover;
* DDPM on two moons (standardised): MMD (RBF kernels, bandwidths 0.1–1) between 500 samples and
  500 held-out points, against 500 points of N(0, I) and against 500 other data points, with
  ancestral sampling (T = 100) and DDIM (20 steps); mean nearest-neighbour distance too;
* DDPM on ``digits`` (``--only ddpm_digits``, slow on a CPU): the classifier on 500 DDIM samples,
  sample pictures and the chain from noise.
"""

import argparse
import os
import time

import numpy as np

import soma
from soma import nn
from soma.data.datasets.digits import Digits
from soma.data.datasets.synthetic import make_moons
from soma.models import DCGAN, VAE, ConvAutoencoder, ddpm
from soma.train import evaluate, fit
from soma.train import generative_plots as G
from soma.train.diffusion import fit_diffusion
from soma.train.gan import fit_gan


def digits():
    tr, te = Digits(train=True), Digits(train=False)
    xtr, ytr = (soma.tensor(t.numpy()) for t in tr.tensors)
    xte, yte = (soma.tensor(t.numpy()) for t in te.tensors)
    return xtr, ytr, xte, yte


def digits_classifier(xtr, ytr, xte, yte, epochs=10):
    """A small CNN on the 8×8 digits: the judge of generated samples."""
    soma.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 16, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    fit(net, (xtr, ytr), epochs=epochs, lr=1e-3, batch_size=64, verbose=False)
    return net.eval(), evaluate(net, (xte, yte))["accuracy"]


@soma.no_grad()
def judge(classifier, images, threshold=0.8):
    """(share of images classified with probability ≥ threshold, counts per class of those)."""
    conf, cls = soma.functional.softmax(classifier(images), 1).max(1)
    confident = conf.numpy() >= threshold
    return float(confident.mean()), np.bincount(cls.numpy()[confident], minlength=10)


def mmd(a, b, bandwidths=(0.1, 0.2, 0.5, 1.0)):
    """Squared maximum mean discrepancy with a sum of RBF kernels (biased estimate)."""

    def k(x, y):
        d = ((x[:, None] - y[None]) ** 2).sum(-1)
        return sum(np.exp(-d / (2 * s * s)) for s in bandwidths)

    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def nearest_distance(a, b):
    return float(np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min(1).mean())


def moons(n=2000, seed=0):
    x, _ = make_moons(n, noise=0.05, generator=soma.Generator().manual_seed(seed))
    x = x.numpy()
    x = (x - x.mean(0)) / x.std(0)
    return x[: n * 3 // 4].astype(np.float32), x[n * 3 // 4 :]


# ---------------------------------------------------------------------- experiments
def run_autoencoder(data, out, epochs=30):
    xtr, _, xte, _ = data
    soma.manual_seed(0)
    model = ConvAutoencoder(1, (8, 8), latent_dim=16)
    fit(
        model,
        (xtr, xtr),
        loss="mse",
        lr=3e-3,
        epochs=epochs,
        batch_size=64,
        metrics=[],
        verbose=False,
    )
    model.eval()
    with soma.no_grad():
        mse = soma.functional.mse_loss(model(xte), xte).item()
    baseline = soma.functional.mse_loss(xtr.mean(0, keepdim=True).expand(*xte.shape), xte).item()
    with soma.no_grad():
        G.plot_reconstructions(
            xte[:12], model(xte[:12]), os.path.join(out, "ae_reconstructions.png")
        )
    return {"test MSE": mse, "mean-image baseline MSE": baseline}


def run_vae(data, classifier, out, epochs=60):
    xtr, _, xte, yte = data
    soma.manual_seed(0)
    model = VAE(1, (8, 8), latent_dim=8)
    fit(
        model,
        (xtr, xtr),
        loss=nn.VAELoss(),
        lr=3e-3,
        epochs=epochs,
        batch_size=64,
        metrics=[],
        verbose=False,
    )
    model.eval()
    elbo = evaluate(model, (xte, xte), loss=nn.VAELoss(), metrics=[])["loss"]
    with soma.no_grad():
        samples = model.sample(500, generator=soma.Generator().manual_seed(1))
        share, classes = judge(classifier, samples)
        G.plot_samples(samples[:64], os.path.join(out, "vae_samples.png"), title="VAE samples")
        G.plot_reconstructions(
            xte[:12], model.reconstruct(xte[:12]), os.path.join(out, "vae_reconstructions.png")
        )
        G.plot_latent_scatter(
            model.encode(xte)[0],
            yte,
            os.path.join(out, "vae_latent.png"),
            "VAE latent means (PCA), test set",
        )
    G.plot_interpolation(model, xte[:6], xte[6:12], os.path.join(out, "vae_interpolation.png"))
    return {
        "test negative ELBO (nats/image)": elbo,
        "samples with confidence >= 0.8": share,
        "classes of confident samples": classes.tolist(),
    }


def run_gan(data, classifier, out, epochs=30, base_channels=32):
    xtr, ytr, _, _ = data
    x16 = (
        soma.functional.interpolate(xtr, size=(16, 16), mode="bilinear", align_corners=False) * 2
        - 1
    )
    soma.manual_seed(0)
    model = DCGAN(latent_dim=32, channels=1, image_size=16, base_channels=base_channels)
    fit_gan(model, (x16, ytr), epochs, batch_size=64, verbose=False)
    model.eval()
    with soma.no_grad():
        samples = model.sample(500, generator=soma.Generator().manual_seed(1))
        share, classes = judge(classifier, soma.functional.avg_pool2d((samples + 1) / 2, 2))
        G.plot_samples(
            samples[:64],
            os.path.join(out, "dcgan_samples.png"),
            (-1, 1),
            title="DCGAN samples (16×16)",
        )
    return {
        "samples with confidence >= 0.8": share,
        "classes of confident samples": classes.tolist(),
        "classes covered (>= 5 of the 500 samples confidently)": int((classes >= 5).sum()),
    }


def run_ddpm_moons(out, epochs=500):
    train, test = moons()
    soma.manual_seed(0)
    model = ddpm(in_features=2, timesteps=100)
    fit_diffusion(model, soma.tensor(train), epochs, batch_size=128, lr=2e-3, verbose=False)
    gen = soma.Generator().manual_seed(1)
    ancestral = model.sample(500, generator=gen).numpy()
    ddim = model.ddim_sample(500, steps=20, generator=gen).numpy()
    noise = np.random.default_rng(1).standard_normal((500, 2))
    G.plot_points(
        ancestral, os.path.join(out, "ddpm_moons.png"), test, "DDPM on two moons (T = 100)"
    )
    return {
        "MMD ancestral": mmd(ancestral, test[:500]),
        "MMD DDIM 20 steps": mmd(ddim, test[:500]),
        "MMD N(0, I) baseline": mmd(noise, test[:500]),
        "MMD other data points": mmd(train[:500], test[:500]),
        "NN distance ancestral": nearest_distance(ancestral, test[:500]),
        "NN distance N(0, I)": nearest_distance(noise, test[:500]),
        "NN distance other data": nearest_distance(train[:500], test[:500]),
    }


def run_ddpm_digits(data, classifier, out, epochs=40):
    xtr = data[0] * 2 - 1
    soma.manual_seed(0)
    model = ddpm(in_channels=1, input_size=(8, 8), timesteps=400, base_channels=32)
    fit_diffusion(model, xtr, epochs, batch_size=64, lr=1e-3, verbose=False)
    samples = model.ddim_sample(500, steps=50, generator=soma.Generator().manual_seed(1))
    share, classes = judge(classifier, (samples + 1) / 2)
    G.plot_samples(
        samples[:64],
        os.path.join(out, "ddpm_digits_samples.png"),
        (-1, 1),
        title="DDPM samples (DDIM, 50 steps)",
    )
    _, chain = model.sample(6, generator=soma.Generator().manual_seed(2), chain_every=40)
    G.plot_diffusion_chain(chain, os.path.join(out, "ddpm_chain.png"))
    return {
        "DDIM samples with confidence >= 0.8": share,
        "classes of confident samples": classes.tolist(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = ["ae", "vae", "gan", "ddpm_moons", "ddpm_digits"]
    parser.add_argument("--only", nargs="+", choices=choices, default=choices[:4])
    parser.add_argument("--out", default="runs/generative")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    data = digits()
    classifier = None
    if {"vae", "gan", "ddpm_digits"} & set(args.only):
        start = time.perf_counter()
        classifier, accuracy = digits_classifier(*data)
        print(f"classifier: test accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s)")
    runs = {
        "ae": lambda: run_autoencoder(data, args.out),
        "vae": lambda: run_vae(data, classifier, args.out),
        "gan": lambda: run_gan(data, classifier, args.out),
        "ddpm_moons": lambda: run_ddpm_moons(args.out),
        "ddpm_digits": lambda: run_ddpm_digits(data, classifier, args.out),
    }
    for name in args.only:
        start = time.perf_counter()
        figures = runs[name]()
        print(f"{name} ({time.perf_counter() - start:.1f} s):")
        for key, value in figures.items():
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
