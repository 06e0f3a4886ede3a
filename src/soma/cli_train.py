"""`soma train`: one training run from the command line, start to finish.

``cmd_train`` claims the output folder (refusing one that holds another run), checks a resume
against the run it continues, trains with SIGINT/SIGTERM deferred to batch boundaries (an
interrupted run saves ``interrupted.safetensors`` and exits 130/143), then evaluates on the
test split and writes the checkpoints, history and plots. See docs/RUNS.md.
"""

import os
import sys
import warnings

import soma
from soma.cli import EXIT_OK, _loader, _prepare, _task, _test_metrics
from soma.cli_segmentation import augment_jointly, segmentation_outputs
from soma.data import transforms
from soma.inspection import plot_confusion_matrix, plot_history
from soma.train import (
    CSVLogger,
    JSONLogger,
    ModelCheckpoint,
    Trainer,
    TrainingInterrupted,
    evaluate,
)
from soma.train.progress import format_logs
from soma.train.run_folder import (
    ExtendSchedule,
    check_extras,
    claim_folder,
    release_folder,
    resume_differences,
)
from soma.train.workflow import (
    RunError,
    build_model,
    check_names,
    check_writable,
    make_optimizer,
    make_scheduler,
    model_kwargs_for,
    model_summary,
)


def _augmentation(input_shape):
    """Random shifts by up to 1/16 of the image size (edge-padded, cropped back), per image."""
    pad = max(1, round(input_shape[1] / 16))
    return transforms.RandomCrop(tuple(input_shape[1:]), padding=pad, padding_mode="edge")


def _describe_data(args, prepared) -> None:
    val = len(prepared.val) if prepared.val is not None else 0
    print(
        f"data: {args.data}: {len(prepared.train)} train, {val} validation, "
        f"{len(prepared.test)} test samples"
    )
    for note in prepared.notes:
        print(note)


def _run_options(args, optimizer) -> dict:
    """The options that define a run (stored in its checkpoints; a resume must match them)."""
    return {
        "model": args.model,
        "model_kwargs": dict(args.model_arg),
        "data": args.data,
        "optimizer": args.optimizer.lower(),
        "lr": optimizer.param_groups[0]["lr"],
        "scheduler": args.scheduler,
        "batch_size": args.batch_size,
        "val_split": args.val_split,
        "augment": args.augment,
        "seed": args.seed,
        "epochs": args.epochs,
    }


