"""Graph convolution (Kipf & Welling) with a sparse normalised adjacency, on a generated graph."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from _det import deterministic_init, report


class GraphConvolution(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.FloatTensor(in_features, out_features))
        self.bias = nn.Parameter(torch.FloatTensor(out_features))

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        return torch.spmm(adj, support) + self.bias


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass):
        super().__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def generated_graph(rng, n=60, classes=3):
    labels = np.arange(n) % classes
    same = labels[:, None] == labels[None, :]
    edges = rng.random((n, n)) < np.where(same, 0.2, 0.02)
    edges = np.triu(edges, 1)
    edges = edges | edges.T | np.eye(n, dtype=bool)
    deg = edges.sum(1)
    norm = edges / np.sqrt(deg[:, None] * deg[None, :])
    rows, cols = np.nonzero(norm)
    features = (rng.standard_normal((n, 8)) + labels[:, None] * 0.3).astype(np.float32)
    return rows, cols, norm[rows, cols].astype(np.float32), features, labels


def main():
    rng = np.random.default_rng(0)
    rows, cols, values, features, labels = generated_graph(rng)
    n = len(labels)
    adj = torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(values), (n, n)
    )
    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    idx_train, idx_test = torch.arange(0, n, 2), torch.arange(1, n, 2)
    model = deterministic_init(GCN(8, 16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses = []
    for epoch in range(30):  # noqa: B007
        model.train()
        optimizer.zero_grad()
        output = model(x, adj)
        loss = F.nll_loss(output[idx_train], y[idx_train])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    output = model(x, adj)
    acc = (output[idx_test].argmax(1) == y[idx_test]).float().mean().item()
    print(f"Test set results: loss= {losses[-1]:.4f} accuracy= {acc:.4f}")
    report(losses=losses, accuracy=acc, is_sparse=adj.is_sparse)


if __name__ == "__main__":
    main()
