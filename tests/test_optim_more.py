"""The rest of torch.optim (issue 11): Adadelta, Rprop, Adamax, NAdam, RAdam, ASGD, LBFGS.

Same checks as test_optim.py: 100-step float64 trajectories and the optimizer state against
torch.optim, state_dict round trips both ways, parameter groups; plus 0-d parameters and
gradients accumulated from several uses.
"""

import numpy as np
import pytest

import soma
from tests.conftest import torch
from tests.test_optim import (
    STEPS,
    Run,
    _assert_same,
    _loss,
    _problem,
    _soma_state_to_torch,
    _torch_state_to_numpy,
)

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference oracle) is missing")

GRID = {
    "Adadelta": [
        dict(),
        dict(rho=0.5, eps=1e-4),
        dict(weight_decay=0.1),
        dict(maximize=True, lr=0.5),
    ],
    "Rprop": [
        dict(),
        dict(etas=(0.3, 1.5)),
        dict(step_sizes=(1e-3, 0.02)),
        dict(maximize=True, step_sizes=(1e-6, 0.01)),
    ],
    "Adamax": [
        dict(),
        dict(betas=(0.8, 0.99), eps=1e-4),
        dict(weight_decay=0.1),
        dict(maximize=True),
    ],
    "NAdam": [
        dict(),
        dict(momentum_decay=0.05, betas=(0.8, 0.99)),
        dict(weight_decay=0.1),
        dict(weight_decay=0.1, decoupled_weight_decay=True),
        dict(maximize=True),
    ],
    "RAdam": [
        dict(),
        dict(betas=(0.8, 0.9)),  # ρₜ passes 5 at step 6: both branches run
        dict(weight_decay=0.1),
        dict(weight_decay=0.1, decoupled_weight_decay=True),
        dict(maximize=True),
    ],
    "ASGD": [
        dict(),
        dict(lambd=0.01, alpha=0.5, t0=20),  # averaging starts inside the run
        dict(weight_decay=0.1, t0=50),
        dict(maximize=True, lr=0.002),  # (a larger rate diverges, and chaos amplifies ulps)
    ],
}
LR = {
    "Adadelta": 1.0,
    "Rprop": 0.01,
    "Adamax": 0.01,
    "NAdam": 0.01,
    "RAdam": 0.01,
    "ASGD": 0.05,
}
CASES = [(name, {"lr": LR[name], **opts}) for name, grid in GRID.items() for opts in grid]


def _ids(case):
    name, opts = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in opts.items()) or "default")


def _scalar(value):
    return float(value.item() if hasattr(value, "item") else value)


