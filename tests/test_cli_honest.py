"""A command line and API that say what happened (issue 14 §3): extras checked first, plain
lines off a terminal, --version and defaults in --help, divergence warned about and failures
raised, a run loaded back in one call, PyTorch files pointed to their reader, usual permissions.
"""

import argparse
import os
import stat
import sys
import zipfile

import numpy as np
import pytest

import soma
from soma.cli import build_parser, main
from soma.io import CheckpointError
from soma.train import Trainer, TrainingFailed, fit

TINY = ["--model", "mlp", "--data", "spirals", "--epochs", "1", "--batch-size", "64"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_missing_extra_fails_before_any_training(workdir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    assert main(["train", *TINY, "--out", "run"]) == 1
    captured = capsys.readouterr()
    assert "pip install soma[io]" in captured.err
    assert "Total params" not in captured.out and "epoch 1" not in captured.out
    assert not os.path.exists("run")  # and the failed start left no folder


def test_off_a_terminal_the_progress_is_plain_lines_per_epoch(workdir, capsys):
    argv = ["train", *TINY, "--epochs", "2", "--val-split", "0", "--out", "run"]
    assert main(argv) == 0  # under pytest the output is not a terminal
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert "\r" not in captured.err + captured.out and "batch/s" not in captured.err


def test_version_and_defaults_in_every_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"soma {soma.__version__}"
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            default = action.default
            if default in (None, argparse.SUPPRESS) or default is False or default == []:
                continue
            shown = action.help and "default" in action.help
            assert shown or f"(default: {default})" in text, f"{name} {action.option_strings}"
    train_help = subparsers.choices["train"].format_help().replace("\n", " ")
    train_help = " ".join(train_help.split())
    assert "train-images-idx3-ubyte" in train_help and "cifar-10-batches-py" in train_help


def _regression(n=64):
    x = soma.randn(n, 3)
    return x, x.sum(1, keepdim=True) * 10


def test_a_diverging_loss_warns_and_a_nan_raises_from_fit():
    soma.manual_seed(0)
    model = soma.nn.Linear(3, 1)
    with pytest.warns(RuntimeWarning, match="the training loss is diverging"):
        with pytest.raises(TrainingFailed, match=r"non-finite loss .* at epoch \d+, batch \d+"):
            fit(model, _regression(), loss="mse", optimizer="sgd", lr=5.0, epochs=50,
                batch_size=16, metrics=[], verbose=False)  # fmt: skip


def test_trainer_fit_returns_a_history_flagged_as_failed():
    soma.manual_seed(0)
    trainer = Trainer(soma.nn.Linear(3, 1), "mse", "sgd", lr=5.0, metrics=[], verbose=False)
    with pytest.warns(RuntimeWarning):
        history = trainer.fit(_regression(), epochs=50, batch_size=16)
    assert history.failed and "non-finite loss" in history.stop_reason


def test_the_cli_names_the_layer_instead_of_numpy_warnings(workdir, capsys):
    argv = ["train", *TINY, "--optimizer", "sgd", "--lr", "1e6", "--out", "nan", "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "soma train: warning: the training loss is diverging" in err
    assert "first non-finite output in layer 'layers." in err
    assert "overflow encountered" not in err and ".py:" not in err


def test_load_model_returns_the_trained_model_with_its_weights(workdir, capsys):
    assert main(["train", *TINY, "--out", "run", "--quiet"]) == 0
    assert "epoch 1/1" not in capsys.readouterr().out  # --quiet still means quiet
    model = soma.load_model("run")
    saved = soma.load("run/last.safetensors")["model"]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), saved[key].numpy(), err_msg=key)
    assert not model.training and model.soma_run["data"] == "spirals"
    best = soma.load_model("run/best.safetensors")
    assert type(best).__name__ == "MLP"


def test_soma_load_reads_a_torch_save_zip_and_points_a_legacy_pickle_to_its_reader(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:  # torch.save's container (issue 11: readable)
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
    assert soma.load(path) == {}
    legacy = tmp_path / "legacy.pt"  # a bare pickle (torch.save's pre-1.6 format)
    legacy.write_bytes(b"\x80\x02}q\x00." + b"\x00" * 16)
    with pytest.raises(CheckpointError, match=r"soma.io.load_pytorch_checkpoint\(path\)"):
        soma.load(legacy)


def test_lenet5_has_a_constructor_like_every_other_model():
    assert isinstance(soma.models.lenet5(num_classes=3), soma.models.LeNet5)
    assert soma.models.lenet5(num_classes=3).classifier[-1].out_features == 3


def test_files_written_by_a_run_get_the_usual_permissions(workdir, capsys):
    previous = os.umask(0o022)
    try:
        assert main(["train", *TINY, "--out", "run", "--quiet"]) == 0
        soma.save({"w": soma.ones(2)}, "w.safetensors")
    finally:
        os.umask(previous)
    paths = [os.path.join("run", n) for n in os.listdir("run")] + ["w.safetensors"]
    modes = {p: stat.S_IMODE(os.stat(p).st_mode) for p in paths}
    assert set(modes.values()) == {0o644}, modes


def test_fit_off_a_terminal_prints_plain_epoch_lines(capsys):
    x, y = _regression(32)
    fit(soma.nn.Linear(3, 1), (x, y), loss="mse", optimizer="sgd", lr=0.01, epochs=2,
        metrics=[], verbose=True)  # fmt: skip
    captured = capsys.readouterr()
    assert [line.split()[:2] for line in captured.out.splitlines()] == [
        ["epoch", "1/2"],
        ["epoch", "2/2"],
    ]
    assert "\r" not in captured.err


def test_a_soma_file_whose_header_length_starts_with_0x80_still_loads():
    import io

    for k in range(400):  # grow the header until its length's first byte is 0x80
        buffer = io.BytesIO()
        soma.save({"w": soma.ones(2), "s": "x" * k}, buffer)
        if buffer.getvalue()[:1] == b"\x80":
            break
    assert buffer.getvalue()[:1] == b"\x80"
    assert soma.load(io.BytesIO(buffer.getvalue()))["s"] == "x" * k
