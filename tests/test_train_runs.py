"""Runs you can trust (issue 14 §2): exact mid-epoch resume, refused mismatched resumes, a
deliberate rule for extending a run, run folders that are never mixed or left as debris."""

import math
import os
import random
import signal

import numpy as np
import pytest

import soma
from soma import nn
from soma.cli import main
from soma.data import DataLoader, TensorDataset
from soma.io import CheckpointError
from soma.train import Callback, Trainer, TrainingInterrupted

TINY = ["--model", "mlp", "--data", "spirals", "--batch-size", "64", "--quiet"]


def _dataset():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 120)
    x = (np.eye(4)[y] + rng.normal(scale=0.8, size=(120, 4))).astype(np.float32)
    return TensorDataset(x, y)


def _trainer(seed, callbacks=(), path=None):
    soma.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 4))
    opt = soma.optim.Adam(model.parameters(), lr=0.01)
    sched = soma.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4 * 8)
    loader = DataLoader(_dataset(), batch_size=16, shuffle=True)  # 8 batches per epoch
    trainer = Trainer(
        model,
        "cross_entropy",
        opt,
        scheduler=sched,
        scheduler_interval="batch",
        callbacks=list(callbacks),
        verbose=False,
        metrics=["accuracy", "f1"],
        interrupt_checkpoint=path,
    )
    return trainer, loader


class _SignalAt(Callback):
    def __init__(self, signum, epoch, batch):
        self.signum, self.at, self.epoch = signum, (epoch, batch), 0

    def on_epoch_begin(self, trainer, epoch):
        self.epoch = epoch

    def on_batch_end(self, trainer, batch, logs):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_run_interrupted_at_a_random_batch_resumes_bit_for_bit(tmp_path, seed, signum):
    trainer, loader = _trainer(0)
    straight = trainer.fit(loader, epochs=4)
    expected = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}

    rng = random.Random(seed)  # a random batch of a random epoch, reproducible per seed
    epoch, batch = rng.randint(1, 4), rng.randint(1, 8)
    path = tmp_path / "interrupted.safetensors"
    trainer, loader = _trainer(0, [_SignalAt(signum, epoch, batch)], path)
    with pytest.raises(TrainingInterrupted) as stop:
        trainer.fit(loader, epochs=4)
    assert stop.value.signum == signum and stop.value.checkpoint == path
    ckpt = soma.load(path)
    assert ckpt["epoch"] == epoch - 1 and ckpt["position"]["batch"] == batch
    soma.rand(50)  # disturb the global generator: the restore must put it back

    trainer, loader = _trainer(7)
    resumed = trainer.fit(loader, epochs=4, resume=path)
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)
    for key in ("loss", "accuracy", "f1", "lr"):
        assert resumed[key] == straight[key], key
    assert trainer.scheduler.last_epoch == 32  # 4 epochs of 8 batches: not one step more


def test_resume_refuses_another_optimizer_kind(tmp_path):
    trainer, loader = _trainer(0)
    trainer.fit(loader, epochs=1)
    trainer.save_checkpoint(tmp_path / "c.safetensors")
    model = trainer.model
    sgd = Trainer(model, "cross_entropy", soma.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(
        CheckpointError, match="optimizer: the checkpoint has Adam, resuming with SGD"
    ):
        sgd.fit(loader, epochs=2, resume=tmp_path / "c.safetensors")


# ---------------------------------------------------------------------- the command line
@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_resume_with_other_options_is_refused_listing_the_differences(workdir, capsys):
    assert main(["train", *TINY, "--epochs", "2", "--out", "run"]) == 0
    capsys.readouterr()
    argv = ["train", *TINY, "--epochs", "2", "--resume", "run/last.safetensors"]
    changed = ["--optimizer", "sgd", "--scheduler", "step", "--lr", "0.5"]
    assert main([*argv[:1], *argv[1:], *changed]) == 2
    err = capsys.readouterr().err
    assert "is a different run" in err
    assert "--optimizer: the run used 'adam', now 'sgd'" in err
    assert "--scheduler: the run used 'cosine', now 'step'" in err
    assert "--lr: the run used 0.003, now 0.5" in err
    other = ["train", "--model", "mlp", "--data", "moons", "--batch-size", "64", "--quiet"]
    assert main([*other, "--epochs", "2", "--resume", "run/last.safetensors"]) == 2
    assert "--data: the run used 'spirals', now 'moons'" in capsys.readouterr().err


def test_a_larger_epochs_extends_the_run_with_the_stated_schedule_rule(workdir, capsys):
    assert main(["train", *TINY, "--epochs", "2", "--out", "run"]) == 0
    assert main(["train", *TINY, "--resume", "run"]) == 0  # without --epochs: the run's 2
    assert "extending" not in capsys.readouterr().err
    assert main(["train", *TINY, "--epochs", "4", "--resume", "run"]) == 0
    err = capsys.readouterr().err
    assert "extending the run from 2 to 4 epochs" in err
    history = soma.load("run/last.safetensors")["history"]["epochs"]
    # the rule (docs/TRAINING.md): the cosine schedule is re-planned for 4 epochs and continues
    # at the step reached, so epoch 3 starts at the 4-epoch curve's rate at step 2·12
    steps = 12  # 720 spirals training samples in batches of 64
    expected = 3e-3 * (1 + math.cos(math.pi * 2 * steps / (4 * steps))) / 2
    assert [e["epoch"] for e in history] == [1, 2, 3, 4]
    assert history[2]["lr"] == pytest.approx(expected, rel=1e-12)
    assert history[3]["lr"] < history[2]["lr"]


def test_an_output_folder_with_another_run_is_refused_unless_overwrite(workdir, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--out", "run"]) == 0
    assert main(["train", *TINY, "--epochs", "1", "--val-split", "0", "--out", "run"]) == 2
    assert "holds another run" in capsys.readouterr().err
    assert (
        main(["train", *TINY, "--epochs", "1", "--val-split", "0", "--out", "run", "--overwrite"])
        == 0
    )
    assert not os.path.exists("run/best.safetensors")  # the old run's best is gone, not mixed in
    assert "run/best.safetensors" not in capsys.readouterr().out


def test_a_failed_start_leaves_no_folder_and_stale_temp_files_are_removed(workdir, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--model-arg", "bogus=1", "--out", "new"]) == 2
    assert not os.path.exists("new")
    os.makedirs("old")
    (workdir / "old" / ".last.safetensors.abc123.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", *TINY, "--epochs", "1", "--out", "old"]) == 0
    assert [n for n in os.listdir("old") if n.endswith(".tmp")] == []


def test_resume_differences_name_every_changed_option():
    from soma.train.run_folder import resume_differences

    saved = {"model": "lenet5", "model_kwargs": {}, "data": "digits", "optimizer": "adam",
             "lr": 3e-3, "scheduler": "cosine", "batch_size": 32, "val_split": 0.1,
             "augment": False, "seed": 0, "epochs": 4}  # fmt: skip
    now = {**saved, "model": "mlp", "model_kwargs": {"hidden": 8}, "batch_size": 64, "epochs": 2}
    assert resume_differences(saved, now) == [
        "--model: the run used 'lenet5', now 'mlp'",
        "--model-arg: the run used {}, now {'hidden': 8}",
        "--batch-size: the run used 32, now 64",
        "--epochs: the run was planned for 4, now 2 (a resumed run may only be extended)",
    ]
    assert resume_differences(saved, {**saved, "epochs": 6}) == []  # extending is allowed
