"""Each callback's behaviour, through ``fit`` where it matters and directly where it is clearer."""

import csv
import json
import math

import numpy as np
import pytest

import soma
from soma import nn
from soma.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    GradientMonitor,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    Trainer,
    WeightPenalty,
    fit,
)
from soma.train.history import History


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (np.eye(3)[y] * 2 + rng.normal(scale=0.7, size=(n, 3))).astype(np.float32)
    return soma.tensor(x), soma.tensor(y)


def _model():
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3))


class FakeTrainer:
    """Just what the epoch-end logic of EarlyStopping reads."""

    def __init__(self, model):
        self.model, self.epoch, self.reason = model, 0, None

    def stop(self, reason, failed=False):
        self.reason = reason


# ---------------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_min_delta_and_restore():
    model = nn.Linear(1, 1)
    trainer = FakeTrainer(model)
    es = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.05, restore_best_weights=True)
    # 0.48 is better than 0.5 but by less than min_delta: it does not count
    for epoch, value in enumerate([1.0, 0.5, 0.48, 0.7], start=1):
        model.weight.data.fill_(float(epoch))
        trainer.epoch = epoch
        es.on_epoch_end(trainer, epoch, {"val_loss": value})
        assert (trainer.reason is not None) == (epoch == 4)
    assert "has not improved for 2 epochs (best 0.5 at epoch 2)" in trainer.reason
    es.on_train_end(trainer)
    assert model.weight.item() == 2.0


def test_early_stopping_max_mode_for_accuracy():
    trainer = FakeTrainer(nn.Linear(1, 1))
    es = EarlyStopping(monitor="val_accuracy", patience=1)  # 'auto' picks max for accuracy
    es.on_epoch_end(trainer, 1, {"val_accuracy": 0.5})
    es.on_epoch_end(trainer, 2, {"val_accuracy": 0.6})
    assert trainer.reason is None
    es.on_epoch_end(trainer, 3, {"val_accuracy": 0.55})
    assert trainer.reason is not None


def test_early_stopping_ends_fit():
    x, y = _data()
    es = EarlyStopping(monitor="val_loss", patience=3)
    h = fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.0,
        epochs=20,
        val_data=(x, y),
        callbacks=[es],
        verbose=False,
    )  # lr 0: never improves after epoch 1
    assert len(h) == 4 and es.stopped_epoch == 4


def test_monitor_falls_back_to_training_value_without_validation(capsys):
    x, y = _data()
    es = EarlyStopping(patience=1)
    fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.0,
        epochs=5,
        shuffle=False,  # lr 0 and one order: the same training loss every epoch, to the bit
        callbacks=[es],
        verbose=False,
    )
    assert "monitoring 'loss' instead" in capsys.readouterr().err
    assert es.stopped_epoch == 2


# ---------------------------------------------------------------------- ModelCheckpoint
class WeightsPerEpoch(Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.weights[epoch] = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_model_checkpoint_keeps_best_and_last(tmp_path):
    x, y = _data()
    xv, yv = _data(n=60, seed=1)
    record = WeightsPerEpoch()
    ckpt = ModelCheckpoint(tmp_path / "run", monitor="val_loss")
    h = fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.5,
        epochs=6,
        val_data=(xv, yv),
        callbacks=[ckpt, record],
        verbose=False,
    )
    best_epoch = int(np.argmin(h["val_loss"])) + 1
    assert ckpt.best_epoch == best_epoch and ckpt.best_score == min(h["val_loss"])
    best = soma.load(ckpt.best_path)
    last = soma.load(ckpt.last_path)
    assert best["epoch"] == best_epoch and last["epoch"] == 6
    for k, v in best["model"].items():
        np.testing.assert_array_equal(v.numpy(), record.weights[best_epoch][k])
    for k, v in last["model"].items():
        np.testing.assert_array_equal(v.numpy(), record.weights[6][k])
    assert History.from_dict(last["history"])["val_loss"] == h["val_loss"]


# ---------------------------------------------------------------------- LR schedulers
class HalveEveryStep:
    """A minimal scheduler (the same interface as soma.optim.lr_scheduler's)."""

    def __init__(self, optimizer):
        self.optimizer, self.steps = optimizer, 0

    def step(self):
        self.steps += 1
        for g in self.optimizer.param_groups:
            g["lr"] /= 2

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


class Plateau:
    def __init__(self):
        self.seen = []

    def step(self, metrics, epoch=None):
        self.seen.append(metrics)


@pytest.mark.parametrize("interval, steps", [("epoch", 3), ("batch", 3 * 4)])
def test_scheduler_steps_per_epoch_or_batch(interval, steps):
    x, y = _data(n=64)
    model = _model()
    opt = soma.optim.SGD(model.parameters(), lr=1.0)
    sched = HalveEveryStep(opt)
    h = fit(
        model,
        (x, y),
        loss="cross_entropy",
        optimizer=opt,
        epochs=3,
        batch_size=16,
        scheduler=sched,
        scheduler_interval=interval,
        verbose=False,
    )
    assert sched.steps == steps
    per_epoch = 1 if interval == "epoch" else 4
    assert h["lr"] == [1.0, 0.5**per_epoch, 0.25**per_epoch]  # the rate each epoch started with


def test_reduce_lr_on_plateau_through_fit():
    x, y = _data(n=32)
    model = _model()
    opt = soma.optim.SGD(model.parameters(), lr=0.5)
    plateau = soma.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.1, patience=0, threshold=10.0
    )
    h = fit(
        model,
        (x, y),
        loss="cross_entropy",
        optimizer=opt,
        epochs=3,
        scheduler=plateau,
        verbose=False,
    )
    assert h["lr"] == pytest.approx([0.5, 0.05, 0.005])  # no 10x improvement: cut every epoch


