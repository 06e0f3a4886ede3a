"""A tutorial's script, printed output and all: seeded data, a CNN with dropout, a shuffling
DataLoader, SGD with momentum. Run with PyTorch and through ``soma run``, it prints the same
text, character for character (tests/compat/test_import_hook.py): the same random numbers,
tensor formatting, module and optimizer reprs, and graph-node names."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# two decimals: float32 sums in another order move the last digits of PyTorch's own results
# between CPUs, and rand (not randn, whose float32 kernel is CPU-specific) for the data
torch.set_printoptions(precision=2)
torch.manual_seed(42)
x = torch.rand(64, 1, 8, 8) * 2 - 1
y = torch.randint(0, 3, (64,))
print(x[0, 0, :2])
print(y[:10])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.conv(x)))
        x = self.drop(torch.flatten(x, 1))
        return self.fc(x)


model = Net()
print(model)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
print(opt)
loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
for epoch in range(2):
    for xb, yb in loader:
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(epoch, loss)
print(model.fc.bias)
print(out[:2])
