"""fit / evaluate / predict: modes, gradients, data forms, history, progress output."""

import json

import numpy as np
import pytest

import soma
from soma import nn
from soma.data import DataLoader, TensorDataset, load
from soma.models import get_model
from soma.train import History, Trainer, evaluate, fit, predict


def _blobs(n=200, seed=0):
    """Three well-separated 2-D clusters: any working loop learns them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    x = (centers[y] + rng.normal(scale=0.5, size=(n, 2))).astype(np.float32)
    return soma.tensor(x), soma.tensor(y)


def _mlp():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))


class Spy(nn.Module):
    """Records the mode and grad mode of every call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, soma.is_grad_enabled()))
        return self.inner(x)


def test_fit_learns_and_records_history():
    x, y = _blobs()
    h = fit(
        _mlp(),
        (x, y),
        loss="cross_entropy",
        optimizer="adam",
        lr=0.05,
        epochs=5,
        val_data=(x, y),
        metrics=["accuracy", "f1"],
        batch_size=32,
        verbose=False,
    )
    assert len(h) == 5 and h["epoch"] == [1, 2, 3, 4, 5]
    assert h["val_accuracy"][-1] > 0.95
    assert h["loss"][-1] < h["loss"][0]
    assert set(h.keys()) >= {
        "loss",
        "accuracy",
        "f1",
        "val_loss",
        "val_accuracy",
        "val_f1",
        "lr",
        "time",
    }
    assert h["lr"] == [0.05] * 5
    back = History.from_dict(json.loads(h.to_json()))
    assert back["val_loss"] == h["val_loss"]


def test_training_loss_is_the_sample_mean_over_the_epoch():
    x, y = _blobs(n=50)
    model = _mlp()
    h = fit(
        model,
        (x, y),
        loss="cross_entropy",
        optimizer="sgd",
        lr=0.0,
        epochs=1,
        batch_size=16,
        shuffle=False,
        metrics=[],
        verbose=False,
    )  # lr 0: weights fixed, batches 16+16+16+2
    assert h["loss"][0] == pytest.approx(
        evaluate(model, (x, y), loss="cross_entropy", metrics=[])["loss"], rel=1e-5
    )


def test_modes_and_grad_recording():
    x, y = _blobs(n=64)
    spy = Spy(_mlp())
    spy.eval()
    fit(spy, (x, y), loss="cross_entropy", epochs=1, val_data=(x, y), batch_size=32, verbose=False)
    assert (True, True) in spy.calls and (False, False) in spy.calls  # train step / validation
    assert set(spy.calls) == {(True, True), (False, False)}
    spy.calls.clear()
    spy.train()
    evaluate(spy, (x, y))
    assert set(spy.calls) == {(False, False)} and spy.training  # mode restored
    out = predict(spy, x, batch_size=10)
    assert tuple(out.shape) == (64, 3) and not out.requires_grad


def test_data_forms_give_the_same_result():
    x, y = _blobs(n=40)
    model = _mlp()
    expected = evaluate(model, (x, y), loss="cross_entropy", metrics=["accuracy"])
    dataset = TensorDataset(x, y)
    for data in (dataset, DataLoader(dataset, batch_size=7), [(x[:20], y[:20]), (x[20:], y[20:])]):
        got = evaluate(model, data, loss="cross_entropy", metrics=["accuracy"])
        assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
        assert got["accuracy"] == expected["accuracy"]
    np.testing.assert_allclose(
        predict(model, dataset).numpy(), model(x).detach().numpy(), rtol=1e-5
    )


def test_named_things_are_checked():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        Trainer(_mlp(), loss="hinge")
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        Trainer(_mlp(), loss="cross_entropy", optimizer="lion")
    with pytest.raises(TypeError, match="training data must be"):
        fit(_mlp(), 42, loss="cross_entropy", verbose=False)


def test_plain_progress_prints_one_line_per_epoch(capsys):
    x, y = _blobs(n=32)
    fit(
        _mlp(),
        (x, y),
        loss="cross_entropy",
        epochs=2,
        val_data=(x, y),
        metrics=["accuracy"],
        verbose="plain",
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith("epoch 1/2  loss ")
        and "val_accuracy" in lines[1]
        and "time" in lines[1]
    )


def test_tqdm_progress_and_quiet_mode(capsys):
    x, y = _blobs(n=32)
    # verbose="tqdm" asks for the bar even off a terminal (True gives plain lines there)
    fit(_mlp(), (x, y), loss="cross_entropy", epochs=1, batch_size=8, verbose="tqdm")
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "4/4" in err and "loss" in err
    fit(_mlp(), (x, y), loss="cross_entropy", epochs=1, verbose=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_plain_fallback_without_tqdm(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    x, y = _blobs(n=32)
    fit(_mlp(), (x, y), loss="cross_entropy", epochs=1, verbose=True)
    assert capsys.readouterr().out.startswith("epoch 1/1  loss")


def test_digits_mlp_reaches_real_accuracy():
    splits = load("digits", val_split=0.1, seed=0)
    model = get_model("mlp", num_classes=10, in_channels=1, input_size=(8, 8), hidden_sizes=(64,))
    h = fit(
        model,
        splits.loader("train", batch_size=32),
        loss="cross_entropy",
        optimizer="adam",
        lr=3e-3,
        epochs=6,
        val_data=splits.val,
        metrics=["accuracy"],
        verbose=False,
    )
    test = evaluate(model, splits.test, loss="cross_entropy", metrics=["accuracy", "f1"])
    assert h["val_accuracy"][-1] > 0.93
    assert test["accuracy"] > 0.94 and test["f1"] > 0.93
