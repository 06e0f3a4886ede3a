"""LBFGS (issue 11): PyTorch's closure protocol and strong-Wolfe line search, against
torch.optim.LBFGS, plus checkpoints and errors."""

import numpy as np
import pytest

import soma
from soma.optim._line_search import cubic_interpolate
from tests.conftest import torch
from tests.test_optim import _loss, _problem

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference oracle) is missing")

START = np.array([-1.2, 1.0, -0.5, 0.8, 1.3, -0.3])


def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _fit(fw, steps, start=START, **opts):
    x = fw.tensor(start.copy(), requires_grad=True)
    opt = fw.optim.LBFGS([x], **opts)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return x.detach().numpy().copy(), losses, opt, len(calls)


OPTIONS = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(history_size=3, max_iter=10, lr=0.1),
    dict(line_search_fn="strong_wolfe", history_size=2, lr=0.5),
]


@needs_torch
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_rosenbrock_matches_torch(opts):
    """Five steps (50–100 iterations, every closure call counted) on the 6-d Rosenbrock."""
    ours, our_losses, opt, our_calls = _fit(soma, 5, **opts)
    theirs, their_losses, ref, their_calls = _fit(torch, 5, **opts)
    assert our_calls == their_calls
    state, ref_state = opt.state[opt._params[0]], ref.state[ref._params[0]]
    assert (state["func_evals"], state["n_iter"]) == (ref_state["func_evals"], ref_state["n_iter"])
    # NOTE: soma's and PyTorch's gradients differ in the last bit now and then; 1e-9 is
    # what a quasi-Newton run keeps of that after 50–100 iterations (measured: ≤ 4e-10).
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-6, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("opts", [dict(), dict(line_search_fn="strong_wolfe")], ids=str)
def test_mlp_fit_matches_torch(opts):
    runs = []
    for fw in (soma, torch):
        weights, x, y = _problem()
        params = [fw.tensor(w.copy(), requires_grad=True) for w in weights]
        x, y = fw.tensor(x), fw.tensor(y)
        opt = fw.optim.LBFGS(params, **opts)

        def closure(opt=opt, params=params, x=x, y=y, fw=fw):
            opt.zero_grad()
            loss = _loss(fw, params, x, y)
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(3)]
        runs.append(([p.detach().numpy().copy() for p in params], losses))
    assert runs[0][1][-1] < 0.5 * runs[0][1][0]
    # 60 quasi-Newton iterations amplify last-bit gradient differences (measured ≤ 6e-8)
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_converges_to_the_minimum_without_torch():
    x, losses, _, _ = _fit(soma, 5, line_search_fn="strong_wolfe")
    np.testing.assert_allclose(x, np.ones(6), atol=1e-5)
    assert losses[-1] < 1e-8 < losses[0]


def test_returns_the_first_loss_and_stops_at_an_optimum():
    x = soma.tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    opt = soma.optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0 and calls == [1]  # the gradient is 0: no iteration


def test_zero_dim_parameter_used_twice():
    w = soma.tensor(np.array(3.0), requires_grad=True)
    opt = soma.optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (w - 1) ** 2 + (w * w - 1) ** 2
        loss.backward()
        return loss

    opt.step(closure)
    assert w.shape == () and w.item() == pytest.approx(1.0, abs=1e-5)


def test_state_dict_round_trip_continues_exactly():
    _, _, straight, _ = _fit(soma, 2, history_size=4, max_iter=5)
    first_x, _, first, _ = _fit(soma, 1, history_size=4, max_iter=5)
    x = soma.tensor(first_x, requires_grad=True)
    resumed = soma.optim.LBFGS([x], lr=5.0)
    resumed.load_state_dict(first.state_dict())
    assert resumed.param_groups[0]["history_size"] == 4 and resumed.param_groups[0]["lr"] == 1

    def closure():
        resumed.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    resumed.step(closure)
    np.testing.assert_array_equal(x.detach().numpy(), straight._params[0].detach().numpy())


def test_errors():
    a, b = soma.nn.Parameter(soma.zeros(2)), soma.nn.Parameter(soma.zeros(2))
    with pytest.raises(ValueError, match="per-parameter options"):
        soma.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = soma.optim.LBFGS([a])
    with pytest.raises(ValueError, match="per-parameter options"):
        opt.add_param_group({"params": [b]})
    with pytest.raises(RuntimeError, match="needs a closure"):
        opt.step()


@needs_torch
def test_cubic_interpolate_matches_torch():
    from torch.optim.lbfgs import _cubic_interpolate

    cases = [(0.0, 1.0, -2.0, 1.0, 0.5, 1.0), (1.0, 2.0, 1.0, 0.0, 1.0, -1.0), (0, 1, 1, 1, 0, 1)]
    for case in cases:
        expected = _cubic_interpolate(*[torch.tensor(float(v)) for v in case])
        assert cubic_interpolate(*case) == pytest.approx(float(expected), rel=1e-6)
    # with bounds: d₁ = 3.5, d₂ = √11.25, x = 2 − 2(1 + d₂ − d₁)/(2d₂), inside (0.5, 3)
    d2 = 11.25**0.5
    expected = 2 - 2 * (1 + d2 - 3.5) / (2 * d2)
    assert cubic_interpolate(0, 1, 1, 2, 0, 1, bounds=(0.5, 3.0)) == pytest.approx(expected)
    assert cubic_interpolate(0, 1, 1, 2, 0, 1, bounds=(0.5, 1.5)) == 1.5
