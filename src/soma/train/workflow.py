"""The steps of a training run by name, shared by the ``soma`` command and scripts.

``prepare_data`` loads a dataset by name and fits it to a model (resizes images to the size the
model expects, normalises with the training set's statistics); ``build_model`` builds a
registered model for that data; ``check_labels`` and ``check_writable`` catch bad input before
any training starts; ``make_scheduler`` builds a learning-rate scheduler by name.
"""

import copy
import inspect
import math
import os
import uuid
from dataclasses import dataclass, field

from soma import data
from soma.data import datasets, transforms
from soma.io.checkpoint import check_state_dict
from soma.io.serialization import load
from soma.models import get_model, model_info
from soma.optim.registry import OPTIMIZERS, SCHEDULERS


class RunError(Exception):
    """A run cannot go on: bad input (``usage=True``) or a failure; the message says why."""

    def __init__(self, message: str, usage: bool = False):
        super().__init__(message)
        self.usage = usage


# ---------------------------------------------------------------------- data
@dataclass
class PreparedData:
    """A dataset fitted to a model: splits, shapes, and how the inputs were changed."""

    name: str
    train: object
    val: object
    test: object
    num_classes: int | None
    input_shape: tuple  # what the model sees (C, H, W)
    source_shape: tuple  # what the files hold
    classes: tuple = ()
    mean: tuple = ()
    std: tuple = ()
    notes: list = field(default_factory=list)
    task: str = "classification"


def _unknown_dataset(name: str, error: ValueError) -> RunError:
    names = ", ".join(datasets.available())
    return RunError(f"unknown dataset {name!r}; available datasets: {names}", usage=True)


def _fit_split(dataset, target_size, mean, std):
    """``dataset`` with a transform that resizes its images to ``target_size`` and normalises
    them, applied per batch (the stored images are shared, not copied)."""
    if dataset is None:
        return None
    steps = []
    if tuple(dataset.tensors[0].shape[2:]) != tuple(target_size):
        steps.append(transforms.Resize(tuple(target_size)))
    if mean:
        steps.append(transforms.Normalize(mean, std))
    if dataset.transform is not None:
        steps.insert(0, dataset.transform)
    if not steps:
        return dataset
    fitted = copy.copy(dataset)
    fitted.transform = transforms.Compose(steps)
    return fitted


def prepare_data(
    name: str,
    model: str | None = None,
    *,
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    normalize: bool = True,
    mean=None,
    std=None,
    download: bool = False,
) -> PreparedData:
    """Load dataset ``name`` and fit its images to ``model``'s expected input size.

    Images are normalised per channel with the training split's mean and std, or with
    ``mean``/``std`` when given (to evaluate with the statistics a model was trained with).
    """
    try:
        splits = data.load(name, root=root, val_split=val_split, seed=seed, download=download)
    except ValueError as error:
        if "unknown dataset" in str(error):
            raise _unknown_dataset(name, error) from None
        raise
    source = tuple(splits.input_shape)
    target = _target_size(model, source) if model else None
    notes = []
    if len(source) != 3:  # feature vectors: nothing to resize or normalise per channel
        return PreparedData(
            name,
            splits.train,
            splits.val,
            splits.test,
            splits.num_classes,
            source,
            source,
            tuple(splits.classes),
            task=splits.task,
        )
    if target is not None and tuple(target) != source[1:]:
        notes.append(
            f"inputs resized from {source[1]}x{source[2]} to {target[0]}x{target[1]} for {model}"
        )
    if not normalize:
        mean, std = (), ()
    elif mean is None:
        mean, std = tuple(splits.mean), tuple(max(s, 1e-6) for s in splits.std)
    size = tuple(target) if target is not None else source[1:]
    fitted = [_fit_split(d, size, mean, std) for d in (splits.train, splits.val, splits.test)]
    return PreparedData(
        name,
        *fitted,
        splits.num_classes,
        (source[0], *size),
        source,
        tuple(splits.classes),
        mean,
        std,
        notes,
        splits.task,
    )


def _target_size(model: str, source: tuple):
    """The (H, W) images must be resized to for ``model``, or None to keep them as they are."""
    info = model_info(model)
    if info.input_size is not None or len(source) != 3 or info.min_input_size is None:
        return info.input_size
    smallest = info.min_input_size
    if source[1] >= smallest[0] and source[2] >= smallest[1]:
        return None
    return (max(source[1], smallest[0]), max(source[2], smallest[1]))


def check_labels(prepared: PreparedData, num_classes: int) -> None:
    """Fail before training if any label lies outside ``range(num_classes)``."""
    for split in ("train", "val", "test"):
        dataset = getattr(prepared, split)
        if dataset is None:
            continue
        labels = dataset.tensors[1].array
        if labels.dtype.kind not in "iu":
            continue
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            values = sorted(set(bad.tolist()))
            raise RunError(
                f"the {split} split of '{prepared.name}' has labels outside the model's "
                f"{num_classes} classes (0..{num_classes - 1}): {values[:20]}"
                f"{' …' if len(values) > 20 else ''} ({bad.size} samples)"
            )


def check_writable(folder) -> str:
    """Create ``folder`` if needed and prove it is writable (fails before any training).

    The probe file has a name of its own per call: the ranks of a distributed run check the
    same folder at once, and with one shared name a rank could remove another's probe before
    that one did (FileNotFoundError on one rank; the others then waited for it forever).
    """
    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".soma-write-test-{uuid.uuid4().hex}")
        with open(probe, "xb") as f:
            f.write(b"ok")
        os.remove(probe)
    except OSError as error:
        reason = error.strerror or error
        raise RunError(f"cannot write to the output folder '{folder}': {reason}") from None
    return folder


