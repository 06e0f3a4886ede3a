# ruff: noqa
"""The lecture's sin(3x) network (seeds/003_…, "In pytorch"), run with `soma run` unchanged.

The lecture leaves `x` and `f` implicit ("X is in the range -1 <= x <= 1", f = sin(3x)); the
lines before the verbatim block define them, and nothing in the block is changed.

    soma run tests/compat/lectures/sin3x.py
"""

import torch

torch.manual_seed(0)
x = torch.linspace(-1, 1, 1000)


def f(x):
    return torch.sin(3 * x)


# fmt: off
# --- the lecture's code, verbatim (shared/seeds/003_…) ---
class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        # A linear layer applies a linear transformation to the incoming data from 1 feature (input) to 64 features
        self.hidden1 = torch.nn.Linear(1, 64) # 1 input, 64 hidden neurons in layer 1
        self.hidden2 = torch.nn.Linear(64, 128) # 64 input, 128 hidden neurons in layer 2
        self.output = torch.nn.Linear(128, 1) # 128 input, 1 output

    def forward(self, x):
        # relu is an activation function
        # using it, the neuron is activated if the input is greater than 0
        # it is used to introduce non-linearity in the network and make the network capable to learn
        # and perform more complex tasks
        x = torch.relu(self.hidden1(x))
        x = torch.relu(self.hidden2(x))
        x = self.output(x)
        return x

net = Net() # our neural network which tries to learn the function f(x) = sin(3x)
criterion = torch.nn.MSELoss() # mean-squared error loss
optimizer = torch.optim.Adam(net.parameters(), lr=0.01) # Using Adam optimizer

for epoch in range(1000):
    running_loss = 0.0
    optimizer.zero_grad() # zero the gradient buffers
    outputs = net(x.unsqueeze(1)) # calculate the output from the net (net(x) approximates f(x))
    loss = criterion(outputs.squeeze(), f(x)) # f(x) is the target function (sin(3x))
    loss.backward() # back-propagate the loss
    optimizer.step() # Does the update, update the weights of the network
    running_loss += loss.item() # keep track of the loss for logging purposes

    if epoch % 100 == 0:
        print("Epoch {}: Loss = {}".format(epoch, loss.detach().numpy()))
# --- end of the lecture's code ---
# fmt: on
