"""Training a diffusion model: one loss per batch, ε-prediction at random time steps.

For each batch of clean samples x_0 (``DiffusionTrainer.compute_loss``): draw t ~ U{0…T−1}
and ε ~ N(0, I), form x_t in closed form, and regress the denoiser's ε_θ(x_t, t) on ε
(``DDPM.loss``); backward; step. Labels in the batch are ignored. Everything else is ``fit``'s:
callbacks, progress bar, scheduler, checkpoints and logs.
"""

from soma.autograd.tensor import Tensor
from soma.data import TensorDataset
from soma.train.components import as_loader
from soma.train.loop import Trainer


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

    def compute_loss(self, x0, _labels):
        """The model's own loss (``DDPM.loss``); no output for metrics."""
        return None, self.model.loss(x0)


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
