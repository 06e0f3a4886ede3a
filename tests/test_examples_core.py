"""The lecture's own claims about dense networks, checked by running them."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import soma
from soma import nn

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_sin3x_example_fits_inside_and_fails_outside(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sin3x.py"])
    namespace = runpy.run_path(str(EXAMPLES / "sin3x.py"))
    inside, outside = namespace["main"](str(tmp_path))
    printed = capsys.readouterr().out
    losses = [
        float(line.split("= ")[1]) for line in printed.splitlines() if line.startswith("Epoch")
    ]
    assert len(losses) == 10 and losses[0] > 0.1
    # NOTE: Adam at lr 0.01 spikes now and then (the lecture's own log shows 1.2e-3 at epoch
    # 500), and where a spike falls depends on BLAS summation order; the claim is that the
    # loss reaches the 1e-3 range and stays near it.
    assert min(losses[1:]) < 1e-3
    assert inside < 1e-2
    assert outside > 100 * inside  # the lecture's point: no generalisation outside [-1, 1]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "sin3x.png").stat().st_size > 10_000


def _xor():
    x = soma.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return x, soma.tensor([0, 1, 1, 0])


def _spirals(n=200, seed=0):
    """Two interleaved spirals (the lecture's green-vs-red points), n points each."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.01, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return soma.tensor(x.astype(np.float32)), soma.tensor(y)


def _mlp(depth, width, activation):
    layers, fan_in = [], 2
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width)] + ([activation()] if activation else [])
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, 2))


def _train_accuracy(model, x, y, steps, lr):
    optimizer = soma.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(x)
        loss = -logits.log_softmax(1).gather(1, y.unsqueeze(1)).mean()
        loss.backward()
        optimizer.step()
    with soma.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_linear_activations_cannot_separate_xor_at_any_depth(depth):
    x, y = _xor()
    accuracy = _train_accuracy(_mlp(depth, 16, None), x, y, steps=400, lr=0.05)
    assert accuracy <= 0.75  # a linear map gets at most 3 of the 4 points right


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh])
def test_a_nonlinear_network_separates_xor(activation):
    soma.manual_seed(1)
    x, y = _xor()
    assert _train_accuracy(_mlp(1, 16, activation), x, y, steps=400, lr=0.05) == 1.0


@pytest.mark.parametrize("depth", [1, 4])
def test_linear_activations_cannot_separate_spirals(depth):
    x, y = _spirals()
    assert _train_accuracy(_mlp(depth, 32, None), x, y, steps=300, lr=0.02) < 0.75


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh])
def test_a_nonlinear_network_separates_spirals(activation):
    x, y = _spirals()
    assert _train_accuracy(_mlp(3, 64, activation), x, y, steps=1500, lr=0.01) >= 0.98
