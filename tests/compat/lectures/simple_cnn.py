# ruff: noqa
"""The lecture's SimpleCNN (seeds/003_…), which begins with `import torch.nn as nn`.

Run with `soma run` unchanged; the lines after the verbatim block instantiate it (7x7 inputs:
the lecture's `64 * 7 * 7` fully connected layer follows two size-keeping convolutions) and
train it for a few steps.

    soma run tests/compat/lectures/simple_cnn.py
"""
# fmt: off
# --- the lecture's code, verbatim (shared/seeds/003_…) ---

import torch.nn as nn
class SimpleCNN(nn.Module):
    def __init__(self, input_channels, num_classes):
        super(SimpleCNN, self).__init__()
        # First sequence: CONV -> BatchNorm -> ReLU -> Dropout
        self.conv1 = nn.Conv2d(in_channels=input_channels, out_channels=32, kernel_size=3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(0.5)
        # Second sequence: CONV
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(0.5)
        # Fully Connected
        self.fc = nn.Linear(64 * 7 * 7, num_classes)

    def forward(self, x):
        # First sequence
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu1(x)
        x = self.dropout1(x)
        # Second sequence
        x = self.conv2(x)
        x = self.bn2(x)
        x = self.relu2(x)
        x = self.dropout2(x)
        # Flatten and pass through FC
        x = x.view(x.size(0), -1)
        x = self.fc(x)
        return x

# --- end of the lecture's code ---
# fmt: on

import torch

torch.manual_seed(0)
model = SimpleCNN(input_channels=3, num_classes=4)
images = torch.randn(16, 3, 7, 7)
labels = torch.arange(16) % 4
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for step in range(30):
    optimizer.zero_grad()
    loss = criterion(model(images), labels)
    loss.backward()
    optimizer.step()
    if step % 10 == 0:
        print(f"step {step}: loss {loss.item():.4f}")
model.eval()
with torch.no_grad():
    accuracy = (model(images).argmax(1) == labels).float().mean()
print(f"output shape {tuple(model(images).shape)}, train accuracy {accuracy:.2f}")
