"""The ``soma`` command end to end, in a temporary folder: a tiny run, its evaluation, the
listings, and every kind of bad input with its exit code."""

import json
import os
import signal

import pytest

import soma
from soma.cli import main
from soma.train import CSVLogger

TINY = ["--model", "mlp", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--quiet"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_writes_a_complete_run_and_evaluate_reads_it(workdir, capsys):
    assert main(["train", *TINY, "--out", "run", "--lr", "0.003"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 50,826" in out  # the model summary
    assert "test: loss" in out and "outputs written to run/" in out
    for name in (
        "last.safetensors",
        "best.safetensors",
        "history.json",
        "history.csv",
        "curves.png",
        "confusion_matrix.png",
    ):
        assert (workdir / "run" / name).exists(), name
        assert f"run/{name}" in out
    history = json.loads((workdir / "run" / "history.json").read_text())
    assert len(history["epochs"]) == 2 and history["test"]["accuracy"] > 0.8
    ckpt = soma.load(workdir / "run" / "last.safetensors")
    assert ckpt["epoch"] == 2 and ckpt["extra"]["model"] == "mlp"

    assert main(["evaluate", "run"]) == 0
    line = capsys.readouterr().out
    accuracy = float(line.split("accuracy ")[1].split()[0])
    assert accuracy == pytest.approx(history["test"]["accuracy"], abs=1e-4)
    assert main(["evaluate", "run/best.safetensors", "--data", "digits"]) == 0


def test_listings(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert {line.split()[0] for line in lines} >= {"mlp", "lenet5", "simplecnn"}
    assert all(len(line.split()) > 2 for line in lines)  # a description on every line
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert {line.split()[0] for line in lines} >= {"digits", "mnist", "cifar10", "spirals"}
    assert all(len(line.split()) > 2 for line in lines)  # a description on every line


def test_summary_and_lr_find(workdir, capsys):
    assert main(["summary", "--model", "mlp", "--input", "1,8,8"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 50,826" in out and "Total mult-adds" in out
    assert "output shape for one input: (1, 10)" in out
    assert (
        main(
            [
                "lr-find",
                "--model",
                "mlp",
                "--data",
                "digits",
                "--num-iter",
                "30",
                "--out",
                "lr.png",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "suggested learning rate:" in out and (workdir / "lr.png").exists()


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (
            ["train", "--model", "resnet9000", "--data", "digits"],
            2,
            "unknown model 'resnet9000'; available models: ",
        ),
        (
            ["train", "--model", "mlp", "--data", "imagenet22k"],
            2,
            "unknown dataset 'imagenet22k'; available datasets: ",
        ),
        (
            ["train", "--model", "mlp", "--data", "digits", "--epochs", "0"],
            2,
            "must be a positive integer",
        ),
        (["train", "--data", "digits"], 2, "the following arguments are required: --model"),
        (["train", *TINY, "--optimizer", "lion"], 2, "unknown optimizer 'lion'"),
        (["train", *TINY, "--scheduler", "warp"], 2, "unknown scheduler 'warp'"),
        (
            ["train", *TINY, "--num-classes", "7"],
            1,
            "labels outside the model's 7 classes (0..6): [7, 8, 9]",
        ),
        (["summary", "--model", "mlp", "--input", "1,8,x"], 2, "expected sizes like 1,32,32"),
        (["summary", "--model", "nope", "--input", "1,8,8"], 2, "unknown model 'nope'"),
        (["evaluate", "no_such_run"], 1, "no such run folder or checkpoint: 'no_such_run'"),
    ],
)
def test_bad_input_fails_with_a_clear_message(workdir, capsys, argv, code, message):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    if "available" in message:  # the valid names are listed
        assert "lenet5" in err.split("available")[1] or "digits" in err.split("available")[1]
    assert not (workdir / "runs").exists() or argv[0] != "train"  # nothing trained or written


def test_lenet_on_digits_resizes_and_augments(workdir, capsys):
    argv = [
        "train",
        "--model",
        "lenet5",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--val-split",
        "0",
        "--augment",
        "--quiet",
        "--out",
        "lenet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "inputs resized from 8x8 to 32x32 for lenet5" in out
    assert soma.load(workdir / "lenet" / "last.safetensors")["extra"]["input_shape"] == [1, 32, 32]
    assert not (workdir / "lenet" / "best.safetensors").exists()  # no validation split
    assert main(["evaluate", "lenet"]) == 0
    assert "lenet5 from lenet/last.safetensors on the digits test split" in capsys.readouterr().out


def test_regression_data_trains_with_mse(workdir, capsys):
    assert (
        main(
            [
                "train",
                "--model",
                "mlp",
                "--data",
                "sin",
                "--epochs",
                "2",
                "--quiet",
                "--out",
                "sin",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test: loss" in out and "mae" in out and "accuracy" not in out
    assert not (workdir / "sin" / "confusion_matrix.png").exists()


def test_missing_data_files_say_what_is_expected(workdir, capsys):
    (workdir / "empty").mkdir()
    assert main(["train", "--model", "mlp", "--data", "mnist", "--data-dir", "empty"]) == 1
    err = capsys.readouterr().err
    assert "data files not found. Expected train-images-idx3-ubyte" in err
    assert "add --download" in err


def test_image_models_refuse_feature_vectors(workdir, capsys):
    assert main(["train", "--model", "lenet5", "--data", "moons", "--quiet"]) == 2
    assert "takes images" in capsys.readouterr().err
    assert not (workdir / "runs").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way
def test_a_diverging_run_fails_with_the_nan_guards_message(workdir, capsys):
    argv = ["train", *TINY, "--optimizer", "sgd", "--lr", "1e6", "--out", "nan"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "training failed: non-finite loss (nan) at epoch 1, batch" in err


def test_unwritable_output_folder_fails_before_training(workdir, capsys):
    (workdir / "file").write_text("a file, not a folder")
    assert main(["train", *TINY, "--out", "file/run"]) == 1
    captured = capsys.readouterr()
    assert "cannot write to the output folder 'file/run'" in captured.err
    assert "params" not in captured.out  # failed before the model was built


def test_evaluate_refuses_a_folder_without_checkpoint(workdir, capsys):
    (workdir / "empty").mkdir()
    assert main(["evaluate", "empty"]) == 1
    assert "expected last.safetensors" in capsys.readouterr().err


def test_ctrl_c_saves_a_checkpoint_and_exits_130(workdir, capsys, monkeypatch):
    interrupted = []

    def interrupt(self, trainer, epoch, logs):
        if epoch == 2 and not interrupted:
            interrupted.append(epoch)
            os.kill(os.getpid(), signal.SIGINT)  # deferred: the epoch finishes, then it stops

    monkeypatch.setattr(CSVLogger, "on_epoch_end", interrupt)
    assert main(["train", *TINY, "--epochs", "3", "--out", "run"]) == 130
    err = capsys.readouterr().err
    path = os.path.join("run", "interrupted.safetensors")
    assert f"checkpoint saved to {path}" in err
    ckpt = soma.load(path)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]["epochs"]) == 2
    assert main(["train", *TINY, "--epochs", "3", "--out", "run", "--resume", path]) == 0
    assert not os.path.exists(path)  # superseded by last.safetensors
    history = json.loads((workdir / "run" / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
