"""``soma train --model unet --data shapes``: a segmentation run reports pixel accuracy and IoU
and draws the predicted masks (on a small version of the shapes, so it runs in seconds)."""

import dataclasses
import functools
import json

import pytest

import soma
from soma.cli import main
from soma.data import datasets


@pytest.fixture
def small_shapes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small = functools.partial(datasets.load_shapes, n_train=48, n_test=16, size=32)
    entry = datasets.DATASETS.get("shapes")
    monkeypatch.setitem(
        datasets.DATASETS._entries, "shapes", dataclasses.replace(entry, builder=small)
    )
    return tmp_path


def test_train_unet_on_shapes_reports_iou_and_draws_masks(small_shapes, capsys):
    args = ["--model", "unet", "--data", "shapes", "--epochs", "1", "--batch-size", "16"]
    args += ["--model-arg", "width=4", "--model-arg", "depth=2", "--quiet", "--augment"]
    assert main(["train", *args, "--out", "run"]) == 0
    out = capsys.readouterr().out
    assert "mean_iou" in out and "test IoU per class: background" in out
    assert (small_shapes / "run" / "masks.png").exists()
    history = json.loads((small_shapes / "run" / "history.json").read_text())
    assert {"pixel_accuracy", "mean_iou", "val_mean_iou"} <= set(history["epochs"][0])
    assert 0 <= history["test"]["mean_iou"] <= 1
    ckpt = soma.load(small_shapes / "run" / "last.safetensors")
    assert ckpt["extra"]["task"] == "segmentation"
    assert main(["evaluate", "run"]) == 0
    assert "mean_iou" in capsys.readouterr().out
