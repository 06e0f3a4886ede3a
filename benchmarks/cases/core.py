"""Core (issue: tensors, dense networks, optimizers): dense-network training and inference."""

from benchmarks.harness import Case


def sin3x_training_step(torch):
    """The lecture's Net (1→64→128→1, ReLU), MSE, Adam(lr=0.01), full batch of 1000 points."""
    x = torch.linspace(-1, 1, 1000)
    y = torch.sin(3 * x)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden1 = torch.nn.Linear(1, 64)
            self.hidden2 = torch.nn.Linear(64, 128)
            self.output = torch.nn.Linear(128, 1)

        def forward(self, x):
            x = torch.relu(self.hidden1(x))
            x = torch.relu(self.hidden2(x))
            return self.output(x)

    net = Net()
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad()
        loss = criterion(net(x.unsqueeze(1)).squeeze(), y)
        loss.backward()
        optimizer.step()

    return step


def _mlp(torch):
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )


def mlp_training_step(torch):
    """784→512→256→10 ReLU MLP, batch 128, cross-entropy, SGD with momentum 0.9."""
    net = _mlp(torch)
    x = torch.randn(128, 784)
    t = torch.randint(0, 10, (128,))
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        criterion(net(x), t).backward()
        optimizer.step()

    return step


def mlp_inference(torch):
    """The same MLP, forward only under no_grad, batch 1024."""
    net = _mlp(torch).eval()
    x = torch.randn(1024, 784)

    def step():
        with torch.no_grad():
            net(x)

    return step


def activations_step(torch):
    """Forward and backward of the common activations on one 1000x128 float32 batch."""
    F = torch.nn.functional
    x = torch.randn(1000, 128, requires_grad=True)
    fns = [F.relu, F.leaky_relu, F.gelu, F.silu, F.elu, F.softplus, torch.sigmoid, torch.tanh]

    def step():
        x.grad = None
        total = fns[0](x).sum()
        for f in fns[1:]:
            total = total + f(x).sum()
        total.backward()

    return step


CASES = [
    # small networks: the goal is 0.7
    Case(
        "sin3x_train", "core", "lecture Net 1-64-128-1, Adam, batch 1000", sin3x_training_step, 0.7
    ),
    Case(
        "mlp_train",
        "core",
        "MLP 784-512-256-10, SGD-momentum, CE, batch 128",
        mlp_training_step,
        0.7,
    ),
    Case("mlp_infer", "core", "MLP 784-512-256-10 inference, batch 1024", mlp_inference, 0.7),
    Case("activations", "core", "8 activations fwd+bwd (relu … tanh), 1000x128", activations_step),
]
