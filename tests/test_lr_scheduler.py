"""soma.optim.lr_scheduler side by side with torch.optim.lr_scheduler, step by step."""

import copy
import json
import warnings

import numpy as np
import pytest

import soma
from tests.torch_oracle import torch


class Scale:
    """A callable object (its attributes are saved in state dicts, unlike a lambda's)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate**epoch


# name -> (optimizer kind, steps, factory(lr_scheduler module, optimizer))
CASES = {
    "StepLR": ("sgd", 25, lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": ("sgd", 15, lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": ("sgd", 30, lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("sgd", 45, lambda m, o: m.CosineAnnealingLR(o, 10, eta_min=1e-3)),
    "CosineAnnealingLR-odd": ("adam", 30, lambda m, o: m.CosineAnnealingLR(o, T_max=7)),
    "WarmRestarts": ("sgd", 40, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5)),
    "WarmRestarts-mult": (
        "sgd",
        60,
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    ),
    "CyclicLR-triangular": (
        "sgd",
        50,
        lambda m, o: m.CyclicLR(
            o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=4, step_size_down=6
        ),
    ),
    "CyclicLR-triangular2": (
        "sgd",
        50,
        lambda m, o: m.CyclicLR(
            o, 0.01, [0.1, 0.2], step_size_up=5, mode="triangular2", base_momentum=0.7
        ),
    ),
    "CyclicLR-exp_range": (
        "sgd",
        50,
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.97),
    ),
    "CyclicLR-adam": (
        "adam",
        40,
        lambda m, o: m.CyclicLR(
            o, 0.001, 0.01, step_size_up=4, base_momentum=0.85, max_momentum=0.95
        ),
    ),
    "CyclicLR-scale_fn": (
        "sgd",
        40,
        lambda m, o: m.CyclicLR(
            o,
            0.01,
            0.1,
            step_size_up=2,
            scale_fn=Scale(0.9),
            scale_mode="iterations",
            cycle_momentum=False,
        ),
    ),
    "CyclicLR-lambda": (
        "sgd",
        40,
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda c: 1 / c),
    ),
    "OneCycleLR-cos": (
        "sgd",
        100,
        lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=100),
    ),
    "OneCycleLR-linear": (
        "sgd",
        60,
        lambda m, o: m.OneCycleLR(
            o, 0.1, epochs=6, steps_per_epoch=10, anneal_strategy="linear", pct_start=0.25
        ),
    ),
    "OneCycleLR-three_phase": (
        "adam",
        50,
        lambda m, o: m.OneCycleLR(
            o, 0.05, total_steps=50, three_phase=True, div_factor=10.0, final_div_factor=100.0
        ),
    ),
    "OneCycleLR-no_momentum": (
        "sgd",
        30,
        lambda m, o: m.OneCycleLR(o, 0.05, total_steps=30, cycle_momentum=False, pct_start=0.5),
    ),
    "LinearLR": (
        "sgd",
        12,
        lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
    ),
    "LinearLR-down": ("sgd", 12, lambda m, o: m.LinearLR(o, 1.0, 0.1, total_iters=8)),
    "ConstantLR": ("sgd", 10, lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=4)),
    "LambdaLR": ("sgd", 20, lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, Scale(0.8)])),
    "MultiplicativeLR": ("sgd", 20, lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95)),
    "PolynomialLR": ("sgd", 12, lambda m, o: m.PolynomialLR(o, total_iters=8, power=1.5)),
    "SequentialLR": (
        "sgd",
        30,
        lambda m, o: m.SequentialLR(
            o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, 20)], [5]
        ),
    ),
    "SequentialLR-three": (
        "sgd",
        30,
        lambda m, o: m.SequentialLR(
            o,
            [m.ConstantLR(o, 0.5, total_iters=3), m.ExponentialLR(o, 0.8), m.StepLR(o, 4, 0.5)],
            [4, 12],
        ),
    ),
    "ChainedScheduler": (
        "sgd",
        25,
        lambda m, o: m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.9)]
        ),
    ),
    "ChainedScheduler-cosine": (
        "sgd",
        25,
        lambda m, o: m.ChainedScheduler(
            [m.LinearLR(o, 0.5, total_iters=5), m.CosineAnnealingLR(o, 8, eta_min=0.001)], o
        ),
    ),
}

METRICS = [
    5.0,
    4.0,
    4.0,
    3.9999,
    4.1,
    4.0,
    3.0,
    3.0,
    3.1,
    3.2,
    3.3,
    2.0,
    2.0,
    2.0,
    2.0,
    2.0,
    2.1,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
]
PLATEAU = {
    "default": dict(patience=2),
    "max-abs": dict(mode="max", threshold=0.5, threshold_mode="abs", patience=1, factor=0.5),
    "cooldown": dict(patience=1, cooldown=3, factor=0.5, min_lr=[0.02, 0.001]),
    "min_lr": dict(patience=0, factor=0.2, min_lr=0.004, eps=1e-4),
    "abs": dict(threshold=0.05, threshold_mode="abs", patience=1),
}


def _optimizer(fw, kind):
    params = [fw.zeros(3, requires_grad=True), fw.zeros(2, requires_grad=True)]
    groups = [{"params": params[:1], "lr": 0.1}, {"params": params[1:], "lr": 0.05}]
    if kind == "adam":
        return fw.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))
    return fw.optim.SGD(groups, lr=0.1, momentum=0.9)


def _values(opt, sched):
    """Every group's lr and momentum (or beta1), and the scheduler's last lrs."""
    row = []
    for group in opt.param_groups:
        momentum = group["betas"][0] if "betas" in group else group["momentum"]
        row += [group["lr"], momentum]
    return row + list(sched.get_last_lr())


def _run(opt, sched, steps, metrics=None):
    rows = [_values(opt, sched)]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        rows.append(_values(opt, sched))
    return np.array(rows, dtype=float)


def _pair(name):
    kind, steps, make = CASES[name]
    runs = []
    for fw in (soma, torch):
        opt = _optimizer(fw, kind)
        runs.append((opt, make(fw.optim.lr_scheduler, opt)))
    return runs, steps


def _assert_rows(ours, theirs):
    # NOTE: bitwise equality (stricter than the 1e-12 asked for): soma evaluates PyTorch's
    # formulas in the same order, so any difference means a formula was changed.
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_every_step(name):
    runs, steps = _pair(name)
    ours, theirs = (_run(opt, sched, steps) for opt, sched in runs)
    assert len(np.unique(ours[:, 0])) > 1  # the rate really changes
    _assert_rows(ours, theirs)


@pytest.mark.parametrize("name", list(PLATEAU))
def test_reduce_on_plateau_matches_torch(name):
    rows = []
    for fw in (soma, torch):
        opt = _optimizer(fw, "sgd")
        sched = fw.optim.lr_scheduler.ReduceLROnPlateau(opt, **PLATEAU[name])
        rows.append(_run(opt, sched, len(METRICS), METRICS))
    assert len(np.unique(rows[0][:, 0])) > 2
    _assert_rows(*rows)


def test_warm_restarts_with_fractional_epochs():
    rows = []
    for fw in (soma, torch):
        opt = _optimizer(fw, "sgd")
        sched = fw.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3)
        values = []
        for epoch in range(12):
            for batch in range(4):
                sched.step(epoch + batch / 4)
                values.append(_values(opt, sched) + [sched.T_cur, sched.T_i, sched.last_epoch])
        sched.step(3.5)  # jumping back works too
        values.append(_values(opt, sched) + [sched.T_cur, sched.T_i, sched.last_epoch])
        rows.append(np.array(values))
    _assert_rows(*rows)


@pytest.mark.parametrize(
    "name, epochs",
    [
        ("StepLR", [4, 7, 2]),
        ("MultiStepLR", [5, 9, 1]),
        ("ExponentialLR", [3, 8]),
        ("CosineAnnealingLR", [3, 14, 25]),
        ("LinearLR", [2, 9, 0]),
        ("ConstantLR", [2, 6]),
        ("PolynomialLR", [3, 10]),
        ("LambdaLR", [4, 2]),
    ],
)
def test_step_with_an_epoch_uses_the_closed_form(name, epochs):
    runs, _ = _pair(name)
    rows = []
    for opt, sched in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = []
            for epoch in epochs:
                sched.step(epoch)
                values.append(_values(opt, sched) + [sched.last_epoch])
        rows.append(np.array(values))
    _assert_rows(*rows)


# ---------------------------------------------------------------------- checkpoints
def _fresh(name):
    kind, _, make = CASES[name]
    opt = _optimizer(soma, kind)
    return opt, make(soma.optim.lr_scheduler, opt)


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_identically(name):
    _, steps, _ = CASES[name]
    half = steps // 2
    opt, sched = _fresh(name)
    straight = _run(opt, sched, steps)
    opt, sched = _fresh(name)
    _run(opt, sched, half)
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    opt, sched = _fresh(name)  # as PyTorch documents: scheduler first, then the loads
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    resumed = _run(opt, sched, steps - half)
    np.testing.assert_array_equal(resumed, straight[half:])


@pytest.mark.parametrize("name", list(CASES))
def test_state_dicts_survive_json(name):
    """Checkpoints keep metadata as JSON: int keys become strings, tuples become lists."""
    _, steps, _ = CASES[name]
    opt, sched = _fresh(name)
    straight = _run(opt, sched, steps)
    opt, sched = _fresh(name)
    _run(opt, sched, 7)
    saved_opt = json.loads(json.dumps(opt.state_dict()))
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    opt, sched = _fresh(name)
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    np.testing.assert_array_equal(_run(opt, sched, steps - 7), straight[7:])


@pytest.mark.parametrize("name", list(PLATEAU))
def test_plateau_state_dict_round_trip(name):
    def fresh():
        opt = _optimizer(soma, "sgd")
        return opt, soma.optim.lr_scheduler.ReduceLROnPlateau(opt, **PLATEAU[name])

    opt, sched = fresh()
    straight = _run(opt, sched, len(METRICS), METRICS)
    opt, sched = fresh()
    _run(opt, sched, 12, METRICS)
    saved = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    opt, sched = fresh()
    opt.load_state_dict(saved[0])
    sched.load_state_dict(saved[1])
    np.testing.assert_array_equal(_run(opt, sched, len(METRICS) - 12, METRICS[12:]), straight[12:])


@pytest.mark.parametrize("name", list(CASES))
def test_continues_from_a_torch_scheduler_state_dict(name):
    """PyTorch's scheduler and optimizer state dicts (plain values) load into soma."""
    runs, steps = _pair(name)
    t_opt, t_sched = runs[1]
    half = steps // 2
    _run(t_opt, t_sched, half)
    saved_opt = {"state": {}, "param_groups": copy.deepcopy(t_opt.state_dict()["param_groups"])}
    saved_sched = copy.deepcopy(t_sched.state_dict())
    opt, sched = _fresh(name)
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    _assert_rows(_run(opt, sched, steps - half), _run(t_opt, t_sched, steps - half))


