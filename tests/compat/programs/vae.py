"""A variational autoencoder (pytorch/examples vae/main.py, smaller), a few Adam steps.

The reparameterisation noise is drawn from NumPy so PyTorch and soma see the same samples.
"""

import numpy as np
import torch
from _det import deterministic_init, report
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self, d=64, h=32, z=4):
        super().__init__()
        self.fc1 = nn.Linear(d, h)
        self.fc21 = nn.Linear(h, z)
        self.fc22 = nn.Linear(h, z)
        self.fc3 = nn.Linear(z, h)
        self.fc4 = nn.Linear(h, d)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps):
        std = torch.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    rng = np.random.default_rng(0)
    data = torch.from_numpy((rng.random((32, 1, 8, 8)) > 0.5).astype(np.float32))
    model = deterministic_init(VAE())
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for step in range(5):
        eps = torch.from_numpy(rng.standard_normal((32, 4)).astype(np.float32))
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data, eps)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data))
        print(f"Train step: {step} \tLoss: {loss.item() / len(data):.6f}")
    model.eval()
    with torch.no_grad():
        sample = model.decode(torch.from_numpy(rng.standard_normal((4, 4)).astype(np.float32)))
    report(losses=losses, sample=sample.view(4, 8, 8).sum(dim=(1, 2)).tolist())


if __name__ == "__main__":
    main()
