"""The ``soma`` command: train, evaluate and inspect models on datasets by name.

    soma train --model lenet5 --data digits --epochs 12 --out runs/demo
    soma evaluate runs/demo --data digits
    soma lr-find --model lenet5 --data digits
    soma summary --model lenet5 --input 1,32,32
    soma models | soma datasets
    soma train --model vae --data digits; soma sample runs/vae-digits --n 64 --out grid.png
    soma run SCRIPT.py [ARGS…]     # a PyTorch program, unchanged, on soma

Exit codes: 0 success, 2 bad usage (unknown names, invalid options), 1 failure (missing files,
unwritable folders, labels the model cannot predict, a diverged run), 130 interrupted (Ctrl-C;
``train`` saves a checkpoint first).
"""

import argparse
import os
import sys

from soma.optim.registry import OPTIMIZERS, SCHEDULERS
from soma.train.workflow import RunError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _shape(text):
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1,32,32, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return dims


def _add_model_data(p, data_required=True):
    p.add_argument("--model", required=True, help="registered model name (see `soma models`)")
    p.add_argument("--data", required=data_required, help="dataset name (see `soma datasets`)")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files")
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing dataset files (checksum-verified)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument(
        "--optimizer",
        default="adam",
        help=f"one of {', '.join(OPTIMIZERS.names())} (default adam)",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: the optimizer's registered rate, e.g. adam 3e-3, sgd 0.05)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--num-classes",
        type=_positive_int,
        default=None,
        help="classes of the model's output (default: the dataset's)",
    )
    _add_model_args(p)


def _model_arg(text):
    """``KEY=VALUE`` with VALUE a Python literal (``True``, ``0.25``, ``(6, 12)``) or a word."""
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _add_model_args(p):
    p.add_argument(
        "--model-arg",
        type=_model_arg,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor argument of the model, e.g. cifar_stem=True or alpha=0.25 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soma", description="Train and inspect soma models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on a dataset and write a run folder")
    _add_model_data(p)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument(
        "--scheduler",
        default="cosine",
        help=f"none or one of {', '.join(SCHEDULERS.names())} (default cosine)",
    )
    p.add_argument(
        "--augment",
        action="store_true",
        help="random shifts of the training images (by up to 1/16 of their size)",
    )
    p.add_argument(
        "--val-split",
        type=_fraction,
        default=0.1,
        help="fraction of the training set used for validation (0 for none)",
    )
    p.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATA)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")

    p = sub.add_parser("evaluate", help="evaluate a run (folder or checkpoint) on test data")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--data", default=None, help="dataset name (default: the one trained on)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--download", action="store_true")
    p.add_argument("--batch-size", type=_positive_int, default=256)

    p = sub.add_parser("lr-find", help="sweep the learning rate and suggest one")
    _add_model_data(p)
    p.add_argument("--start-lr", type=_positive_float, default=1e-7)
    p.add_argument("--end-lr", type=_positive_float, default=10.0)
    p.add_argument("--num-iter", type=_positive_int, default=100)
    p.add_argument("--out", default="runs/lr_find.png", help="PNG file for the curve")

    p = sub.add_parser("summary", help="print a model's layers and parameters")
    p.add_argument("--model", required=True)
    p.add_argument(
        "--input",
        type=_shape,
        default=None,
        help="input size C,H,W (or F); default: the model's reference input "
        "(3,224,224 for the ImageNet models) or fixed size (1,32,32 for lenet5)",
    )
    p.add_argument(
        "--num-classes",
        type=_positive_int,
        default=None,
        help="classes of the model's output (default: 1000 for the ImageNet models, else 10)",
    )
    _add_model_args(p)

    p = sub.add_parser("sample", help="draw samples from a generative run into a PNG grid")
    p.add_argument("run", help="run folder or checkpoint of a vae, dcgan or ddpm run")
    p.add_argument("--n", type=_positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", default=None, help="PNG file (default RUN/grid.png)")
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="DDIM steps (ddpm; default: all)"
    )
    p.add_argument("--seed", type=int, default=0)

    sub.add_parser("models", help="list the registered models")
    sub.add_parser("datasets", help="list the datasets")
    sub.add_parser("run", help="run a PyTorch script unchanged on soma: soma run SCRIPT.py [ARGS]")

    p = sub.add_parser("launch", help="run a command as an N-process MPI job (mpiexec)")
    p.add_argument("-n", "--nproc", type=_positive_int, required=True, help="processes")
    p.add_argument("--hostfile", default=None, help="machines for a cluster run (host:slots)")
    p.add_argument("command_line", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    return parser


# ---------------------------------------------------------------------- commands
def _prepare(args, model: str, **overrides):
    from soma.train.workflow import check_names, prepare_data

    check_names(model=model)
    try:
        return prepare_data(
            args.data, model, root=args.data_dir, download=args.download, **overrides
        )
    except FileNotFoundError as error:
        raise RunError(
            f"{error}\n(with the soma command: add --download, or --data-dir FOLDER "
            "where the files are)"
        ) from None


def _loader(dataset, batch_size, shuffle=False, transform=None):
    from soma.data import DataLoader

    return (
        None
        if dataset is None
        else DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, transform=transform)
    )


