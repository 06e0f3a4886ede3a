"""The adding problem (Hochreiter & Schmidhuber, 1997): memory a plain RNN does not have.

Each input is a sequence of T steps with two features: a random number in [0, 1] and a marker
that is 1 at exactly two steps, one in each half of the sequence. The target, read after the
last step, is the sum of the two marked numbers. Predicting the mean (1.0) gives a mean squared
error of 1/6 ≈ 0.167; beating that requires carrying a number across tens of steps of
distractors.

A plain (Elman) RNN rewrites its whole hidden state at every step, and its gradient shrinks
geometrically on the way back through time: it stays at the baseline. An LSTM keeps a cell
state that its gates can leave untouched (c_t = f·c_{t-1} + i·g, with f ≈ 1 and i ≈ 0 between
the markers), and both the number and its gradient survive the gap.

The LSTM's forget-gate biases use "chrono" initialisation (Tallec & Ollivier, 2018):
b_f ~ log U(1, T - 1) and b_i = -b_f, which starts each memory cell with a characteristic time
between 1 and T steps. The RNN keeps PyTorch's default initialisation (nothing comparable
exists for it). Both get the same optimizer, learning rate and number of updates. With the
defaults (T = 50, 500 Adam steps of 32 sequences) the test errors were RNN 0.1639, LSTM 0.0010.

    python examples/adding_problem.py [--seq-len 50] [--steps 500]
"""

import argparse
import math

import numpy as np

import soma
from soma import nn


def adding_batch(rng, batch: int, seq_len: int):
    """Inputs (batch, seq_len, 2) and targets (batch, 1) of the adding problem."""
    values = rng.uniform(0, 1, (batch, seq_len))
    markers = np.zeros((batch, seq_len))
    rows = np.arange(batch)
    first = rng.integers(0, seq_len // 2, batch)
    second = rng.integers(seq_len // 2, seq_len, batch)
    markers[rows, first] = 1
    markers[rows, second] = 1
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]
    return soma.tensor(x), soma.tensor(y)


class Regressor(nn.Module):
    """A recurrent layer read out by a linear layer after the last step."""

    def __init__(self, kind: str, hidden: int):
        super().__init__()
        self.rnn = getattr(nn, kind)(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def chrono_init_(lstm: nn.LSTM, max_steps: int, generator=None) -> None:
    """Forget-gate bias log U(1, max_steps - 1), input-gate bias its negative (layer 0)."""
    hidden = lstm.hidden_size
    rng = soma.backend.random.resolve(generator)
    forget = np.log(rng.uniform(1, max_steps - 1, hidden))
    with soma.no_grad():
        lstm.bias_hh_l0.array[...] = 0
        lstm.bias_ih_l0.array[hidden : 2 * hidden] = forget
        lstm.bias_ih_l0.array[:hidden] = -forget


def train(
    kind: str,
    seq_len: int = 50,
    steps: int = 500,
    hidden: int = 32,
    batch: int = 32,
    lr: float = 2e-2,
    seed: int = 0,
    log_every: int = 0,
) -> float:
    """Train one model; return its mean squared error on 1000 fresh sequences."""
    soma.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Regressor(kind, hidden)
    if kind == "LSTM":
        chrono_init_(model.rnn, seq_len)
    optimizer = soma.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    for step in range(steps):
        x, y = adding_batch(rng, batch, seq_len)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        if log_every and step % log_every == 0:
            print(f"{kind:4s} step {step:4d}  loss {loss.item():.4f}")
    x, y = adding_batch(np.random.default_rng(10_000 + seed), 1000, seq_len)
    with soma.no_grad():
        return criterion(model(x), y).item()


def main(seq_len: int = 50, steps: int = 500, seed: int = 0, log_every: int = 100) -> dict:
    baseline = 1 / 6
    results = {}
    for kind in ("RNN", "LSTM"):
        results[kind] = train(kind, seq_len, steps, seed=seed, log_every=log_every)
    print(f"\nadding problem, T = {seq_len}: test MSE (predicting the mean gives {baseline:.3f})")
    for kind, mse in results.items():
        verdict = (
            "solved"
            if mse < 0.1 * baseline
            else "no better than the mean"
            if mse > 0.8 * baseline
            else "partly"
        )
        print(f"  {kind:4s} {mse:.4f}  ({verdict}; {math.sqrt(mse):.3f} RMS error)")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.seq_len, args.steps, args.seed)
