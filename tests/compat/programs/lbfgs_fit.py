"""Fit a small MLP to a curve with L-BFGS and a closure (pytorch/examples time-sequence style)."""

import torch
import torch.nn as nn
import torch.optim as optim
from _det import deterministic_init, report


def main():
    torch.set_default_dtype(torch.float64)
    x = torch.linspace(-2, 2, 50).unsqueeze(1)
    y = torch.sin(2 * x) + 0.1 * x**2
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    deterministic_init(model)
    model.double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(
        model.parameters(), lr=0.8, history_size=10, max_iter=20, line_search_fn="strong_wolfe"
    )
    losses = []
    for i in range(4):

        def closure():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        losses.append(loss.item())
        print("STEP: ", i, "loss:", f"{loss.item():.8f}")
    report(losses=losses, final=criterion(model(x), y).item(), dtype=str(x.dtype))
    torch.set_default_dtype(torch.float32)


if __name__ == "__main__":
    main()
