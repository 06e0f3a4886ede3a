"""Training checkpoints: everything needed to continue a run exactly, in one file.

A checkpoint holds the model's state dict, the optimizer's and scheduler's states, the number
of finished epochs, the training history, the state of every random generator that training
draws from (soma's global generator, Python's ``random``, the data loader's generator) and any
extra JSON-able values (the CLI stores the model and dataset names there). Restoring checks the
file against the objects it goes into: names, shapes and dtypes must all match.
"""

import random

from soma.autograd.tensor import Tensor
from soma.backend import random as soma_random
from soma.io.serialization import CheckpointError, load, save

CHECKPOINT_KIND = "soma.training_checkpoint"


def check_state_dict(module, state: dict, where: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` unless ``state`` has exactly ``module``'s names, shapes, dtypes.

    Every mismatch is listed in one message, so a wrong architecture is recognisable at once.
    """
    own = module.state_dict()
    problems = []
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        problems.append("missing from the " + where + ": " + ", ".join(missing))
    if unexpected:
        problems.append("in the " + where + " but not in the model: " + ", ".join(unexpected))
    for key, target in own.items():
        value = state.get(key)
        if value is None:
            continue
        array = value.array if isinstance(value, Tensor) else value
        if tuple(array.shape) != tuple(target.shape):
            problems.append(
                f"{key}: {where} has shape {tuple(array.shape)}, model has {tuple(target.shape)}"
            )
        elif array.dtype != target.dtype:
            problems.append(
                f"{key}: {where} has dtype {array.dtype}, model has {target.dtype} "
                f"(convert the model first, e.g. model.to(soma.{array.dtype}))"
            )
    if problems:
        raise CheckpointError(
            f"the {where} does not fit {type(module).__name__}:\n  " + "\n  ".join(problems)
        )


def load_state_dict(module, f, where: str = "checkpoint") -> None:
    """Load a state dict file (or a training checkpoint's model part) into ``module``, checked."""
    state = load(f)
    if isinstance(state, dict) and state.get("kind") == CHECKPOINT_KIND:
        state = state["model"]
    check_state_dict(module, state, where)
    module.load_state_dict(state)


# ---------------------------------------------------------------------- random generators
def _generators_of(loader) -> list:
    """The soma Generators a data loader (or its samplers) draws its shuffling from."""
    found = []
    candidates = [loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)]
    candidates.append(getattr(candidates[-1], "sampler", None))
    for obj in candidates:
        gen = getattr(obj, "generator", None)
        if isinstance(gen, soma_random.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


def rng_state(loaders=()) -> dict:
    """Snapshot of every random generator training uses (JSON-able)."""
    gens = [g for loader in loaders if loader is not None for g in _generators_of(loader)]
    return {
        "soma": soma_random.default_generator.get_state(),
        "python": random.getstate(),
        "loaders": [g.get_state() for g in gens],
    }


def set_rng_state(state: dict, loaders=()) -> None:
    """Put every generator back where ``rng_state`` found it."""
    soma_random.default_generator.set_state(state["soma"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    gens = [g for loader in loaders if loader is not None for g in _generators_of(loader)]
    if len(gens) != len(state["loaders"]):
        raise CheckpointError(
            f"the checkpoint holds {len(state['loaders'])} data-loader generator states, "
            f"the loaders given have {len(gens)} generators"
        )
    for gen, saved in zip(gens, state["loaders"]):
        gen.set_state(saved)


# ---------------------------------------------------------------------- whole checkpoints
def save_checkpoint(
    f,
    model,
    optimizer=None,
    scheduler=None,
    *,
    epoch: int = 0,
    history=None,
    loaders=(),
    extra: dict | None = None,
    position: dict | None = None,
) -> None:
    """Write a full training checkpoint (model, optimizer, scheduler, epoch, history, RNG).

    Args:
        f: path of the file (written atomically) or a binary file object.
        epoch: the number of finished epochs (training resumes with the next one).
        history: a ``soma.train.History`` (or its ``to_dict()``).
        loaders: data loaders whose shuffling generators should be restored on resume.
        extra: any JSON-able values to keep with the checkpoint.
        position: where inside the next epoch training stopped (a mid-epoch checkpoint:
            the batches finished, the epoch's sample order, the running loss and metrics);
            None at an epoch boundary. ``soma.train.Trainer`` writes and reads it.
    """
    if history is not None and hasattr(history, "to_dict"):
        history = history.to_dict()
    save(
        {
            "kind": CHECKPOINT_KIND,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "epoch": int(epoch),
            "history": history,
            "rng": rng_state(loaders),
            "extra": extra or {},
            "position": position,
            "types": {
                "optimizer": type(optimizer).__name__ if optimizer is not None else None,
                "scheduler": type(scheduler).__name__ if scheduler is not None else None,
            },
        },
        f,
    )


def _check_types(ckpt: dict, optimizer, scheduler) -> None:
    """Refuse to pour one optimizer's (or scheduler's) state into another kind."""
    saved = ckpt.get("types") or {}
    problems = []
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        kind = saved.get(name)
        if obj is not None and kind is not None and kind != type(obj).__name__:
            problems.append(
                f"{name}: the checkpoint has {kind}, resuming with {type(obj).__name__}"
            )
    if problems:
        raise CheckpointError(
            "the checkpoint was written by another kind of run:\n  " + "\n  ".join(problems)
        )


def load_checkpoint(
    f, model=None, optimizer=None, scheduler=None, *, loaders=(), restore_rng: bool = True
) -> dict:
    """Read a training checkpoint and restore it into the objects given.

    Each object given is checked against the file first (the model strictly: names, shapes,
    dtypes), so a checkpoint of another architecture fails before anything changes.

    Returns:
        the checkpoint as a dict (``epoch``, ``history``, ``extra`` … are read from it).
    """
    ckpt = load(f)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(
            f"{getattr(f, 'name', f)} is not a training checkpoint (it holds no model, optimizer, "
            "epoch…); for a bare state dict use model.load_state_dict(soma.load(path))"
        )
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and ckpt[name] is None:
            raise CheckpointError(f"the checkpoint has no {name} state to restore")
    _check_types(ckpt, optimizer, scheduler)
    if model is not None:
        check_state_dict(model, ckpt["model"])
        model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng:
        set_rng_state(ckpt["rng"], loaders)
    return ckpt