# ---------------------------------------------------------------------- trajectories
@needs_torch
@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("groups", [1, 2])
def test_matches_torch_after_100_steps(case, groups):
    name, opts = case
    weights, x, y = _problem()
    second_lr = None if groups == 1 else opts["lr"] / 2
    runs = [Run(fw, name, second_lr, weights, x, y, **opts) for fw in (soma, torch)]
    for run in runs:
        run.step(STEPS)
    ours, theirs = runs[0].arrays(), runs[1].arrays()
    assert not np.allclose(ours[0], weights[0])  # the weights did move
    _assert_same(ours, theirs, rtol=1e-10)
    for p_s, p_t in zip(runs[0].params, runs[1].params):
        s_state, t_state = runs[0].opt.state[p_s], runs[1].opt.state[p_t]
        assert sorted(s_state) == sorted(t_state)
        for key, value in t_state.items():
            value = value.numpy() if torch.is_tensor(value) else value
            if np.ndim(value) == 0:
                assert _scalar(s_state[key]) == pytest.approx(float(value), rel=1e-12)
            else:
                np.testing.assert_allclose(s_state[key], value, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_state_dict_round_trip_continues_exactly(case):
    name, opts = case
    weights, x, y = _problem(3)
    straight = Run(soma, name, opts["lr"] / 2, weights, x, y, **opts)
    straight.step(STEPS)
    first = Run(soma, name, opts["lr"] / 2, weights, x, y, **opts)
    first.step(STEPS // 2)
    saved = first.opt.state_dict()
    resumed = Run(soma, name, 1.0, first.arrays(), x, y, lr=123.0)
    resumed.opt.load_state_dict(saved)
    assert resumed.opt.param_groups[0]["lr"] == opts["lr"]
    resumed.step(STEPS - STEPS // 2)
    for a, b in zip(resumed.arrays(), straight.arrays()):
        np.testing.assert_array_equal(a, b)


@needs_torch
@pytest.mark.parametrize("case", CASES[::2], ids=_ids)
def test_state_dicts_cross_between_soma_and_torch(case):
    name, opts = case
    weights, x, y = _problem(4)
    reference = Run(torch, name, opts["lr"] / 2, weights, x, y, **opts)
    reference.step(STEPS // 2)
    ours = Run(soma, name, 1.0, reference.arrays(), x, y, lr=1.0)
    ours.opt.load_state_dict(_torch_state_to_numpy(reference.opt.state_dict()))
    back = Run(torch, name, 1.0, reference.arrays(), x, y, lr=1.0)
    back.opt.load_state_dict(_soma_state_to_torch(ours.opt.state_dict()))
    for run in (reference, ours, back):
        run.step(STEPS - STEPS // 2)
    _assert_same(ours.arrays(), reference.arrays())
    _assert_same(back.arrays(), reference.arrays())


@needs_torch
@pytest.mark.parametrize("name", list(GRID))
def test_added_param_group_matches_torch(name):
    weights, x, y = _problem(1)
    runs = []
    for fw in (soma, torch):
        run = Run(fw, name, None, weights, x, y, lr=LR[name])
        run.opt.param_groups[0]["params"] = run.params[:2]
        if fw is soma:
            run.opt.state.clear()
        run.step(20)
        run.opt.add_param_group({"params": run.params[2:], "lr": LR[name] * 3})
        run.step(30)
        runs.append(run)
    _assert_same(runs[0].arrays(), runs[1].arrays())


# ---------------------------------------------------------------------- 0-d and shared weights
def _scalar_run(fw, name, opts):
    """A 0-d weight used three times in one loss (its gradient accumulates), and a vector."""
    # NOTE: from float64 arrays: soma.tensor(0.7, dtype=float64) rounds 0.7 through float32
    w = fw.tensor(np.array(0.7), requires_grad=True)
    v = fw.tensor(np.array([0.3, -1.2]), requires_grad=True)
    extra = {"foreach": False} if fw is torch and name != "LBFGS" else {}
    opt = getattr(fw.optim, name)([w, v], **opts, **extra)
    for _ in range(30):
        opt.zero_grad()
        loss = (w * v).sum() ** 2 + fw.sin(w) * 0.5 + (w * w - 0.2) ** 2 + (v * v).sum()
        loss.backward()
        opt.step()
    return np.array([w.item(), *v.tolist()])


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_zero_dim_parameter_used_several_times_matches_torch(case):
    name, opts = case
    ours, theirs = _scalar_run(soma, name, opts), _scalar_run(torch, name, opts)
    assert ours[0] != 0.7
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", list(GRID))
def test_zero_dim_parameter_steps_without_torch(name):
    w = soma.nn.Parameter(soma.tensor(1.5))
    opt = getattr(soma.optim, name)([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w * w + w).backward()
        opt.step()
    assert w.shape == () and w.item() < 1.5


def test_float32_parameters_keep_float32_state():
    for name in GRID:
        w = soma.nn.Parameter(soma.randn(4, 3))
        opt = getattr(soma.optim, name)([w], lr=0.01)
        for _ in range(2):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
        assert w.dtype == soma.float32, name
        arrays = [v for v in opt.state[w].values() if hasattr(v, "dtype")]
        assert arrays and all(v.dtype == np.float32 for v in arrays), name


# ---------------------------------------------------------------------- hand-worked values
def test_rprop_grows_steps_while_the_sign_holds_and_shrinks_them_on_a_flip():
    """The lecture's rule, worked by hand on f(w) = w² from w = 1 with Δ₀ = 0.4."""
    w = soma.nn.Parameter(soma.tensor([1.0], dtype=soma.float64))
    opt = soma.optim.Rprop([w], lr=0.4, etas=(0.5, 2.0))
    path = []
    for _ in range(4):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        path += [w.item(), opt.state[w]["step_size"].item()]
    # 1 − 0.4 = 0.6; same sign: Δ = 0.8, 0.6 − 0.8 = −0.2; flip: Δ = 0.4 and no step;
    # the stored gradient is 0, so the next step uses Δ = 0.4 unchanged: −0.2 + 0.4 = 0.2
    assert path == pytest.approx([0.6, 0.4, -0.2, 0.8, -0.2, 0.4, 0.2, 0.4])


def test_asgd_average_follows_the_iterates_after_t0():
    w = soma.nn.Parameter(soma.tensor([1.0], dtype=soma.float64))
    opt = soma.optim.ASGD([w], lr=0.1, lambd=0.0, t0=2)
    seen = []
    for _ in range(6):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        seen.append(w.item())
    # step t averages with μ = 1/max(1, t − 1 − t₀): ax copies θ up to step 4, then it is
    # the mean of the iterates of steps 4, 5 and 6
    # (rel 1e-7: μ = 1/3 is kept in float32, as PyTorch keeps it)
    assert opt.state[w]["ax"].item() == pytest.approx(np.mean(seen[3:]), rel=1e-7)
    assert seen[3] != pytest.approx(np.mean(seen[3:]))


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("Adadelta", dict(rho=1.5), "invalid rho value"),
        ("Rprop", dict(etas=(1.2, 0.5)), "invalid eta values"),
        ("Rprop", dict(step_sizes=(1.0, 0.1)), "invalid step_sizes"),
        ("Adamax", dict(betas=(1.0, 0.9)), "beta parameter at index 0"),
        ("NAdam", dict(momentum_decay=-1), "invalid momentum_decay value"),
        ("RAdam", dict(eps=-1), "invalid epsilon value"),
        ("ASGD", dict(lr=-1), "ASGD: invalid learning rate"),
        ("LBFGS", dict(line_search_fn="armijo"), "None or 'strong_wolfe'"),
    ],
)
def test_invalid_hyperparameters(name, kwargs, match):
    w = soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(ValueError, match=match):
        getattr(soma.optim, name)([w], **{"lr": 0.1, **kwargs})


@pytest.mark.parametrize("name", list(GRID))
@pytest.mark.parametrize("switch", ["capturable", "differentiable"])
def test_switches_soma_cannot_honour_are_refused(name, switch):
    w = soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(ValueError, match=f"{name}: {switch}=True is not supported"):
        getattr(soma.optim, name)([w], lr=0.1, **{switch: True})


@pytest.mark.parametrize("name", list(GRID))
def test_foreach_is_accepted(name):
    w = soma.nn.Parameter(soma.zeros(2))
    getattr(soma.optim, name)([w], lr=0.1, foreach=True)


def test_cli_trains_with_rprop(tmp_path, monkeypatch):
    """``soma train --optimizer rprop``: the lectures' optimizer by name (one epoch)."""
    import json

    from soma.cli import main

    monkeypatch.chdir(tmp_path)
    argv = ["train", "--model", "mlp", "--data", "digits", "--epochs", "1", "--quiet"]
    assert main([*argv, "--batch-size", "64", "--optimizer", "rprop", "--out", "run"]) == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["test"]["accuracy"] > 0.8  # measured 0.94


def test_every_new_optimizer_is_known_by_name():
    from soma.optim.registry import OPTIMIZERS
    from soma.train.components import get_optimizer

    model = soma.nn.Linear(2, 1)
    for name in ("adadelta", "adamax", "asgd", "nadam", "radam", "rprop"):
        assert type(get_optimizer(name, model)) is OPTIMIZERS.get(name).builder


@needs_torch
@pytest.mark.parametrize("name", list(GRID))
def test_float32_trajectory_stays_close_to_torch(name):
    """float32 (the default dtype) takes PyTorch's float32 roundings closely (measured ≤ 6e-6)."""
    runs = []
    for fw in (soma, torch):
        weights, x, y = _problem()
        params = [fw.tensor(w.astype(np.float32), requires_grad=True) for w in weights]
        x, y = fw.tensor(x.astype(np.float32)), fw.tensor(y.astype(np.float32))
        opt = getattr(fw.optim, name)(params, lr=LR[name])
        for _ in range(30):
            opt.zero_grad()
            _loss(fw, params, x, y).backward()
            opt.step()
        runs.append([p.detach().numpy() for p in params])
    for ours, theirs in zip(*runs):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
