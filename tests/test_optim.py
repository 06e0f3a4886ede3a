"""soma.optim against torch.optim: whole trajectories in float64, checkpoints, errors."""

import copy

import numpy as np
import pytest

import soma
from tests.torch_oracle import torch

STEPS = 100

# optimizer name -> option grid (each entry one configuration, on top of a common lr)
GRID = {
    "SGD": [
        dict(),
        dict(momentum=0.9),
        dict(momentum=0.9, dampening=0.5),
        dict(momentum=0.8, nesterov=True),
        dict(weight_decay=0.1),
        dict(momentum=0.9, weight_decay=0.05, nesterov=True, maximize=True, lr=0.002),
    ],
    "Adam": [
        dict(),
        dict(amsgrad=True),
        dict(weight_decay=0.1),
        dict(maximize=True),
        dict(betas=(0.3, 0.999), eps=1e-6),
        dict(weight_decay=0.1, decoupled_weight_decay=True),
        dict(amsgrad=True, weight_decay=0.05, maximize=True),
    ],
    "AdamW": [
        dict(),
        dict(amsgrad=True),
        dict(weight_decay=0.3),
        dict(maximize=True),
        dict(betas=(0.5, 0.99), weight_decay=0.0),
    ],
    "Adagrad": [
        dict(),
        dict(lr_decay=0.01),
        dict(weight_decay=0.1),
        dict(initial_accumulator_value=0.5),
        dict(eps=1e-3),
        dict(maximize=True),
        dict(lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.1),
    ],
    "RMSprop": [
        dict(),
        dict(centered=True),
        dict(momentum=0.9),
        dict(centered=True, momentum=0.5),
        dict(weight_decay=0.1),
        dict(alpha=0.5, eps=1e-4),
        dict(maximize=True),
        dict(alpha=0.9, centered=True, momentum=0.3, weight_decay=0.01, maximize=True),
    ],
}
LR = {"SGD": 0.05, "Adam": 0.01, "AdamW": 0.01, "Adagrad": 0.05, "RMSprop": 0.002}
CASES = [(name, {"lr": LR[name], **opts}) for name, grid in GRID.items() for opts in grid]


def _ids(case):
    name, opts = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in opts.items()) or "default")


# ---------------------------------------------------------------------- a problem both can solve
def _problem(seed=0):
    """Initial weights of a 3→8→2 tanh MLP and a regression batch, as float64 arrays."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((8, 3)) * 0.5,
        rng.standard_normal(8) * 0.1,
        rng.standard_normal((2, 8)) * 0.5,
        rng.standard_normal(2) * 0.1,
    ]
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    return weights, x, y


def _loss(fw, params, x, y):
    w1, b1, w2, b2 = params
    out = fw.tanh(x @ w1.T + b1) @ w2.T + b2
    return ((out - y) ** 2).mean()


class Run:
    """One framework's parameters, data and optimizer, stepped in lockstep with the other."""

    def __init__(self, fw, name, second_lr, weights, x, y, **opts):
        self.fw = fw
        self.params = [fw.tensor(w.copy(), dtype=fw.float64, requires_grad=True) for w in weights]
        self.x, self.y = fw.tensor(x, dtype=fw.float64), fw.tensor(y, dtype=fw.float64)
        if fw is torch:
            opts = {**opts, "foreach": False}  # the single-tensor rule, which soma follows
        self.opt = getattr(fw.optim, name)(_groups(self.params, second_lr), **opts)

    def step(self, n=1):
        for _ in range(n):
            self.opt.zero_grad()
            _loss(self.fw, self.params, self.x, self.y).backward()
            self.opt.step()

    def arrays(self):
        return [p.detach().numpy().copy() for p in self.params]


def _groups(params, second_lr):
    """One group with every parameter, or two groups (the second with rate ``second_lr``)."""
    if second_lr is None:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "lr": second_lr}]


def _assert_same(a_list, b_list, rtol=1e-10):
    for a, b in zip(a_list, b_list):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12 * max(1.0, np.abs(b).max()))


