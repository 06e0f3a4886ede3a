"""The learning-rate finder (Smith 2017; fast.ai): sweep the rate up, watch the loss.

Train for ``num_iter`` minibatches while the learning rate grows exponentially from
``start_lr`` to ``end_lr``. The loss is smoothed with an exponential moving average (with
bias correction, as in Adam) and the sweep stops once it exceeds ``diverge_th`` times the best
value seen. The suggested rate is where the smoothed loss falls fastest, i.e. where its slope
against log(lr) is most negative. Afterwards the model and optimizer are put back exactly as
they were, so the sweep leaves no trace on the training that follows.
"""

import math

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.train.components import as_loader, forward, get_loss, get_optimizer, split_batch
from soma.train.plots import plot_lr_find

_xp = get_xp()


class LRFinderResult:
    """The sweep: ``lrs``, raw ``losses``, ``smoothed`` losses and the ``suggestion``."""

    def __init__(self, lrs, losses, smoothed, diverged: bool, skip_start=10, skip_end=5):
        self.lrs, self.losses, self.smoothed, self.diverged = lrs, losses, smoothed, diverged
        self.suggestion = self.suggest(skip_start, skip_end)

    def suggest(self, skip_start: int = 10, skip_end: int = 5):
        """The rate at the steepest descent of the smoothed loss (None if too few points)."""
        n = len(self.lrs)
        skip_start = min(skip_start, n // 10)
        skip_end = min(skip_end, n // 20)
        lrs = _xp.log10(_xp.asarray(self.lrs[skip_start : n - skip_end]))
        loss = _xp.asarray(self.smoothed[skip_start : n - skip_end])
        if len(lrs) < 3:
            return None
        slope = _xp.gradient(loss, lrs)
        return self.lrs[skip_start + int(_xp.argmin(slope))]

    def to_dict(self) -> dict:
        return {
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "smoothed": list(self.smoothed),
            "diverged": self.diverged,
            "suggestion": self.suggestion,
        }

    def plot(self, path, title: str = "learning-rate finder") -> str:
        """Save the curve (log lr vs smoothed loss, suggestion marked) as a PNG."""
        return plot_lr_find(self, path, title=title)

    def __repr__(self):
        s = f"{self.suggestion:.2e}" if self.suggestion else "None"
        return f"LRFinderResult({len(self.lrs)} steps, suggestion={s}, diverged={self.diverged})"


def _copy_state(value):
    """A deep copy of a state dict (tensors cannot be deep-copied: they refuse pickling)."""
    if isinstance(value, Tensor):
        return Tensor._wrap(value.array.copy())
    if isinstance(value, _xp.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state(v) for v in value)
    return value


def _batches(loader):
    """Batches forever, starting the loader again when it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the data gave no batches")


def lr_find(
    model,
    data,
    loss="cross_entropy",
    optimizer="sgd",
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smooth: float = 0.98,
    diverge_th: float = 4.0,
    batch_size: int = 32,
) -> LRFinderResult:
    """Sweep the learning rate exponentially over minibatches and suggest one.

    Args:
        model: the model (restored to its current weights and mode afterwards).
        data: a DataLoader, Dataset or ``(inputs, targets)``; cycled if shorter than the sweep.
        loss: a loss callable or name, as for ``fit``.
        optimizer: an optimizer (its state is restored afterwards), a name such as ``"adam"``,
            or an optimizer class (called with ``model.parameters()``).
        start_lr, end_lr: the sweep's first and last rates.
        num_iter: number of minibatches (steps) in the sweep.
        smooth: the moving average's β: avg ← β·avg + (1−β)·loss, reported as avg/(1−βᵗ).
        diverge_th: stop once the smoothed loss exceeds this multiple of its best value.

    Returns:
        an ``LRFinderResult`` with ``lrs``, ``losses``, ``smoothed`` and ``suggestion``.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_iter < 2 or not 0 <= smooth < 1:
        raise ValueError(
            f"lr_find: need num_iter >= 2 and 0 <= smooth < 1, got {num_iter} and {smooth}"
        )
    if isinstance(optimizer, type):
        optimizer = optimizer(model.parameters(), lr=start_lr)
    optimizer = get_optimizer(optimizer, model)
    model_state = _copy_state(model.state_dict())
    optimizer_state = _copy_state(optimizer.state_dict())
    was_training = model.training
    try:
        return _sweep(
            model,
            as_loader(data, batch_size, shuffle=True),
            get_loss(loss),
            optimizer,
            start_lr,
            end_lr,
            num_iter,
            smooth,
            diverge_th,
        )
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        optimizer.zero_grad()
        model.train(was_training)


def _sweep(model, loader, loss_fn, optimizer, start_lr, end_lr, num_iter, smooth, diverge_th):
    gamma = (end_lr / start_lr) ** (1 / (num_iter - 1))
    lrs, losses, smoothed = [], [], []
    avg, best, diverged = 0.0, math.inf, False
    model.train()
    batches = _batches(loader)
    for step in range(num_iter):
        lr = start_lr * gamma**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = split_batch(next(batches))
        optimizer.zero_grad()
        loss = loss_fn(forward(model, x), y)
        value = loss.item()
        if not math.isfinite(value):
            diverged = True
            break
        loss.backward()
        optimizer.step()
        avg = smooth * avg + (1 - smooth) * value
        value_smoothed = avg / (1 - smooth ** (step + 1))  # bias correction
        lrs.append(lr)
        losses.append(value)
        smoothed.append(value_smoothed)
        best = min(best, value_smoothed)
        if step > 0 and value_smoothed > diverge_th * best:
            diverged = True
            break
    return LRFinderResult(lrs, losses, smoothed, diverged)
