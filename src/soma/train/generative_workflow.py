"""``soma train`` and ``soma sample`` for the generative models (autoencoders, VAE, DCGAN, DDPM).

    soma train --model vae --data digits --epochs 60 --out runs/vae
    soma train --model dcgan --data digits          # images resized to 16×16, scaled to [−1, 1]
    soma train --model ddpm --data moons            # vectors: an MLP denoiser
    soma sample runs/vae --n 64 --out grid.png

Images reach autoencoders and VAEs as values in [0, 1] (the VAE's Bernoulli decoder, the
autoencoder's sigmoid output) and GANs and diffusion models in [−1, 1] (tanh output, x̂_0
clipped to [−1, 1]); feature vectors (``moons``) are standardised with the training split's
statistics. The run folder gets the checkpoints, the history, the loss curves and pictures:
``reconstructions.png``, ``interpolation.png``, ``latent.png`` (VAE), ``samples.png`` and
``chain.png`` (DDPM).
"""

import copy
import os
import sys

from soma.autograd.factory import tensor, zeros
from soma.autograd.grad_mode import no_grad
from soma.backend.random import manual_seed
from soma.data import DataLoader
from soma.io import check_state_dict, load
from soma.nn import VAELoss
from soma.train import generative_plots as G
from soma.train.callbacks import ModelCheckpoint
from soma.train.diffusion import DiffusionTrainer
from soma.train.gan import GANTrainer
from soma.train.loggers import CSVLogger, JSONLogger
from soma.train.loop import Trainer, evaluate
from soma.train.plots import plot_history
from soma.train.workflow import (
    RunError,
    build_model,
    check_names,
    check_writable,
    make_optimizer,
    make_scheduler,
    model_summary,
    prepare_data,
)

KINDS = {
    "autoencoder": "autoencoder",
    "denoising_autoencoder": "autoencoder",
    "vae": "vae",
    "dcgan": "gan",
    "ddpm": "diffusion",
}
DEFAULT_LR = {"autoencoder": 3e-3, "vae": 3e-3, "gan": 2e-4, "diffusion": 1e-3}


def is_generative(model: str) -> bool:
    return model in KINDS


class SelfTargets:
    """A loader whose batches are ``(x, x)``: an autoencoder's input is its own target."""

    def __init__(self, loader):
        self.loader = loader
        self.sampler = getattr(loader, "sampler", None)  # checkpoints find its generator

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            yield x, x


def _standardised(dataset, mean, std):
    if dataset is None:
        return None
    out = copy.copy(dataset)
    out.transform = lambda x: (x - mean) / std
    return out


def _prepare(args, kind):
    """Data for a generative run: images in [0, 1] or [−1, 1]; vectors standardised."""
    wide = kind in ("gan", "diffusion")
    try:
        probe = prepare_data(
            args.data, args.model, root=args.data_dir, download=args.download, normalize=False
        )
    except FileNotFoundError as error:
        raise RunError(f"{error}\n(add --download, or --data-dir FOLDER)") from None
    channels = probe.input_shape[0]
    if len(probe.input_shape) != 3:
        if kind != "diffusion":
            raise RunError(
                f"{args.model} takes images; '{args.data}' holds feature vectors", usage=True
            )
        x = probe.train.tensors[0]
        mean, std = x.mean(0), x.std(0)
        for split in ("train", "val", "test"):
            setattr(probe, split, _standardised(getattr(probe, split), mean, std))
        probe.mean, probe.std = tuple(mean.tolist()), tuple(std.tolist())
        return probe, None
    value_range = (-1.0, 1.0) if wide else (0.0, 1.0)
    if not wide:
        return probe, value_range
    prepared = prepare_data(
        args.data,
        args.model,
        root=args.data_dir,
        download=args.download,
        mean=(0.5,) * channels,
        std=(0.5,) * channels,
    )
    return prepared, value_range