def _torch_state_to_numpy(sd):
    """A torch optimizer state dict with every tensor converted to a NumPy array."""
    state = {
        k: {n: (v.numpy().copy() if torch.is_tensor(v) else v) for n, v in s.items()}
        for k, s in sd["state"].items()
    }
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def _soma_state_to_torch(sd):
    state = {
        k: {
            n: (torch.from_numpy(v.numpy().copy()) if isinstance(v, soma.Tensor) else v)
            for n, v in s.items()
        }
        for k, s in sd["state"].items()
    }
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


# ---------------------------------------------------------------------- trajectories
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
    _assert_same(ours, theirs)
    # the optimizer state matches too, value for value
    for p_s, p_t in zip(runs[0].params, runs[1].params):
        s_state, t_state = runs[0].opt.state[p_s], runs[1].opt.state[p_t]
        assert sorted(s_state) == sorted(t_state)
        for key, value in t_state.items():
            value = value.numpy() if torch.is_tensor(value) else value
            if np.ndim(value) == 0:
                assert float(s_state[key]) == float(value)
            else:
                np.testing.assert_allclose(s_state[key], value, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name", list(GRID))
@pytest.mark.parametrize(
    "switches", [dict(foreach=True), dict(foreach=False, fused=None), dict(fused=True)]
)
def test_implementation_switches_are_accepted_and_change_nothing(name, switches):
    """PyTorch code passes ``foreach``/``fused``; soma has one implementation, whatever they say."""
    weights, x, y = _problem()
    plain = Run(soma, name, None, weights, x, y, lr=0.01)
    switched = Run(soma, name, None, weights, x, y, lr=0.01, **switches)
    plain.step(5)
    switched.step(5)
    for a, b in zip(plain.arrays(), switched.arrays()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(plain.arrays()[0], weights[0])


@pytest.mark.parametrize("name", list(GRID))
@pytest.mark.parametrize("switch", ["capturable", "differentiable"])
def test_switches_soma_cannot_honour_are_refused(name, switch):
    w = soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(ValueError, match=f"{name}: {switch}=True is not supported"):
        getattr(soma.optim, name)([w], lr=0.1, **{switch: True})


@pytest.mark.parametrize("name", list(GRID))
def test_added_param_group_matches_torch(name):
    """A group added after 20 steps starts its state then and uses its own rate."""
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
    assert runs[0].opt.param_groups[1]["lr"] == LR[name] * 3


def test_closure_is_evaluated_and_its_loss_returned():
    weights, x, y = _problem(2)
    runs = [Run(fw, "SGD", None, weights, x, y, lr=0.1, momentum=0.9) for fw in (soma, torch)]
    losses = []
    for run in runs:

        def closure(run=run):
            run.opt.zero_grad()
            loss = _loss(run.fw, run.params, run.x, run.y)
            loss.backward()
            return loss

        losses.append([run.opt.step(closure).item() for _ in range(10)])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)
    assert losses[0][-1] < losses[0][0]
    _assert_same(runs[0].arrays(), runs[1].arrays())


def test_closure_runs_with_grad_enabled_and_step_without():
    w = soma.nn.Parameter(soma.tensor([1.0, 2.0]))
    opt = soma.optim.SGD([w], lr=0.1)
    modes = []

    def closure():
        modes.append(soma.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with soma.no_grad():
        loss = opt.step(closure)
    assert modes == [True] and loss.item() == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    assert opt.step() is None


# ---------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_state_dict_round_trip_continues_exactly(case):
    """Save after 50 steps, load into a fresh optimizer, 50 more == 100 straight (bitwise)."""
    name, opts = case
    weights, x, y = _problem(3)
    straight = Run(soma, name, opts["lr"] / 2, weights, x, y, **opts)
    straight.step(STEPS)
    first = Run(soma, name, opts["lr"] / 2, weights, x, y, **opts)
    first.step(STEPS // 2)
    saved = first.opt.state_dict()
    resumed = Run(soma, name, 1.0, first.arrays(), x, y, lr=123.0)  # other hyperparameters
    resumed.opt.load_state_dict(saved)
    assert resumed.opt.param_groups[0]["lr"] == opts["lr"]
    resumed.step(STEPS - STEPS // 2)
    for a, b in zip(resumed.arrays(), straight.arrays()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_continues_from_a_torch_state_dict(case):
    """PyTorch trains 50 steps and saves; soma loads that (as NumPy arrays) and goes on."""
    name, opts = case
    weights, x, y = _problem(4)
    reference = Run(torch, name, opts["lr"] / 2, weights, x, y, **opts)
    reference.step(STEPS // 2)
    saved = _torch_state_to_numpy(reference.opt.state_dict())
    ours = Run(soma, name, 1.0, reference.arrays(), x, y, lr=1.0)
    ours.opt.load_state_dict(saved)
    reference.step(STEPS - STEPS // 2)
    ours.step(STEPS - STEPS // 2)
    _assert_same(ours.arrays(), reference.arrays())


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_torch_continues_from_a_soma_state_dict(case):
    name, opts = case
    weights, x, y = _problem(5)
    ours = Run(soma, name, opts["lr"] / 2, weights, x, y, **opts)
    ours.step(STEPS // 2)
    reference = Run(torch, name, 1.0, ours.arrays(), x, y, lr=1.0)
    reference.opt.load_state_dict(_soma_state_to_torch(ours.opt.state_dict()))
    reference.step(STEPS - STEPS // 2)
    ours.step(STEPS - STEPS // 2)
    _assert_same(ours.arrays(), reference.arrays())


def test_state_dict_layout_is_torchs():
    weights, x, y = _problem(6)
    runs = [
        Run(fw, "Adam", LR["Adam"], weights, x, y, lr=0.01, amsgrad=True) for fw in (soma, torch)
    ]
    for run in runs:
        run.step(3)
    ours, theirs = runs[0].opt.state_dict(), runs[1].opt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in ours["param_groups"]] == [[0, 1], [2, 3]]
    assert ours["state"][0]["step"] == 3.0 and isinstance(ours["state"][0]["step"], float)
    assert isinstance(ours["state"][2]["exp_avg"], soma.Tensor)
    common = set(ours["param_groups"][0]) & set(theirs["param_groups"][0])
    assert {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"} <= common
    assert set(ours["param_groups"][0]) == set(theirs["param_groups"][0])
    for key in common - {"foreach"}:  # foreach=False is given to PyTorch only (Run)
        assert ours["param_groups"][1][key] == theirs["param_groups"][1][key]


def test_state_is_created_lazily_and_only_for_params_with_grads():
    a, b = soma.nn.Parameter(soma.ones(3)), soma.nn.Parameter(soma.ones(2))
    opt = soma.optim.Adam([a, b], lr=0.1)
    assert len(opt.state) == 0 and opt.state_dict()["state"] == {}
    (a * a).sum().backward()
    opt.step()
    assert set(opt.state) == {a} and opt.state[a]["step"] == 1.0
    assert list(opt.state_dict()["state"]) == [0]
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])


def test_float32_parameters_keep_float32_state():
    w = soma.nn.Parameter(soma.randn(4, 3))
    for name in GRID:
        opt = getattr(soma.optim, name)([w], lr=0.01)
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
        assert w.dtype == soma.float32
        assert all(v.dtype == np.float32 for v in opt.state[w].values() if hasattr(v, "dtype"))


def test_load_casts_state_to_the_parameter_dtype_and_copies():
    w = soma.nn.Parameter(soma.zeros(3))
    opt = soma.optim.SGD([w], lr=0.1, momentum=0.9)
    buf = np.array([1.0, 2.0, 3.0])  # float64, as from a float64 run
    opt.load_state_dict(
        {"state": {0: {"momentum_buffer": buf}}, "param_groups": [{"lr": 0.5, "params": [0]}]}
    )
    state = opt.state[w]["momentum_buffer"]
    assert state.dtype == np.float32 and state is not buf
    buf[0] = 100.0
    assert state[0] == 1.0
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["momentum"] == 0.9


def test_load_state_dict_errors():
    a, b = soma.nn.Parameter(soma.zeros(3)), soma.nn.Parameter(soma.zeros(2))
    opt = soma.optim.SGD([a, b], lr=0.1, momentum=0.9)
    group = {"lr": 0.1, "momentum": 0.9, "params": [0, 1]}
    with pytest.raises(ValueError, match="2 parameter groups, the optimizer has 1"):
        opt.load_state_dict({"state": {}, "param_groups": [group, group]})
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state dict but 2"):
        opt.load_state_dict({"state": {}, "param_groups": [{**group, "params": [0]}]})
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 1 has shape \(5,\)"):
        opt.load_state_dict(
            {"state": {1: {"momentum_buffer": np.zeros(5)}}, "param_groups": [group]}
        )
    with pytest.raises(ValueError, match="state for parameter 7"):
        opt.load_state_dict(
            {"state": {7: {"momentum_buffer": np.zeros(5)}}, "param_groups": [group]}
        )


# ---------------------------------------------------------------------- groups, grads, repr
def test_zero_grad():
    w = soma.nn.Parameter(soma.ones(3))
    opt = soma.optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad
    np.testing.assert_array_equal(grad.numpy(), [0.0, 0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_take_defaults_and_names():
    a, b = soma.nn.Parameter(soma.zeros(2)), soma.nn.Parameter(soma.zeros(2))
    opt = soma.optim.SGD(
        [{"params": a}, {"params": [b], "lr": 0.5, "momentum": 0.1}], lr=0.1, momentum=0.9
    )
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.1
    assert opt.param_groups[0]["params"] == [a]
    named = soma.optim.Adam([("w", a), ("v", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "v"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w", "v"]


def test_repr_lists_groups():
    w = soma.nn.Parameter(soma.zeros(2))
    text = repr(soma.optim.SGD([w], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    momentum: 0.9" in text


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("SGD", dict(lr=-0.1), "SGD: invalid learning rate: -0.1"),
        ("SGD", dict(momentum=-0.5), "invalid momentum value"),
        ("SGD", dict(weight_decay=-1), "invalid weight_decay value"),
        ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "zero dampening"),
        ("SGD", dict(lr=float("nan")), "invalid learning rate: nan"),
        (
            "Adam",
            dict(betas=(1.0, 0.999)),
            r"beta parameter at index 0: 1.0 \(must be in \[0.0, 1.0",
        ),
        ("Adam", dict(betas=(0.9, -0.1)), "beta parameter at index 1"),
        ("Adam", dict(betas=(0.9,)), "betas must be a pair"),
        ("Adam", dict(eps=-1e-8), "invalid epsilon value"),
        ("AdamW", dict(weight_decay=-0.1), "AdamW: invalid weight_decay value"),
        ("Adagrad", dict(lr_decay=-1), "invalid lr_decay value"),
        ("Adagrad", dict(initial_accumulator_value=-1), "invalid initial_accumulator_value"),
        ("RMSprop", dict(alpha=-0.1), "invalid alpha value"),
        ("RMSprop", dict(momentum=-0.1), "invalid momentum value"),
    ],
)
def test_invalid_hyperparameters(name, kwargs, match):
    w = soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(ValueError, match=match):
        getattr(soma.optim, name)([w], **{"lr": 0.1, **kwargs})


def test_invalid_group_hyperparameters_and_types():
    w, v = soma.nn.Parameter(soma.zeros(2)), soma.nn.Parameter(soma.zeros(2))
    opt = soma.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="SGD: invalid learning rate: -1"):
        opt.add_param_group({"params": [v], "lr": -1})
    with pytest.raises(TypeError, match="learning rate must be a real number, got '0.1'"):
        soma.optim.SGD([w], lr="0.1")


def test_invalid_params():
    w = soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got a Tensor"):
        soma.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        soma.optim.Adam([], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        soma.optim.SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is int"):
        soma.optim.SGD([w, 3], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        soma.optim.SGD([w * 2], lr=0.1)
    opt = soma.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="with names or none"):
        soma.optim.SGD([("w", w), soma.nn.Parameter(soma.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="needs a 'params' entry, got keys \\['lr'\\]"):
        opt.add_param_group({"lr": 0.1})
    with pytest.warns(UserWarning, match="same parameter twice"):
        soma.optim.SGD([w, w], lr=0.1)