def _augmentation(input_shape):
    """Random shifts by up to 1/16 of the image size (edge-padded, cropped back), per image."""
    from soma.data import transforms

    pad = max(1, round(input_shape[1] / 16))
    return transforms.RandomCrop(tuple(input_shape[1:]), padding=pad, padding_mode="edge")


def _task(prepared, num_classes=None) -> dict:
    """Loss, metrics and number of model outputs for the dataset's task."""
    from soma.train.workflow import check_labels

    if prepared.task == "regression":
        targets = prepared.train.tensors[1]
        outputs = targets.shape[1] if targets.ndim > 1 else 1
        return {"task": "regression", "loss": "mse", "metrics": ["mae"], "num_classes": outputs}
    num_classes = num_classes or prepared.num_classes
    check_labels(prepared, num_classes)
    return {
        "task": "classification",
        "loss": "cross_entropy",
        "metrics": ["accuracy"],
        "num_classes": num_classes,
    }


def _describe_data(args, prepared) -> None:
    val = len(prepared.val) if prepared.val is not None else 0
    print(
        f"data: {args.data}: {len(prepared.train)} train, {val} validation, "
        f"{len(prepared.test)} test samples"
    )
    for note in prepared.notes:
        print(note)


def _make_trainer(args, prepared, task, out):
    """Model, optimizer, schedule and callbacks of a `soma train` run, in a Trainer."""
    from soma.train import CSVLogger, JSONLogger, ModelCheckpoint, Trainer
    from soma.train.workflow import build_model, make_optimizer, make_scheduler, model_summary

    model, model_kwargs = build_model(
        args.model, task["num_classes"], prepared.input_shape, **dict(args.model_arg)
    )
    print(model_summary(model, prepared.input_shape))
    _describe_data(args, prepared)
    optimizer = make_optimizer(args.optimizer, model, args.lr)
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
        verbose=not args.quiet,
        extra=extra,
    )


