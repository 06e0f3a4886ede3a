"""Adversarial training: two networks, two optimizers, alternating steps.

One batch, top to bottom (``GANTrainer._train_one_epoch``), as in Goodfellow et al. (2014,
Algorithm 1, with k = 1) and PyTorch's DCGAN example:

1. discriminator step: generate fakes from z ~ N(0, I); loss on D(real) and D(fake) with the
   fakes detached (no gradient reaches the generator); backward; step D's optimizer;
2. generator step: loss on D(fake) with the updated discriminator; backward into the
   generator; step G's optimizer (D's gradients from this pass are cleared in the next step).

Everything else is ``fit``'s: callbacks (``on_loss`` sees the discriminator's loss, so the NaN
guard stops a diverged run), progress bar, checkpoints (both optimizers are saved) and logs.
Logged per epoch: ``d_loss``, ``g_loss``, ``loss`` (their sum), and ``d_real`` / ``d_fake``,
the discriminator's mean probability of "real" on real and on generated images.
"""

from soma import functional as F
from soma.autograd.factory import randn
from soma.nn.modules.generative_loss import GANLoss
from soma.optim import Adam
from soma.train.components import as_loader, batch_size_of, split_batch
from soma.train.loop import Trainer
from soma.train.metrics import Mean


class OptimizerPair:
    """The generator's and the discriminator's optimizers as one object for checkpoints.

    ``param_groups`` lists the generator's groups first; ``state_dict`` holds both.
    """

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator

    @property
    def param_groups(self):
        return self.generator.param_groups + self.discriminator.param_groups

    def zero_grad(self, set_to_none: bool = True):
        self.generator.zero_grad(set_to_none)
        self.discriminator.zero_grad(set_to_none)

    def state_dict(self):
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
        }

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])


class GANTrainer(Trainer):
    """Trains a model with ``.generator``, ``.discriminator`` and ``.latent_dim`` (``DCGAN``).

    Args:
        model: the GAN; a conditional one (``model.num_classes > 0``) is fed the batch labels.
        loss: ``"nonsaturating"`` (default), ``"hinge"`` or ``"wasserstein"`` (``GANLoss``).
        lr, betas: Adam's settings for both networks (Radford et al.: 2e-4, β₁ = 0.5).
        optimizer_g, optimizer_d: optimizers to use instead.
        callbacks, verbose, extra: as for ``Trainer``.
    """

    def __init__(
        self,
        model,
        loss: str = "nonsaturating",
        *,
        lr: float = 2e-4,
        betas=(0.5, 0.999),
        optimizer_g=None,
        optimizer_d=None,
        callbacks=(),
        nan_guard: bool = True,
        verbose=True,
        extra=None,
    ):
        opt_g = optimizer_g or Adam(model.generator.parameters(), lr=lr, betas=betas)
        opt_d = optimizer_d or Adam(model.discriminator.parameters(), lr=lr, betas=betas)
        super().__init__(
            model,
            GANLoss(loss),
            OptimizerPair(opt_g, opt_d),
            metrics=[],
            callbacks=callbacks,
            nan_guard=nan_guard,
            verbose=verbose,
            extra=extra,
        )

    def _train_one_epoch(self) -> dict:
        model, loss, pair = self.model, self.loss_fn, self.optimizer
        model.train()
        means = {key: Mean() for key in ("loss", "d_loss", "g_loss", "d_real", "d_fake")}
        for self.batch, batch in enumerate(self.train_loader, start=1):  # noqa: B020
            real, labels = split_batch(batch)
            labels = labels if model.num_classes else None
            self._call("on_batch_begin", self.batch)
            fake = model.generator(
                randn(real.shape[0], model.latent_dim, device=real.device), labels
            )
            # 1. discriminator: real → "real", fake (detached) → "fake"
            pair.discriminator.zero_grad()
            real_logits = model.discriminator(real, labels)
            fake_logits = model.discriminator(fake.detach(), labels)
            d_loss = self._call("on_loss", loss.discriminator(real_logits, fake_logits))
            if self.stop_training:
                break
            d_loss.backward()
            self._call("on_after_backward")
            pair.discriminator.step()
            # 2. generator: make the updated discriminator call the fakes real
            pair.generator.zero_grad()
            g_loss = loss.generator(model.discriminator(fake, labels))
            g_loss.backward()
            pair.generator.step()
            n = batch_size_of(real, None)
            values = {
                "d_loss": d_loss.item(),
                "g_loss": g_loss.item(),
                "d_real": F.sigmoid(real_logits.detach()).mean().item(),
                "d_fake": F.sigmoid(fake_logits.detach()).mean().item(),
            }
            values["loss"] = values["d_loss"] + values["g_loss"]
            for key, value in values.items():
                means[key].update(value, n)
            logs = {"batch_loss": values["loss"], **{k: m.compute() for k, m in means.items()}}
            self._call("on_batch_end", self.batch, logs)
        return {k: m.compute() for k, m in means.items() if m.count}


def fit_gan(
    model,
    train_data,
    epochs: int = 1,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    resume=None,
    **options,
):
    """Train a GAN for ``epochs`` epochs; ``options`` go to ``GANTrainer``. Returns the History.

    ``train_data``: a DataLoader, a Dataset or ``(images, labels)`` (labels are used only by a
    conditional model). Images should be scaled to [−1, 1] (the generator ends in tanh).
    """
    trainer = GANTrainer(model, **options)
    return trainer.fit(as_loader(train_data, batch_size, shuffle), epochs, resume=resume)
