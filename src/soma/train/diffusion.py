"""Training a diffusion model: one loss per batch, ε-prediction at random time steps.

For each batch of clean samples x_0 (``DiffusionTrainer._train_one_epoch``): draw t ~ U{0…T−1}
and ε ~ N(0, I), form x_t in closed form, and regress the denoiser's ε_θ(x_t, t) on ε
(``DDPM.loss``); backward; step. Labels in the batch are ignored. Everything else is ``fit``'s:
callbacks, progress bar, scheduler, checkpoints and logs.
"""

from soma.autograd.tensor import Tensor
from soma.data import TensorDataset
from soma.train.components import as_loader, batch_size_of, split_batch
from soma.train.loop import Trainer
from soma.train.metrics import Mean


def _unused_loss(output, target):
    raise RuntimeError("DiffusionTrainer: the loss is the model's own (DDPM.loss)")


class DiffusionTrainer(Trainer):
    """Trains a ``DDPM`` (any model with ``loss(x0)``); arguments as for ``Trainer``.

    Example:
        >>> import soma
        >>> from soma.models import DDPM, MLPDenoiser
        >>> ddpm = DDPM(MLPDenoiser(2, hidden=16), (2,), timesteps=20)
        >>> h = fit_diffusion(ddpm, soma.randn(64, 2), epochs=2, lr=1e-3, verbose=False)
        >>> len(h["loss"])
        2
    """

    def __init__(self, model, optimizer="adam", **options):
        super().__init__(model, _unused_loss, optimizer, metrics=[], **options)

    def _train_one_epoch(self) -> dict:
        self.model.train()
        loss_mean = Mean()
        for self.batch, batch in enumerate(self.train_loader, start=1):  # noqa: B020
            x0, _ = split_batch(batch)
            self._call("on_batch_begin", self.batch)
            self.optimizer.zero_grad()
            loss = self._call("on_loss", self.model.loss(x0))
            if self.stop_training:
                break
            loss.backward()
            self._call("on_after_backward")
            self.optimizer.step()
            value = loss.item()
            loss_mean.update(value, batch_size_of(x0, None))
            self._call(
                "on_batch_end", self.batch, {"batch_loss": value, "loss": loss_mean.compute()}
            )
        return {"loss": loss_mean.compute()} if loss_mean.count else {}


def fit_diffusion(
    model,
    train_data,
    epochs: int = 1,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    resume=None,
    **options,
):
    """Train a diffusion model for ``epochs`` epochs; ``options`` go to ``Trainer`` (``lr``,
    ``optimizer``, ``scheduler``, ``callbacks``, ``verbose`` …). Returns the History.

    ``train_data``: a DataLoader, a Dataset, a pair ``(samples, labels)`` or a tensor of samples.
    """
    if isinstance(train_data, Tensor):
        train_data = TensorDataset(train_data)
    trainer = DiffusionTrainer(model, **options)
    return trainer.fit(as_loader(train_data, batch_size, shuffle), epochs, resume=resume)