# ---------------------------------------------------------------------- model and schedule
def model_kwargs_for(name: str, input_shape: tuple) -> dict:
    """Constructor arguments that fit model ``name`` to inputs of ``input_shape``.

    Images (C, H, W) give ``in_channels`` (and ``input_size`` to models that take it, such as
    the MLP); feature vectors (F,) need a model that takes ``in_features``.
    """
    accepts = inspect.signature(model_info(name).builder).parameters
    if len(input_shape) == 3:
        kwargs = {"in_channels": input_shape[0]}
        if "input_size" in accepts:
            kwargs["input_size"] = tuple(input_shape[1:])
        return kwargs
    if "in_features" in accepts:
        return {"in_features": math.prod(input_shape)}
    raise RunError(
        f"model {name!r} takes images, but the data has feature vectors of shape "
        f"{tuple(input_shape)}; use --model mlp",
        usage=True,
    )


def build_model(name: str, num_classes: int, input_shape: tuple, **kwargs):
    """Build registered model ``name`` for inputs of ``input_shape``; returns (model, kwargs)."""
    kwargs = {**model_kwargs_for(name, input_shape), **kwargs}
    try:
        model = get_model(name, num_classes=num_classes, **kwargs)
    except TypeError as error:  # an argument the model does not take (e.g. from --model-arg)
        raise RunError(
            f"cannot build {name!r} with arguments {kwargs}: {error}", usage=True
        ) from None
    return model, kwargs


def check_names(
    model: str | None = None, optimizer: str | None = None, scheduler: str | None = None
) -> None:
    """Usage errors for unknown model, optimizer or scheduler names, before any work."""
    try:
        if model is not None:
            model_info(model)
        if optimizer is not None:
            OPTIMIZERS.get(optimizer)
        if scheduler is not None and scheduler != "none":
            SCHEDULERS.get(scheduler)
    except ValueError as error:
        raise RunError(str(error), usage=True) from None


def make_optimizer(name: str, model, lr: float | None = None):
    """Optimizer ``name`` over ``model``'s parameters with the defaults it was registered with
    (``soma.optim.registry``: SGD gets momentum 0.9); ``lr`` overrides the default rate."""
    check_names(optimizer=name)
    entry = OPTIMIZERS.get(name)
    kwargs = dict(entry.options["defaults"])
    if lr is not None:
        kwargs["lr"] = lr
    return entry.builder(model.parameters(), **kwargs)


def make_scheduler(name: str, optimizer, epochs: int, steps_per_epoch: int, lr: float):
    """(scheduler, interval) for a registered schedule name (``(None, "epoch")`` for "none")."""
    if name == "none":
        return None, "epoch"
    check_names(scheduler=name)
    entry = SCHEDULERS.get(name)
    kwargs = entry.options["arguments"](epochs, steps_per_epoch, lr)
    return entry.builder(optimizer, **kwargs), entry.options["interval"]


def model_summary(model, input_shape) -> str:
    """The model summary the CLI prints: ``soma.summary``'s layer table (shapes, parameters,
    mult-adds) for one input of ``input_shape``."""
    # NOTE: lazy, and an upward import (inspection sits above train and re-exports train's
    # plots): this is the CLI's glue, importing it here keeps the packages free of a cycle.
    from soma.inspection import summary

    return str(summary(model, input_size=(1, *input_shape)))


# ---------------------------------------------------------------------- reading a run back
def run_checkpoint(run) -> str:
    """The checkpoint of ``run``: a checkpoint file, or a run folder's ``last.safetensors``."""
    run = os.fspath(run)
    if os.path.isdir(run):
        path = os.path.join(run, "last.safetensors")
        if not os.path.exists(path):
            raise RunError(
                f"no checkpoint in '{run}': expected last.safetensors "
                "(written by `soma train --out FOLDER`)"
            )
        return path
    if not os.path.exists(run):
        raise RunError(f"no such run folder or checkpoint: '{run}'")
    return run


def load_model(run, *, eval: bool = True):
    """The model a ``soma train`` run trained, with its weights: ``soma.load_model("runs/demo")``.

    Args:
        run: a run folder (its ``last.safetensors`` is read) or one of its checkpoint files
            (``best.safetensors``, ``interrupted.safetensors``).
        eval: put the model in eval mode (dropout off, batch-norm running statistics).

    Returns:
        the model, rebuilt from the registered name and arguments stored in the checkpoint.
        ``model.soma_run`` keeps the rest of what the run stored (dataset, classes, input shape,
        normalisation mean/std), e.g. to prepare new inputs the way training did.
    """
    path = run_checkpoint(run)
    ckpt = load(path)
    extra = ckpt.get("extra", {}) if isinstance(ckpt, dict) else {}
    if "model" not in extra:
        raise RunError(
            f"'{path}' is not a checkpoint of `soma train` (it does not name its model)"
        )
    model, _ = build_model(
        extra["model"], extra["num_classes"], tuple(extra["input_shape"]), **extra["model_kwargs"]
    )
    check_state_dict(model, ckpt["model"])
    model.load_state_dict(ckpt["model"])
    model.soma_run = {k: v for k, v in extra.items() if k != "callbacks"}
    return model.eval() if eval else model