def cmd_train(args) -> int:
    import soma
    from soma.train.generative_workflow import is_generative, train_generative
    from soma.train.workflow import check_names, check_writable, model_kwargs_for

    if is_generative(args.model):  # autoencoders, VAE, DCGAN, DDPM: their own loop and pictures
        return train_generative(args)

    check_names(args.model, args.optimizer, args.scheduler)
    soma.manual_seed(args.seed)
    prepared = _prepare(args, args.model, val_split=args.val_split, seed=args.seed)
    task = _task(prepared, args.num_classes)
    model_kwargs_for(args.model, prepared.input_shape)  # a model that cannot take the data: usage
    out = check_writable(args.out or os.path.join("runs", f"{args.model}-{args.data}"))
    trainer = _make_trainer(args, prepared, task, out)
    augment = _augmentation(prepared.input_shape) if args.augment else None
    try:
        trainer.fit(
            _loader(prepared.train, args.batch_size, shuffle=True, transform=augment),
            args.epochs,
            val_data=_loader(prepared.val, 256),
            resume=args.resume,
        )
    except KeyboardInterrupt:
        path = os.path.join(out, "interrupted.safetensors")
        trainer.save_checkpoint(path)
        print(
            f"\nsoma train: interrupted; checkpoint saved to {path} "
            f"(continue with --resume {path})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if trainer.failed:
        raise RunError(f"training failed: {trainer.stop_reason}")
    return _finish_run(trainer, prepared, task, out)


def _test_metrics(task) -> list:
    from soma.train.metrics import ConfusionMatrix

    if task["task"] == "regression":
        return ["mae"]
    return ["accuracy", "f1", ConfusionMatrix(task["num_classes"])]


def _finish_run(trainer, prepared, task, out) -> int:
    from soma.train import evaluate
    from soma.train.progress import format_logs

    test = evaluate(
        trainer.model, _loader(prepared.test, 256), loss=task["loss"], metrics=_test_metrics(task)
    )
    confusion = test.pop("confusion_matrix", None)
    trainer.history.test = test
    written = [os.path.join(out, "last.safetensors")]
    trainer.save_checkpoint(written[0])
    trainer.history.to_json(os.path.join(out, "history.json"))
    written += [os.path.join(out, name) for name in ("history.json", "history.csv")]
    if os.path.exists(os.path.join(out, "best.safetensors")):
        written.append(os.path.join(out, "best.safetensors"))
    written += _plots(trainer.history, confusion, prepared.classes, out)
    print(f"test: {format_logs(test)}  ({len(prepared.test)} samples)")
    print(f"outputs written to {out}/:")
    for path in written:
        print(f"  {path}")
    return EXIT_OK


def _plots(history, confusion, classes, out) -> list:
    try:
        from soma.inspection import plot_confusion_matrix, plot_history

        paths = [plot_history(history, os.path.join(out, "curves.png"))]
        if confusion is not None:
            path = os.path.join(out, "confusion_matrix.png")
            paths.append(plot_confusion_matrix(confusion, path, class_names=classes or None))
        return paths
    except ImportError as error:
        print(f"(no plots: {error})", file=sys.stderr)
        return []


def _checkpoint_path(run: str) -> str:
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


def cmd_evaluate(args) -> int:
    import soma
    from soma.io import check_state_dict
    from soma.train import evaluate
    from soma.train.progress import format_logs
    from soma.train.workflow import build_model

    path = _checkpoint_path(args.run)
    ckpt = soma.load(path)
    extra = ckpt.get("extra", {}) if isinstance(ckpt, dict) else {}
    if "model" not in extra:
        raise RunError(
            f"'{path}' is not a checkpoint of `soma train` (it does not name its model)"
        )
    if extra.get("task") == "generative":
        raise RunError(f"'{path}' is a generative run: use `soma sample {args.run}`", usage=True)
    args.data = args.data or extra["data"]
    prepared = _prepare(
        args, extra["model"], seed=extra.get("seed", 0), mean=extra["mean"], std=extra["std"]
    )
    model, _ = build_model(
        extra["model"], extra["num_classes"], tuple(extra["input_shape"]), **extra["model_kwargs"]
    )
    check_state_dict(model, ckpt["model"])
    model.load_state_dict(ckpt["model"])
    task = _task(prepared, extra["num_classes"])
    test = evaluate(
        model,
        _loader(prepared.test, args.batch_size),
        loss=task["loss"],
        metrics=_test_metrics(task)[:2],
    )
    print(
        f"{extra['model']} from {path} on the {args.data} test split "
        f"({len(prepared.test)} samples): {format_logs(test)}"
    )
    return EXIT_OK


def cmd_lr_find(args) -> int:
    import soma
    from soma.train import lr_find
    from soma.train.workflow import build_model, check_names, check_writable, make_optimizer

    check_names(args.model, args.optimizer)
    check_writable(os.path.dirname(os.path.abspath(args.out)))
    soma.manual_seed(args.seed)
    prepared = _prepare(args, args.model, seed=args.seed)
    task = _task(prepared, args.num_classes)
    model, _ = build_model(
        args.model, task["num_classes"], prepared.input_shape, **dict(args.model_arg)
    )
    loader = _loader(prepared.train, args.batch_size, shuffle=True)
    optimizer = make_optimizer(args.optimizer, model, args.lr)
    result = lr_find(
        model,
        loader,
        task["loss"],
        optimizer,
        start_lr=args.start_lr,
        end_lr=args.end_lr,
        num_iter=args.num_iter,
    )
    if result.suggestion is None:
        raise RunError("lr-find: the sweep was too short to suggest a rate (raise --num-iter)")
    print(
        f"suggested learning rate: {result.suggestion:.2e} "
        f"({len(result.lrs)} steps{', stopped at divergence' if result.diverged else ''})"
    )
    try:
        print(f"curve written to {result.plot(args.out)}")
    except ImportError as error:
        print(f"(no plot: {error})", file=sys.stderr)
    return EXIT_OK


def _default_input(info):
    """The model's reference input (C, H, W), or its fixed size with its default channels."""
    if info.reference_input is not None:
        return info.reference_input
    if info.input_size is None:
        return None
    import inspect

    channels = inspect.signature(info.builder).parameters.get("in_channels")
    default = (
        1 if channels is None or channels.default is inspect.Parameter.empty else channels.default
    )
    return (default, *info.input_size)


def cmd_summary(args) -> int:
    import soma
    from soma.models import model_info
    from soma.train.workflow import build_model, check_names, model_summary

    check_names(model=args.model)
    reference = model_info(args.model).reference_input
    if args.input is None:
        args.input = _default_input(model_info(args.model))
        if args.input is None:
            raise RunError(
                f"{args.model} takes inputs of any size: give one with --input C,H,W", usage=True
            )
    num_classes = args.num_classes or (1000 if reference else 10)
    model, _ = build_model(args.model, num_classes, args.input, **dict(args.model_arg))
    from soma.train.generative_workflow import is_generative, summarise

    if is_generative(args.model):  # inputs are latent codes or (x_t, t): their own summary
        return summarise(model, args.model, tuple(args.input))
    try:
        with soma.no_grad():
            out = model.eval()(soma.zeros(1, *args.input))
    except (ValueError, RuntimeError) as error:
        raise RunError(
            f"{args.model} does not accept inputs of size {args.input}: {error}", usage=True
        ) from None
    print(model_summary(model, args.input))
    print(f"output shape for one input: {tuple(out.shape)}")
    return EXIT_OK


def cmd_models(args) -> int:
    from soma.models import list_models, model_info

    for name, description in list_models().items():
        info = model_info(name)
        size, reference = info.input_size, info.reference_input
        shown = f" [input {size[0]}x{size[1]}]" if size else ""
        if reference:
            shown = f" [reference input {'x'.join(str(d) for d in reference)}]"
        print(f"{name:<16}{description}{shown}")
    return EXIT_OK


def cmd_datasets(args) -> int:
    from soma.data import datasets

    describe = getattr(datasets, "describe", None)
    for name in datasets.available():
        print(f"{name:<14}{describe(name) if describe else ''}".rstrip())
    return EXIT_OK


def cmd_sample(args) -> int:
    from soma.train.generative_workflow import sample_run

    return sample_run(args)


def cmd_launch(args) -> int:
    from soma.distributed.launch import launch

    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    return launch(args.nproc, command, args.hostfile)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "lr-find": cmd_lr_find,
    "summary": cmd_summary,
    "models": cmd_models,
    "datasets": cmd_datasets,
    "sample": cmd_sample,
    "launch": cmd_launch,
}


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:  # the script's own arguments must not meet argparse
        from soma.compat.runner import main as run_script

        return run_script(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse printed the usage error (or --help)
        return int(stop.code or 0)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("\nsoma: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RunError as error:
        print(f"soma {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.usage else EXIT_FAILURE
    except (OSError, ValueError, ImportError, RuntimeError) as error:
        print(f"soma {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