def _make_trainer(args, prepared, task, out):
    """Model, optimizer, schedule and callbacks of a `soma train` run, in a Trainer."""
    model, model_kwargs = build_model(
        args.model, task["num_classes"], prepared.input_shape, **dict(args.model_arg)
    )
    print(model_summary(model, prepared.input_shape))
    _describe_data(args, prepared)
    optimizer = make_optimizer(args.optimizer, model, args.lr)
    run = _run_options(args, optimizer)
    steps = -(-len(prepared.train) // args.batch_size)
    scheduler, interval = make_scheduler(
        args.scheduler, optimizer, args.epochs, steps, optimizer.param_groups[0]["lr"]
    )
    extra = {
        "model": args.model,
        "model_kwargs": model_kwargs,
        "data": args.data,
        **task,
        "input_shape": list(prepared.input_shape),
        "mean": list(prepared.mean),
        "std": list(prepared.std),
        "seed": args.seed,
        "run": run,
    }
    callbacks = [
        ModelCheckpoint(
            out,
            monitor="val_loss" if prepared.val is not None else "loss",
            save_best=prepared.val is not None,
        ),
        JSONLogger(os.path.join(out, "history.json")),
        CSVLogger(os.path.join(out, "history.csv")),
    ]
    return Trainer(
        model,
        task["loss"],
        optimizer,
        metrics=task["metrics"],
        callbacks=callbacks,
        scheduler=scheduler,
        scheduler_interval=interval,
        verbose=_verbosity(args),
        extra=extra,
        interrupt_checkpoint=os.path.join(out, "interrupted.safetensors"),
        distributed=getattr(args, "distributed", False),
    )


def _verbosity(args):
    """Quiet with --quiet; a progress bar on a terminal; plain lines per epoch otherwise."""
    if args.quiet:
        return False
    return True if sys.stderr.isatty() else "plain"


def _resume_checkpoint(path: str) -> str:
    """--resume PATH: a checkpoint file, or a run folder (its most advanced checkpoint)."""
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise RunError(f"--resume: no such checkpoint: '{path}'")
        return path
    found = []
    for rank, name in enumerate(("best", "last", "interrupted")):
        candidate = os.path.join(path, name + ".safetensors")
        if os.path.exists(candidate):
            ckpt = soma.load(candidate)
            batch = (ckpt.get("position") or {}).get("batch", 0)
            found.append(((ckpt["epoch"], batch, rank), candidate))
    if not found:
        raise RunError(f"--resume: no checkpoint in '{path}' (interrupted, last or best)")
    return max(found)[1]


def _check_resume(trainer, path) -> None:
    """Refuse to resume a different run; re-plan the schedule for a larger --epochs."""
    extra = soma.load(path).get("extra") or {}
    if "model" not in extra:
        raise RunError(f"--resume: '{path}' was not written by `soma train`", usage=True)
    saved = extra.get("run")
    if saved is None:  # written before runs recorded their options
        warnings.warn(f"'{path}' does not record its options: not checked", stacklevel=2)
        return
    now = trainer.extra["run"]
    differences = resume_differences(saved, now)
    if differences:
        raise RunError(
            f"--resume: '{path}' is a different run:\n  " + "\n  ".join(differences), usage=True
        )
    if now["epochs"] > saved["epochs"] and trainer.scheduler is not None:
        trainer.callbacks.insert(0, ExtendSchedule(trainer.scheduler))
        print(
            f"extending the run from {saved['epochs']} to {now['epochs']} epochs: the "
            f"{saved['scheduler']} schedule is re-planned for {now['epochs']} epochs and "
            "continues from the step reached",
            file=sys.stderr,
        )


def _planned_epochs(path) -> int:
    """The --epochs a checkpoint's run was started with (its finished epochs if unrecorded)."""
    ckpt = soma.load(path)
    return ((ckpt.get("extra") or {}).get("run") or {}).get("epochs") or max(1, ckpt["epoch"])


def cmd_train(args) -> int:
    out = args.out
    resume = _resume_checkpoint(args.resume) if args.resume else None
    if out is None:
        out = (
            os.path.dirname(resume) or "."
            if resume
            else os.path.join("runs", f"{args.model}-{args.data}")
        )
    if args.epochs is None:
        args.epochs = _planned_epochs(resume) if resume else 10
    created = not os.path.exists(out)
    try:
        return _train(args, out, resume)
    except BaseException:
        release_folder(out, created)
        raise


def _train(args, out, resume) -> int:
    check_names(args.model, args.optimizer, args.scheduler)
    for note in check_extras(plots=True):
        print(f"note: {note}", file=sys.stderr)
    soma.manual_seed(args.seed)
    prepared = _prepare(args, args.model, val_split=args.val_split, seed=args.seed)
    task = _task(prepared, args.num_classes)
    model_kwargs_for(args.model, prepared.input_shape)  # a model that cannot take the data: usage
    check_writable(out)
    main_rank = _join_job(args)
    if main_rank:
        claim_folder(out, resuming_from=resume, overwrite=args.overwrite)
    if args.distributed:
        soma.distributed.barrier()  # the folder is claimed before any rank trains
    trainer = _make_trainer(args, prepared, task, out)
    if resume is not None:
        _check_resume(trainer, resume)
    if args.augment and task["task"] == "segmentation":  # images and masks move together
        augment_jointly(prepared)
        args.augment = False
    augment = _augmentation(prepared.input_shape) if args.augment else None
    try:
        trainer.fit(
            _loader(prepared.train, args.batch_size, shuffle=True, transform=augment),
            args.epochs,
            val_data=_loader(prepared.val, 256),
            resume=resume,
        )
    except TrainingInterrupted as stop:
        print(
            f"\nsoma train: {stop} (continue with --resume {stop.checkpoint})",
            file=sys.stderr,
        )
        return stop.exit_code
    if trainer.failed:
        raise RunError(f"training failed: {trainer.stop_reason}")
    if not main_rank:  # rank 0 evaluates on the test split and writes the run's files
        return EXIT_OK
    return _finish_run(trainer, prepared, task, out)


def _join_job(args) -> bool:
    """With --distributed, join the MPI job; True on the rank that prints and writes."""
    if not getattr(args, "distributed", False):
        return True
    # lazy: soma.distributed stays out of start-up (and of `import soma`) until a command needs it
    import soma.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("mpi")
    if dist.get_rank() == 0:
        return True
    args.quiet = True
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the other ranks print nothing)
    return False


def _finish_run(trainer, prepared, task, out) -> int:
    test = evaluate(
        trainer.model, _loader(prepared.test, 256), loss=task["loss"], metrics=_test_metrics(task)
    )
    confusion = test.pop("confusion_matrix", None)
    per_class_iou = test.pop("iou", None)
    trainer.history.test = test
    written = [os.path.join(out, "last.safetensors")]
    trainer.save_checkpoint(written[0])
    stale = os.path.join(out, "interrupted.safetensors")
    if os.path.exists(stale):  # the run went past the interruption: last.safetensors has it
        os.remove(stale)
    trainer.history.to_json(os.path.join(out, "history.json"))
    written += [os.path.join(out, name) for name in ("history.json", "history.csv")]
    if os.path.exists(os.path.join(out, "best.safetensors")):
        written.append(os.path.join(out, "best.safetensors"))
    written += _plots(trainer.history, confusion, prepared.classes, out)
    if per_class_iou is not None:
        written += segmentation_outputs(trainer.model, prepared, per_class_iou, out)
    print(f"test: {format_logs(test)}  ({len(prepared.test)} samples)")
    print(f"outputs written to {out}/:")
    for path in written:
        print(f"  {path}")
    return EXIT_OK


def _plots(history, confusion, classes, out) -> list:
    try:
        paths = [plot_history(history, os.path.join(out, "curves.png"))]
        if confusion is not None:
            path = os.path.join(out, "confusion_matrix.png")
            paths.append(plot_confusion_matrix(confusion, path, class_names=classes or None))
        return paths
    except ImportError as error:
        print(f"(no plots: {error})", file=sys.stderr)
        return []