def test_lambda_state_dict_keeps_callable_objects_only():
    opt = _optimizer(soma, "sgd")
    scale = Scale(0.8)
    sched = soma.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1.0, scale])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.8}] and "optimizer" not in state
    scale.rate = 0.5
    sched.load_state_dict(state)
    assert scale.rate == 0.8 and state["lr_lambdas"] == [None, {"rate": 0.8}]


# ---------------------------------------------------------------------- behaviour and errors
def test_scheduler_step_before_optimizer_step_warns():
    opt = _optimizer(soma, "sgd")
    sched = soma.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = _optimizer(soma, "sgd")
    sched = soma.optim.lr_scheduler.StepLR(opt, 2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_initial_lr_and_resuming_with_last_epoch():
    opt = _optimizer(soma, "sgd")
    with pytest.raises(KeyError, match="initial_lr"):
        soma.optim.lr_scheduler.StepLR(opt, 2, last_epoch=3)
    rows = []
    for fw in (soma, torch):
        opt = _optimizer(fw, "sgd")
        fw.optim.lr_scheduler.ExponentialLR(opt, 0.5)
        assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
        for group in opt.param_groups:
            group["lr"] = 0.01
        sched = fw.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
        rows.append(_run(opt, sched, 12))
    _assert_rows(*rows)
    assert rows[0][0, 0] == 0.01 and rows[0][1, 0] != 0.01


def test_one_cycle_refuses_to_step_past_the_end():
    opt = _optimizer(soma, "sgd")
    sched = soma.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times.*total_steps=3"):
        sched.step()


M = soma.optim.lr_scheduler


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: M.StepLR(o, step_size=0), ValueError, "positive integer step_size"),
        (lambda o: M.ConstantLR(o, factor=1.5), ValueError, "factor must be in"),
        (lambda o: M.LinearLR(o, start_factor=0), ValueError, "start_factor must be in"),
        (lambda o: M.LinearLR(o, end_factor=2), ValueError, "end_factor must be in"),
        (lambda o: M.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
        (lambda o: M.CosineAnnealingLR(o, T_max=0), ValueError, "positive T_max"),
        (lambda o: M.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
        (lambda o: M.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError, "T_mult >= 1"),
        (lambda o: M.CyclicLR(o, 0.1, 1.0, mode="square"), ValueError, "mode 'square' is invalid"),
        (lambda o: M.CyclicLR(o, [0.1], 1.0), ValueError, "base_lr must have the same length"),
        (lambda o: M.OneCycleLR(o, 0.1), ValueError, "either total_steps or"),
        (
            lambda o: M.OneCycleLR(o, 0.1, total_steps=0),
            ValueError,
            "positive integer total_steps",
        ),
        (lambda o: M.OneCycleLR(o, 0.1, 10, pct_start=1.5), ValueError, "pct_start"),
        (lambda o: M.OneCycleLR(o, 0.1, 10, anneal_strategy="cosine"), ValueError, "'cos' or"),
        (lambda o: M.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor should be < 1.0"),
        (lambda o: M.ReduceLROnPlateau(o, mode="low"), ValueError, "mode 'low' is unknown"),
        (lambda o: M.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode 'x'"),
        (lambda o: M.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr must have the same"),
        (lambda o: M.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
        (lambda o: M.MultiplicativeLR(o, 0.9), TypeError, "lr_lambda should be a function"),
        (lambda o: M.SequentialLR(o, [M.StepLR(o, 2)], [3]), ValueError, "one more scheduler"),
        (lambda o: M.SequentialLR(o, [M.ReduceLROnPlateau(o)], []), ValueError, "ReduceLROnPlat"),
        (lambda o: M.ChainedScheduler([]), ValueError, "at least one scheduler"),
        (
            lambda o: M.ChainedScheduler([M.StepLR(o, 2), M.StepLR(_optimizer(soma, "sgd"), 2)]),
            ValueError,
            "same optimizer",
        ),
        (lambda o: M.StepLR(object(), 2), TypeError, "object is not an Optimizer"),
    ],
)
def test_invalid_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make(_optimizer(soma, "sgd"))


def test_cycle_momentum_needs_momentum_or_betas():
    opt = soma.optim.Adagrad([soma.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        M.CyclicLR(opt, 0.01, 0.1)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        M.OneCycleLR(opt, 0.1, total_steps=10)
    M.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)  # fine without momentum cycling


def test_public_names():
    assert soma.optim.lr_scheduler is M
    for name in M.__all__:
        assert getattr(M, name) is not None
        assert hasattr(torch.optim.lr_scheduler, name)
