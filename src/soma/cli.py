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
import ast
import inspect
import os
import signal
import sys
import threading
import warnings

import soma
from soma._version import __version__
from soma.cli_segmentation import segmentation_task, test_metrics
from soma.compat.runner import main as run_script
from soma.data import DataLoader, datasets
from soma.models import list_models, model_info
from soma.optim.registry import OPTIMIZERS, SCHEDULERS
from soma.train import evaluate, lr_find
from soma.train.generative_workflow import is_generative, sample_run, summarise, train_generative
from soma.train.interrupts import TrainingInterrupted
from soma.train.metrics import ConfusionMatrix
from soma.train.progress import format_logs
from soma.train.workflow import (
    RunError,
    build_model,
    check_labels,
    check_names,
    check_writable,
    load_model,
    make_optimizer,
    model_summary,
    prepare_data,
    run_checkpoint,
)

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


DATA_DIR_HELP = (
    "dataset root folder (default $SOMA_HOME/datasets, i.e. ~/.cache/soma/datasets); files are "
    "looked for in ROOT/NAME/: mnist and fashion_mnist as the four IDX files "
    "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte, gzipped or not; torchvision's ROOT/MNIST/raw works too), cifar10 as "
    "cifar-10-batches-py/ or cifar-10-batches-bin/ (in ROOT/cifar10/ or ROOT/); digits and the "
    "synthetic sets need no files"
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show or the help says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if default is None or default is False or default == [] or "default" in text:
            return text
        return super()._get_help_string(action)


def _add_model_data(p, data_required=True):
    p.add_argument("--model", required=True, help="registered model name (see `soma models`)")
    p.add_argument("--data", required=data_required, help="dataset name (see `soma datasets`)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument(
        "--download",
        action="store_true",
        help="download missing dataset files (checksum-verified)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, help="samples per batch")
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
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument(
        "--num-classes",
        type=_positive_int,
        default=None,
        help="classes of the model's output (default: the dataset's)",
    )
    _add_model_args(p)


def _model_arg(text):
    """``KEY=VALUE`` with VALUE a Python literal (``True``, ``0.25``, ``(6, 12)``) or a word."""
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
    parser = argparse.ArgumentParser(
        prog="soma", description="Train and inspect soma models.", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"soma {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_parser = sub.add_parser
    sub.add_parser = lambda *a, **k: _add_parser(*a, formatter_class=_HelpFormatter, **k)

    p = sub.add_parser("train", help="train a model on a dataset and write a run folder")
    _add_model_data(p)
    p.add_argument(
        "--distributed",
        action="store_true",
        help="run as one rank of a data-parallel MPI job: start with `soma launch -n N -- soma "
        "train ...` or `mpiexec -n N soma train ...` (--batch-size is per rank; rank 0 writes)",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="epochs to train (default 10; with --resume: the run's, and a larger value "
        "extends the run)",
    )
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
    p.add_argument(
        "--out",
        default=None,
        help="run folder (default runs/MODEL-DATA, or the folder of the --resume checkpoint)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in the --out folder (otherwise refused)",
    )
    p.add_argument(
        "--resume",
        default=None,
        help="checkpoint (or run folder) to continue from, with the same options",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar or per-epoch lines (off a terminal: plain lines, no bar)",
    )

    p = sub.add_parser("evaluate", help="evaluate a run (folder or checkpoint) on test data")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("--data", default=None, help="dataset name (default: the one trained on)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--download", action="store_true", help="download missing dataset files")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="samples per batch")

    p = sub.add_parser("lr-find", help="sweep the learning rate and suggest one")
    _add_model_data(p)
    p.add_argument(
        "--start-lr", type=_positive_float, default=1e-7, help="first rate of the sweep"
    )
    p.add_argument("--end-lr", type=_positive_float, default=10.0, help="last rate of the sweep")
    p.add_argument("--num-iter", type=_positive_int, default=100, help="batches in the sweep")
    p.add_argument("--out", default="runs/lr_find.png", help="PNG file for the curve")

    p = sub.add_parser("summary", help="print a model's layers and parameters")
    p.add_argument("--model", required=True, help="registered model name (see `soma models`)")
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
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws")

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
    return (
        None
        if dataset is None
        else DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, transform=transform)
    )


def _task(prepared, num_classes=None) -> dict:
    """Loss, metrics and number of model outputs for the dataset's task."""
    if prepared.task == "segmentation":
        return segmentation_task(prepared, num_classes)
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


def cmd_train(args) -> int:
    """`soma train`: the run's flow (folder, resume checks, interruptions) is in soma.cli_train."""
    if is_generative(args.model):  # autoencoders, VAE, DCGAN, DDPM: their own loop and pictures
        args.epochs = 10 if args.epochs is None else args.epochs
        return train_generative(args)
    # lazy: soma.cli_train imports this module's helpers at load time (a cycle)
    from soma.cli_train import cmd_train as train

    return train(args)


def _test_metrics(task) -> list:
    if task["task"] == "regression":
        return ["mae"]
    if task["task"] == "segmentation":
        return test_metrics(task)
    return ["accuracy", "f1", ConfusionMatrix(task["num_classes"])]


def cmd_evaluate(args) -> int:
    path = run_checkpoint(args.run)
    extra = soma.load(path).get("extra") or {}
    if extra.get("task") == "generative":
        raise RunError(f"'{path}' is a generative run: use `soma sample {args.run}`", usage=True)
    model = load_model(path)
    extra = model.soma_run
    args.data = args.data or extra["data"]
    prepared = _prepare(
        args, extra["model"], seed=extra.get("seed", 0), mean=extra["mean"], std=extra["std"]
    )
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
    channels = inspect.signature(info.builder).parameters.get("in_channels")
    default = (
        1 if channels is None or channels.default is inspect.Parameter.empty else channels.default
    )
    return (default, *info.input_size)


def cmd_summary(args) -> int:
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
    for name, description in list_models().items():
        info = model_info(name)
        size, reference = info.input_size, info.reference_input
        shown = f" [input {size[0]}x{size[1]}]" if size else ""
        if reference:
            shown = f" [reference input {'x'.join(str(d) for d in reference)}]"
        print(f"{name:<16}{description}{shown}")
    return EXIT_OK


def cmd_datasets(args) -> int:
    describe = getattr(datasets, "describe", None)
    for name in datasets.available():
        print(f"{name:<14}{describe(name) if describe else ''}".rstrip())
    return EXIT_OK


def cmd_sample(args) -> int:
    return sample_run(args)


def cmd_launch(args) -> int:
    # lazy: soma.distributed stays out of start-up (and of `import soma`) until a command needs it
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
        return run_script(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse printed the usage error (or --help)
        return int(stop.code or 0)
    previous = _terminate_like_ctrl_c()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # shown once each, as one line (not raised)
            warnings.showwarning = _show_warning(args.command)
            return COMMANDS[args.command](args)
    except KeyboardInterrupt as stop:
        print("\nsoma: interrupted", file=sys.stderr)
        return getattr(stop, "exit_code", EXIT_INTERRUPTED)
    except RunError as error:
        print(f"soma {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.usage else EXIT_FAILURE
    except (OSError, ValueError, ImportError, RuntimeError) as error:
        print(f"soma {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _show_warning(command):
    """Warnings as one plain line (``soma train: warning: …``), without source paths."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"soma {command}: warning: {message}", file=file or sys.stderr)

    return show


def _terminate_like_ctrl_c():
    """SIGTERM raises (like Ctrl-C) so files being written are cleaned up; returns the old
    handler (None off the main thread). ``soma train`` defers both to a batch boundary."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        raise TrainingInterrupted(signum)

    return signal.signal(signal.SIGTERM, terminate)


if __name__ == "__main__":
    sys.exit(main())
