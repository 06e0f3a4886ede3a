"""Plots are PNG files drawn without a display; matplotlib stays out of ``import soma``."""

import subprocess
import sys

import numpy as np
import pytest

from soma.inspection import plot_confusion_matrix, plot_history
from soma.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def _history():
    return History(
        [
            {
                "epoch": e,
                "loss": 1 / e,
                "accuracy": 1 - 0.5 / e,
                "val_loss": 1.2 / e,
                "val_accuracy": 1 - 0.6 / e,
                "lr": 0.1 * 0.5**e,
                "time": 1.0,
            }
            for e in range(1, 5)
        ]
    )


def test_history_plot(tmp_path):
    path = plot_history(_history(), tmp_path / "sub" / "curves.png")
    assert open(path, "rb").read(8) == PNG
    path = plot_history(_history().to_dict(), tmp_path / "c2.png", keys=["loss"])
    assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="no epochs"):
        plot_history(History(), tmp_path / "empty.png")


def test_confusion_matrix_plot(tmp_path):
    cm = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    for normalize in (False, True):
        path = plot_confusion_matrix(
            cm, tmp_path / f"cm{normalize}.png", class_names="abc", normalize=normalize
        )
        assert open(path, "rb").read(8) == PNG
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)), tmp_path / "bad.png")


def test_importing_soma_and_train_does_not_import_matplotlib_or_tqdm():
    code = (
        "import sys, soma, soma.train, soma.inspection, soma.io, soma.cli; "
        "print([m for m in ('matplotlib', 'tqdm', 'safetensors', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
