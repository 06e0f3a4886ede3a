"""Turning what users pass to ``fit`` into what the loop needs: losses, optimizers, batches.

``fit(model, data, loss="cross_entropy", optimizer="adam")`` accepts names as well as objects;
data may be a DataLoader, a Dataset (batched here) or a pair ``(inputs, targets)`` of tensors.
"""

from soma.autograd.tensor import Tensor
from soma.backend import is_array
from soma.data import DataLoader, Dataset, TensorDataset
from soma.nn.registry import LOSSES
from soma.optim.registry import OPTIMIZERS


def get_loss(loss):
    """A loss module from a registered name (``soma.nn.registry``), or ``loss`` if callable."""
    if callable(loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; give a callable or one of {LOSSES.names(True)}")
    return LOSSES.get(loss).builder()


def get_optimizer(optimizer, model, lr: float | None = None):
    """An optimizer over ``model``'s parameters from a registered name (``soma.optim.registry``),
    with the class's own defaults; or ``optimizer`` as given."""
    if not isinstance(optimizer, str):
        if lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
        return optimizer
    cls = OPTIMIZERS.get(optimizer).builder
    kwargs = {} if lr is None else {"lr": lr}
    return cls(model.parameters(), **kwargs)


def _is_tensor_like(value) -> bool:
    return isinstance(value, Tensor) or is_array(value)


def as_loader(data, batch_size: int = 32, shuffle: bool = False, generator=None):
    """Something to iterate for batches: a DataLoader as is, a Dataset or (x, y) batched here.

    Any other iterable (a list of ``(x, y)`` batches, a generator function's output) is used
    as given.
    """
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple) and len(data) == 2 and all(_is_tensor_like(v) for v in data):
        data = TensorDataset(*data)
    map_style = hasattr(data, "__getitem__") and hasattr(data, "__len__")
    if isinstance(data, Dataset) or (map_style and not isinstance(data, (list, tuple))):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"training data must be a DataLoader, a Dataset or (inputs, targets); "
            f"got {type(data).__name__}"
        )
    return data


def split_batch(batch):
    """``(inputs, targets)`` of a batch; targets are None for an input-only batch."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        return batch[0], batch[1]
    if isinstance(batch, dict) and "input" in batch:
        return batch["input"], batch.get("target")
    return batch, None


def batch_size_of(x, y) -> int:
    first = y if y is not None else x
    while isinstance(first, (tuple, list)):
        first = first[0]
    return len(first)


def forward(model, x):
    """Call the model on one input or on a tuple of inputs."""
    return model(*x) if isinstance(x, (tuple, list)) else model(x)
