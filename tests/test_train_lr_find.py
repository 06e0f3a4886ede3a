"""The learning-rate finder: a sensible suggestion on a toy problem, and no trace left behind."""

import numpy as np
import pytest

import soma
from soma import nn
from soma.train import lr_find


def _regression(n=512):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * rng.normal(size=(n, 1))).astype(
        np.float32
    )
    return soma.tensor(x), soma.tensor(y)


def test_suggestion_on_linear_regression():
    # Full batches, so the loss is not noisy. Plain gradient descent on this MSE is stable below
    # lr = 2/λmax(2·E[xxᵀ]) ≈ 1, and the loss falls fastest a decade or so below that; the sweep
    # must suggest a rate there and stop once the loss blows up.
    x, y = _regression()
    result = lr_find(
        nn.Linear(4, 1),
        (x, y),
        loss="mse",
        optimizer="sgd",
        start_lr=1e-5,
        end_lr=10,
        num_iter=100,
        batch_size=512,
    )
    assert result.diverged
    assert 1.0 < result.lrs[-1] < 10
    steepest = result.suggest(rule="steepest")
    assert 1e-2 < steepest < 0.5
    i = result.lrs.index(steepest)
    assert result.smoothed[i + 5] < result.smoothed[i - 5]  # the loss is falling there
    n = len(result.lrs)
    first, last = min(10, n // 10), n - min(5, n // 20)  # the ends the rules skip
    lowest = result.lrs[int(np.argmin(result.smoothed[first:last])) + first]
    assert result.suggestion == pytest.approx(lowest / 10)  # the default rule: a tenth of it
    assert len(result.lrs) == len(result.losses) == len(result.smoothed)


def test_smoothing_is_bias_corrected():
    x, y = _regression(64)
    result = lr_find(
        nn.Linear(4, 1),
        (x, y),
        loss="mse",
        start_lr=1e-9,
        end_lr=1e-8,
        num_iter=5,
        smooth=0.9,
        batch_size=64,
    )  # rates too small to move: the loss is flat
    assert result.smoothed[0] == pytest.approx(result.losses[0], rel=1e-6)
    assert result.smoothed == pytest.approx(result.losses, rel=1e-4)


def test_model_and_optimizer_are_restored():
    x, y = _regression()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = soma.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):  # give the optimizer some state to protect
        opt.zero_grad()
        soma.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    model.eval()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state_before = {
        i: {k: np.array(v) for k, v in s.items()} for i, s in opt.state_dict()["state"].items()
    }
    lr_find(model, (x, y), loss="mse", optimizer=opt, num_iter=30, batch_size=16)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    after = opt.state_dict()
    assert after["param_groups"][0]["lr"] == 0.01
    for i, s in after["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(np.array(v), state_before[i][k], err_msg=f"{i}.{k}")
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_optimizer_class_and_argument_checks():
    x, y = _regression(64)
    result = lr_find(
        nn.Linear(4, 1), (x, y), loss="mse", optimizer=soma.optim.SGD, num_iter=40, batch_size=8
    )
    assert len(result.lrs) > 3 and result.lrs[0] == pytest.approx(1e-7)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(nn.Linear(4, 1), (x, y), loss="mse", start_lr=1.0, end_lr=0.1)


def test_plot_writes_a_png(tmp_path):
    x, y = _regression(128)
    result = lr_find(nn.Linear(4, 1), (x, y), loss="mse", num_iter=40, batch_size=8)
    path = result.plot(tmp_path / "lr.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_suggestion_trains_where_the_steepest_slope_failed():
    """One of the measured cases (docs/RUNS.md: MLP, circles, SGD, seed 1): the steepest-slope
    rate (1.07) leaves the MLP at chance, a tenth of the minimum-loss rate trains it."""
    from soma.data import DataLoader
    from soma.train import evaluate, fit
    from soma.train.workflow import build_model, make_optimizer, prepare_data

    soma.manual_seed(1)
    data = prepare_data("circles", "mlp", seed=1)
    model, _ = build_model("mlp", data.num_classes, data.input_shape)
    loader = DataLoader(data.train, batch_size=32, shuffle=True)
    result = lr_find(model, loader, "cross_entropy", make_optimizer("sgd", model))
    accuracy = {}
    for rule in ("minimum", "steepest"):
        soma.manual_seed(1)
        model, _ = build_model("mlp", data.num_classes, data.input_shape)
        optimizer = make_optimizer("sgd", model, result.suggest(rule=rule))
        fit(model, loader, "cross_entropy", optimizer, 10, verbose=False, nan_guard=False)
        accuracy[rule] = evaluate(model, DataLoader(data.test, batch_size=256))["accuracy"]
    assert result.suggestion == result.suggest(rule="minimum")
    assert accuracy["minimum"] >= 0.95 and accuracy["steepest"] < 0.6
