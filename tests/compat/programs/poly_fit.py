"""Polynomial regression (pytorch/examples regression/main.py) printing with format specs."""

import numpy as np
import torch
import torch.nn.functional as F
from _det import report

POLY_DEGREE = 4
W_target = torch.tensor([[0.5], [-1.2], [0.3], [0.8]])
b_target = torch.tensor([0.7])


def make_features(x):
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    result = "y = "
    for i, w in enumerate(W):
        result += f"{w:+.2f} x^{i + 1} "
    result += f"{b[0]:+.2f}"
    return result


def main():
    rng = np.random.default_rng(0)
    fc = torch.nn.Linear(W_target.size(0), 1)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, (1, 4)).astype(np.float32)))
        fc.bias.zero_()
    losses = []
    for batch_idx in range(1, 201):  # noqa: B007
        random = torch.from_numpy(rng.standard_normal(32).astype(np.float32))
        batch_x = make_features(random)
        batch_y = f(batch_x)
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        losses.append(loss)
    print(f"Loss: {loss:.6f} after {batch_idx} batches")
    learned = poly_desc(fc.weight.view(-1), fc.bias)
    actual = poly_desc(W_target.view(-1), b_target)
    print("==> Learned function:\t" + learned)
    print("==> Actual function:\t" + actual)
    last = torch.tensor(losses[-1])
    report(
        losses=losses[::25],
        learned=learned,
        actual=actual,
        formatted=[
            f"{last:.3e}",
            f"{last:10.4f}",
            f"{torch.tensor(-1.5):+.2f}",
            f"{torch.tensor(7):d}",
            f"{torch.tensor(3.25)}",
        ],
    )


if __name__ == "__main__":
    main()