def _loader(dataset, batch_size, shuffle=False):
    return None if dataset is None else DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def _trainer(args, kind, model, prepared, extra, callbacks):
    lr = args.lr or DEFAULT_LR[kind]
    verbose = not args.quiet
    if kind == "gan":
        return GANTrainer(model, lr=lr, callbacks=callbacks, verbose=verbose, extra=extra)
    optimizer = make_optimizer(args.optimizer, model, lr)
    steps = -(-len(prepared.train) // args.batch_size)
    scheduler, interval = make_scheduler(args.scheduler, optimizer, args.epochs, steps, lr)
    options = dict(
        callbacks=callbacks,
        scheduler=scheduler,
        scheduler_interval=interval,
        verbose=verbose,
        extra=extra,
    )
    if kind == "diffusion":
        return DiffusionTrainer(model, optimizer, **options)
    loss = VAELoss() if kind == "vae" else "mse"
    return Trainer(model, loss, optimizer, metrics=[], **options)


def train_generative(args) -> int:
    """The ``soma train`` command for a model in ``KINDS``."""
    check_names(args.model, args.optimizer, args.scheduler)
    kind = KINDS[args.model]
    manual_seed(args.seed)
    prepared, value_range = _prepare(args, kind)
    out = check_writable(args.out or os.path.join("runs", f"{args.model}-{args.data}"))
    model, model_kwargs = build_model(
        args.model, prepared.num_classes, prepared.input_shape, **dict(args.model_arg)
    )
    if kind == "gan":
        print(model_summary(model.generator, (model.latent_dim,)))
        print(model_summary(model.discriminator, prepared.input_shape))
    elif kind != "diffusion":
        print(model_summary(model, prepared.input_shape))
    print(f"data: {args.data}: {len(prepared.train)} train, {len(prepared.test)} test samples")
    for note in prepared.notes:
        print(note)
    extra = {
        "model": args.model,
        "model_kwargs": model_kwargs,
        "data": args.data,
        "task": "generative",
        "kind": kind,
        "num_classes": prepared.num_classes,
        "input_shape": list(prepared.input_shape),
        "value_range": list(value_range) if value_range else None,
        "mean": list(prepared.mean),
        "std": list(prepared.std),
        "seed": args.seed,
    }
    callbacks = [
        ModelCheckpoint(out, monitor="loss", save_best=False),
        JSONLogger(os.path.join(out, "history.json")),
        CSVLogger(os.path.join(out, "history.csv")),
    ]
    trainer = _trainer(args, kind, model, prepared, extra, callbacks)
    train = _loader(prepared.train, args.batch_size, shuffle=True)
    if kind in ("autoencoder", "vae"):
        train = SelfTargets(train)
    try:
        trainer.fit(train, args.epochs, resume=args.resume)
    except KeyboardInterrupt:
        path = os.path.join(out, "interrupted.safetensors")
        trainer.save_checkpoint(path)
        print(f"\nsoma train: interrupted; checkpoint saved to {path}", file=sys.stderr)
        return 130
    if trainer.failed:
        raise RunError(f"training failed: {trainer.stop_reason}")
    test = _test_loss(trainer, kind, prepared)
    trainer.history.test = test
    trainer.save_checkpoint(os.path.join(out, "last.safetensors"))
    trainer.history.to_json(os.path.join(out, "history.json"))
    if test:
        print(
            "test: "
            + "  ".join(f"{k} {v:.4g}" for k, v in test.items())
            + f"  ({len(prepared.test)} samples)"
        )
    written = [os.path.join(out, n) for n in ("last.safetensors", "history.json", "history.csv")]
    try:
        written.append(plot_history(trainer.history, os.path.join(out, "curves.png")))
        written += pictures(model, kind, prepared, value_range, out)
    except ImportError as error:
        print(f"(no pictures: {error})", file=sys.stderr)
    print(f"outputs written to {out}/:")
    for path in written:
        print(f"  {path}")
    return 0


def _test_loss(trainer, kind, prepared) -> dict:
    """Test reconstruction MSE (autoencoders) or negative ELBO (VAE); nothing for the others."""
    if kind not in ("autoencoder", "vae") or prepared.test is None:
        return {}
    loss = VAELoss() if kind == "vae" else "mse"
    result = evaluate(
        trainer.model, SelfTargets(_loader(prepared.test, 256)), loss=loss, metrics=[]
    )
    return {("neg_elbo" if kind == "vae" else "mse"): result["loss"]}


def _first_batch(dataset, n):
    x, y = next(iter(_loader(dataset, n)))
    return x, y


def pictures(model, kind, prepared, value_range, out, n: int = 64) -> list:
    """The pictures of a finished run, written into ``out``; returns their paths."""
    path = lambda name: os.path.join(out, name)  # noqa: E731
    model.eval()
    written = []
    with no_grad():
        if len(prepared.input_shape) != 3:  # vectors: samples over the test data
            samples = model.sample(1000)
            reference = next(iter(_loader(prepared.test, 100_000)))[0]
            return [G.plot_points(samples, path("samples.png"), reference, f"{kind} samples")]
        x, y = _first_batch(prepared.test, 512)
        if kind in ("autoencoder", "vae"):
            recon = model.reconstruct(x[:12]) if kind == "vae" else model(x[:12])
            written.append(
                G.plot_reconstructions(x[:12], recon, path("reconstructions.png"), value_range)
            )
            written.append(G.plot_interpolation(model, x[:6], x[6:12], path("interpolation.png")))
        if kind == "vae":
            written.append(
                G.plot_latent_scatter(
                    model.encode(x)[0], y, path("latent.png"), "VAE latent means, test set"
                )
            )
        if kind in ("vae", "gan"):
            written.append(G.plot_samples(model.sample(n), path("samples.png"), value_range))
        if kind == "diffusion":
            samples = model.ddim_sample(n, steps=min(100, model.timesteps))
            written.append(
                G.plot_samples(samples, path("samples.png"), value_range, title="DDIM samples")
            )
            _, chain = model.sample(6, chain_every=max(1, model.timesteps // 10))
            written.append(
                G.plot_diffusion_chain(chain, path("chain.png"), value_range=value_range)
            )
    return written


def sample_run(args) -> int:
    """The ``soma sample`` command: a grid of ``args.n`` samples from a generative run."""
    run = args.run
    ckpt_path = os.path.join(run, "last.safetensors") if os.path.isdir(run) else run
    if not os.path.exists(ckpt_path):
        raise RunError(
            f"no checkpoint at '{ckpt_path}' (train one with `soma train --out FOLDER`)"
        )
    ckpt = load(ckpt_path)
    extra = ckpt.get("extra", {}) if isinstance(ckpt, dict) else {}
    if extra.get("task") != "generative":
        raise RunError(f"'{ckpt_path}' is not a generative run (vae, dcgan, ddpm)", usage=True)
    if extra["kind"] == "autoencoder":
        raise RunError(
            f"{extra['model']} does not generate: see reconstructions.png in the run folder",
            usage=True,
        )
    manual_seed(args.seed)
    model, _ = build_model(
        extra["model"], extra["num_classes"], tuple(extra["input_shape"]), **extra["model_kwargs"]
    )
    check_state_dict(model, ckpt["model"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    out = args.out or os.path.join(run if os.path.isdir(run) else os.path.dirname(run), "grid.png")
    check_writable(os.path.dirname(os.path.abspath(out)))
    with no_grad():
        if extra["kind"] == "diffusion" and args.steps:
            samples = model.ddim_sample(args.n, steps=args.steps)
        else:
            samples = model.sample(args.n)
    if len(extra["input_shape"]) != 3:
        mean, std = tensor(extra["mean"]), tensor(extra["std"])
        G.plot_points(samples * std + mean, out, title=f"{args.n} samples from {extra['model']}")
    else:
        columns = G.grid_size(args.n)
        G.plot_samples(
            samples,
            out,
            tuple(extra["value_range"]),
            columns,
            f"{args.n} samples from {extra['model']}",
        )
    print(f"{args.n} samples from {ckpt_path} written to {out}")
    return 0


def summarise(model, name: str, input_shape) -> int:
    """``soma summary`` for a generative model: the parts that take one input each."""
    kind = KINDS[name]
    if kind == "gan":
        print("generator:")
        print(model_summary(model.generator, (model.latent_dim,)))
        print("discriminator:")
        print(model_summary(model.discriminator, input_shape))
        return 0
    if kind == "diffusion":
        count = sum(p.numel() for p in model.parameters())
        print(
            f"{type(model.denoiser).__name__}: {count:,} parameters; T = {model.timesteps}, "
            f"{model.schedule} schedule; samples of shape {model.sample_shape}"
        )
        return 0
    print(model_summary(model, input_shape))
    with no_grad():
        out = model.eval()(zeros(1, *input_shape))
    shapes = [tuple(o.shape) for o in out] if isinstance(out, tuple) else [tuple(out.shape)]
    print(f"output shapes for one input: {', '.join(str(s) for s in shapes)}")
    return 0
