"""A run folder's life: claimed for one run, checked on resume, left without debris.

``claim_folder`` refuses a folder that holds another run (unless ``overwrite``, which removes
that run's files first) and removes temporary files a killed run left behind;
``release_folder`` removes a folder that a failed start created and left empty.
``resume_differences`` lists how a resumed run's options differ from the run it continues;
``ExtendSchedule`` applies the rule for a larger ``--epochs`` (docs/TRAINING.md).
``check_extras`` fails before training when an optional package a run needs is missing.
"""

import glob
import os

from soma.train.callbacks import Callback
from soma.train.workflow import RunError

# The files `soma train` writes into a run folder.
RUN_FILES = (
    "last.safetensors",
    "best.safetensors",
    "interrupted.safetensors",
    "history.json",
    "history.csv",
    "curves.png",
    "confusion_matrix.png",
)

# Options that must match between a run and its resumption (``--epochs`` may grow).
RESUME_OPTIONS = (
    "model",
    "model_kwargs",
    "data",
    "optimizer",
    "lr",
    "scheduler",
    "batch_size",
    "val_split",
    "augment",
    "seed",
)


def stale_temp_files(folder) -> list:
    """Temporary files of atomic writes (``.NAME.XXXX.tmp``) that a killed process left."""
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(folder)), ".*.tmp")))


def claim_folder(folder, *, resuming_from=None, overwrite: bool = False) -> bool:
    """Make ``folder`` this run's output folder; returns True when it was created now.

    A folder holding another run's files is refused unless ``overwrite`` (the old run's files
    are then removed) or the run resumes from a checkpoint inside it.
    """
    folder = os.fspath(folder)
    created = not os.path.exists(folder)
    for path in stale_temp_files(folder):  # debris of a run killed while writing
        os.remove(path)
    present = [name for name in RUN_FILES if os.path.exists(os.path.join(folder, name))]
    own = resuming_from is not None and os.path.samefile(
        os.path.dirname(os.path.abspath(resuming_from)), folder
    )
    if present and not own:
        if not overwrite:
            raise RunError(
                f"the output folder '{folder}' holds another run ({', '.join(present)}); "
                "choose another --out, resume it with --resume, or pass --overwrite to "
                "replace it",
                usage=True,
            )
        for name in present:
            os.remove(os.path.join(folder, name))
    return created


def release_folder(folder, created: bool) -> None:
    """After a failed start: remove ``folder`` if this run created it and left it empty."""
    folder = os.fspath(folder)
    for path in stale_temp_files(folder) if os.path.isdir(folder) else ():
        os.remove(path)
    if created and os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def resume_differences(saved: dict, now: dict) -> list:
    """``["--optimizer: the run used adam, now sgd", …]`` for options that differ."""
    differences = []
    for key in RESUME_OPTIONS:
        if key in saved and saved[key] != now.get(key):
            flag = "--model-arg" if key == "model_kwargs" else "--" + key.replace("_", "-")
            differences.append(f"{flag}: the run used {saved[key]!r}, now {now.get(key)!r}")
    if "epochs" in saved and now["epochs"] < saved["epochs"]:
        differences.append(
            f"--epochs: the run was planned for {saved['epochs']}, now {now['epochs']} "
            "(a resumed run may only be extended)"
        )
    return differences


# The scheduler attributes that depend on the run's length.
_LENGTH_ATTRIBUTES = ("T_max", "total_steps", "step_size")


class ExtendSchedule(Callback):
    """Re-plan a resumed schedule for a longer run, continuing at the step it reached.

    Built with the scheduler made for the new number of epochs, it remembers that schedule's
    length (``T_max``, ``total_steps``, ``step_size``); after the checkpoint is loaded (which
    brings back the old length) it puts the new length back and sets the learning rate to the
    longer schedule's value at the current step: for cosine annealing the rate jumps from the
    old curve up to the new one, which then decays to its minimum at the new last epoch.
    """

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.lengths = {
            k: getattr(scheduler, k) for k in _LENGTH_ATTRIBUTES if hasattr(scheduler, k)
        }

    def on_train_begin(self, trainer):
        scheduler = self.scheduler
        for key, value in self.lengths.items():
            setattr(scheduler, key, value)
        closed_form = getattr(scheduler, "_get_closed_form_lr", None)
        rates = closed_form() if closed_form is not None else scheduler.get_lr()
        for group, lr in zip(scheduler.optimizer.param_groups, rates):
            group["lr"] = lr
        scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]


def check_extras(plots: bool = True) -> list:
    """Fail now if saving checkpoints is impossible; return notes on missing nice-to-haves."""
    try:
        import safetensors.numpy  # noqa: F401  (optional dependency, soma[io]: only probed)
    except ImportError:
        raise RunError(
            "soma train writes checkpoints with the 'safetensors' package, which is not "
            "installed: pip install soma[io]"
        ) from None
    notes = []
    if plots:
        try:
            import matplotlib  # noqa: F401  (optional dependency, soma[plot]: only probed)
        except ImportError:
            notes.append("no plots will be drawn: matplotlib is missing (pip install soma[plot])")
    return notes
