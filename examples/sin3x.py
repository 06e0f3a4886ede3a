"""The lecture's first network: an MLP that learns f(x) = sin(3x) on [-1, 1].

The model, loss, optimizer and training loop are the lecture's PyTorch code
(`shared/seeds/003_…`, "Neural nets basics") with one change: `import soma as torch`.
The lecture leaves `x` and `f` implicit; they are defined below as it describes them.
After training, the script shows that the fit fails outside the training range.

    python examples/sin3x.py [--out DIR]
"""

import argparse
import os

import soma as torch  # the only change to the lecture's code

torch.manual_seed(0)
x = torch.linspace(-1, 1, 1000)  # "X is in the range -1 <= x <= 1"


def f(x):
    return torch.sin(3 * x)


# --- the lecture's code, verbatim ---------------------------------------------------------
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # A linear layer applies a linear transformation to the incoming data from 1 feature (input) to 64 features
        self.hidden1 = torch.nn.Linear(1, 64)  # 1 input, 64 hidden neurons in layer 1
        self.hidden2 = torch.nn.Linear(64, 128)  # 64 input, 128 hidden neurons in layer 2
        self.output = torch.nn.Linear(128, 1)  # 128 input, 1 output

    def forward(self, x):
        # relu is an activation function
        # using it, the neuron is activated if the input is greater than 0
        # it is used to introduce non-linearity in the network and make the network capable to learn
        # and perform more complex tasks
        x = torch.relu(self.hidden1(x))
        x = torch.relu(self.hidden2(x))
        x = self.output(x)
        return x


net = Net()  # our neural network which tries to learn the function f(x) = sin(3x)
criterion = torch.nn.MSELoss()  # mean-squared error loss
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)  # Using Adam optimizer

for epoch in range(1000):
    running_loss = 0.0
    optimizer.zero_grad()  # zero the gradient buffers
    outputs = net(x.unsqueeze(1))  # calculate the output from the net (net(x) approximates f(x))
    loss = criterion(outputs.squeeze(), f(x))  # f(x) is the target function (sin(3x))
    loss.backward()  # back-propagate the loss
    optimizer.step()  # Does the update, update the weights of the network
    running_loss += loss.item()  # keep track of the loss for logging purposes

    if epoch % 100 == 0:
        print(f"Epoch {epoch}: Loss = {loss.detach().numpy()}")
# --- end of the lecture's code ------------------------------------------------------------


def mse_on(lo, hi, n=1000):
    """Mean squared error of the trained net on [lo, hi]."""
    xs = torch.linspace(lo, hi, n)
    with torch.no_grad():
        return criterion(net(xs.unsqueeze(1)).squeeze(), f(xs)).item()


def main(out_dir=None):
    inside = mse_on(-1, 1)
    outside = (mse_on(-3, -1) + mse_on(1, 3)) / 2
    print(f"final training loss: {loss.item():.2e}")
    print(f"MSE inside the training range  [-1, 1]:        {inside:.2e}")
    print(
        f"MSE outside the training range [-3,-1]∪[1, 3]: {outside:.2e}  <- the net does not generalise there"
    )
    if out_dir:
        path = plot(out_dir)
        if path:
            print(f"plot written to {path}")
    return inside, outside


def plot(out_dir):
    """Save the fit on [-3, 3] next to sin(3x) as a PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install soma[plot]): skipping the plot")
        return None
    xs = torch.linspace(-3, 3, 600)
    with torch.no_grad():
        ys = net(xs.unsqueeze(1)).squeeze()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axvspan(-1, 1, color="0.92", label="training range")
    ax.plot(xs.numpy(), f(xs).numpy(), label="sin(3x)")
    ax.plot(xs.numpy(), ys.numpy(), "--", label="network")
    ax.set_xlabel("x")
    ax.legend()
    ax.set_title("An MLP fits sin(3x) where it was trained, and only there")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "sin3x.png")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/sin3x", help="folder for the plot")
    main(parser.parse_args().out)
