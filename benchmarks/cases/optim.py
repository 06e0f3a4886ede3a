"""Optimizers: ``optimizer.step()`` alone, on fixed gradients (the update is on the hot path of
small-network training)."""

from benchmarks.harness import Case


def _with_grads(torch, net, x, target):
    loss = ((net(x) - target) ** 2).mean()
    loss.backward()
    return net


def sin3x_adam_step(torch):
    """Adam(lr=0.01).step() on the lecture's Net 1→64→128→1 (6 parameter tensors)."""
    net = torch.nn.Sequential(
        torch.nn.Linear(1, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 1),
    )
    x = torch.linspace(-1, 1, 1000).unsqueeze(1)
    _with_grads(torch, net, x, torch.sin(3 * x))
    return torch.optim.Adam(net.parameters(), lr=0.01).step


def mlp_sgd_momentum_step(torch):
    """SGD(lr=0.01, momentum=0.9).step() on a 784→512→256→10 MLP (535k parameters)."""
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    _with_grads(torch, net, torch.randn(128, 784), torch.randn(128, 10))
    return torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9).step


CASES = [
    Case("sin3x_adam_step", "optim", "Adam.step() on Net 1-64-128-1", sin3x_adam_step),
    Case(
        "mlp_sgd_step", "optim", "SGD-momentum.step() on MLP 784-512-256-10", mlp_sgd_momentum_step
    ),
]