def test_plateau_scheduler_gets_the_monitored_value():
    x, y = _data(n=32)
    plateau = Plateau()
    h = fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        epochs=3,
        val_data=(x, y),
        verbose=False,
        callbacks=[LRSchedulerCallback(plateau, monitor="val_loss")],
    )
    assert plateau.seen == h["val_loss"]
    with pytest.raises(ValueError, match="needs a monitored value"):
        LRSchedulerCallback(Plateau(), interval="batch")


# ---------------------------------------------------------------------- penalties, NaN, gradients
def test_weight_penalty_adds_l1_and_l2_of_the_weights_only():
    model = _model()
    penalty = WeightPenalty(l1=0.01, l2=0.1)
    weights = [model[0].weight.numpy(force=True), model[2].weight.numpy(force=True)]
    expected = sum(0.01 * np.abs(w).sum() + 0.1 * (w**2).sum() for w in weights)
    assert float(penalty.penalty(model)) == pytest.approx(expected, rel=1e-5)
    loss = penalty.on_loss(type("T", (), {"model": model})(), soma.tensor(1.0))
    assert float(loss) == pytest.approx(1 + expected, rel=1e-5)
    loss.backward()  # d/dw (λ₁|w| + λ₂w²) = λ₁ sign(w) + 2λ₂w
    w = weights[0]
    np.testing.assert_allclose(
        model[0].weight.grad.numpy(), 0.01 * np.sign(w) + 0.2 * w, rtol=1e-5
    )
    assert model[0].bias.grad is None


def test_l2_penalty_shrinks_weights_in_training():
    x, y = _data()
    norms = []
    for l2 in (0.0, 0.1):
        soma.manual_seed(0)
        model = _model()
        fit(
            model,
            (x, y),
            loss="cross_entropy",
            optimizer="sgd",
            lr=0.1,
            epochs=5,
            verbose=False,
            callbacks=[WeightPenalty(l2=l2)],
        )
        norms.append(float((model[0].weight ** 2).sum()))
    assert norms[1] < 0.7 * norms[0]


def test_nan_guard_names_epoch_batch_and_value_and_keeps_weights_finite(capsys):
    x, y = _data(n=64)
    x.numpy()[40] = np.nan  # batch 3 of 4 (batch size 16), in every epoch
    model = _model()
    trainer = Trainer(model, "cross_entropy", "sgd", lr=0.1, verbose="plain")
    h = trainer.fit((x, y), epochs=3, batch_size=16, shuffle=False)
    assert trainer.failed and len(h) == 0
    assert "non-finite loss (nan) at epoch 1, batch 3" in trainer.stop_reason
    assert "epoch 1, batch 3" in capsys.readouterr().err
    assert all(np.isfinite(p.numpy(force=True)).all() for p in model.parameters())


def test_gradient_monitor_names_vanishing_and_exploding_layers(capsys):
    x, y = _data(n=32)
    model = _model()
    model[2].weight.data.fill_(
        0.0
    )  # the output ignores the hidden layer: layer 0 gets no gradient
    monitor = GradientMonitor(explode_above=1e3, every=1)
    fit(
        model,
        (x, y),
        loss=lambda o, t: soma.nn.functional.cross_entropy(o, t) * 1e6,
        optimizer="sgd",
        lr=0.0,
        epochs=1,
        callbacks=[monitor],
        verbose=False,
    )
    epoch, vanishing, exploding = monitor.reports[0]
    assert vanishing == ["0"] and exploding == ["2"]
    assert monitor.last_report.vanishing == ["0"]
    assert "epoch 1: vanishing gradients in 0; exploding gradients in 2" in capsys.readouterr().err


def test_gradient_clipping_by_norm_and_by_value():
    x, y = _data(n=32)
    seen = []

    class Record(Callback):
        def on_after_backward(self, trainer):
            grads = [p.grad.numpy() for p in trainer.model.parameters()]
            seen.append(
                (np.sqrt(sum((g**2).sum() for g in grads)), max(np.abs(g).max() for g in grads))
            )

    fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        lr=0.1,
        epochs=1,
        batch_size=8,
        clip_grad_norm=0.01,
        callbacks=[Record()],
        verbose=False,
    )  # fit's clipping runs before user callbacks
    assert len(seen) == 4 and all(norm == pytest.approx(0.01, rel=1e-3) for norm, _ in seen)
    seen.clear()
    clip = GradientClipping(clip_value=1e-3)
    fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        lr=0.1,
        epochs=1,
        batch_size=8,
        callbacks=[clip, Record()],
        verbose=False,
    )
    assert all(largest <= 1e-3 + 1e-9 for _, largest in seen)
    assert clip.last_norm is None
    with pytest.raises(ValueError, match="exactly one of max_norm and clip_value"):
        GradientClipping()


# ---------------------------------------------------------------------- loggers
def test_csv_and_json_loggers_write_the_history(tmp_path):
    x, y = _data(n=32)
    h = fit(
        _model(),
        (x, y),
        loss="cross_entropy",
        epochs=3,
        val_data=(x, y),
        verbose=False,
        callbacks=[CSVLogger(tmp_path / "h.csv"), JSONLogger(tmp_path / "h.json")],
    )
    with open(tmp_path / "h.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(h["val_loss"])
    data = json.loads((tmp_path / "h.json").read_text())
    assert [e["loss"] for e in data["epochs"]] == h["loss"]
    assert all(math.isfinite(e["time"]) for e in data["epochs"])
