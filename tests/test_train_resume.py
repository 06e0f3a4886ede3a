"""Resuming: 2 epochs + checkpoint + 2 resumed epochs give exactly the weights of 4 straight.

Everything random must come back: the shuffling order (global generator or the loader's own),
dropout masks (global generator), and the scheduler's and optimizer's state.
"""

import numpy as np
import pytest

import soma
from soma import nn
from soma.data import DataLoader, TensorDataset
from soma.io import CheckpointError
from soma.train import EarlyStopping, ModelCheckpoint, Trainer


def _dataset():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 120)
    x = (np.eye(4)[y] + rng.normal(scale=0.8, size=(120, 4))).astype(np.float32)
    return TensorDataset(x, y)


def _setup(seed, own_generator):
    soma.manual_seed(seed)  # a different seed for the resumed objects: the restore must fix all
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 4))
    opt = soma.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    gen = soma.Generator().manual_seed(seed) if own_generator else None
    loader = DataLoader(_dataset(), batch_size=16, shuffle=True, generator=gen)
    return model, opt, soma.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), loader


def _trainer(model, opt, sched, callbacks=()):
    return Trainer(
        model, "cross_entropy", opt, scheduler=sched, callbacks=list(callbacks), verbose=False
    )


@pytest.mark.parametrize("own_generator", [False, True])
def test_two_plus_two_epochs_equal_four(tmp_path, own_generator):
    model, opt, sched, loader = _setup(0, own_generator)
    straight = _trainer(model, opt, sched).fit(loader, epochs=4)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched, loader = _setup(0, own_generator)
    _trainer(model, opt, sched, [ModelCheckpoint(tmp_path, monitor="loss")]).fit(loader, epochs=2)
    soma.rand(100)  # disturb the global generator between the runs

    model, opt, sched, loader = _setup(1, own_generator)
    resumed = _trainer(model, opt, sched).fit(
        loader, epochs=4, resume=tmp_path / "last.safetensors"
    )
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)
    assert resumed["epoch"] == [1, 2, 3, 4]
    assert resumed["loss"] == straight["loss"]
    assert resumed["lr"] == [0.2, 0.1, 0.05, 0.025] and sched.last_epoch == 4


def test_callback_state_survives_resume(tmp_path):
    model, opt, sched, loader = _setup(0, False)
    es = EarlyStopping(monitor="loss", patience=5)
    _trainer(model, opt, sched, [es, ModelCheckpoint(tmp_path, monitor="loss")]).fit(
        loader, epochs=2
    )
    es2 = EarlyStopping(monitor="loss", patience=5)
    model, opt, sched, loader = _setup(0, False)
    trainer = _trainer(model, opt, sched, [es2])
    trainer.fit(loader, epochs=2, resume=tmp_path / "last.safetensors")  # nothing left to do
    assert trainer.epoch == 2 and es2.best_epoch == es.best_epoch and es2.wait == es.wait


def test_resume_refuses_another_architecture(tmp_path):
    model, opt, sched, loader = _setup(0, False)
    _trainer(model, opt, sched, [ModelCheckpoint(tmp_path, monitor="loss")]).fit(loader, epochs=1)
    other = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))
    opt2 = soma.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(
        CheckpointError, match=r"0.weight: checkpoint has shape \(16, 4\), model has \(8, 4\)"
    ):
        Trainer(other, "cross_entropy", opt2, verbose=False).fit(
            loader, epochs=2, resume=tmp_path / "last.safetensors"
        )
