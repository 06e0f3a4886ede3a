"""Node classification with a graph convolutional network (Kipf & Welling, 2017) on a sparse
adjacency matrix.

The graph is a stochastic block model: 3 communities of 100 nodes, an edge inside a
community with probability 0.06 and across communities with 0.01 (about 6 neighbours inside,
2 outside). Each node's 16 features are its community's mean plus noise of twice the size, so
a node's own features say little about its class; its neighbourhood says much more. Only 10
nodes per class are labelled for training.

A GCN layer mixes each node with its neighbours through the normalised adjacency
Â = D^-1/2 (A + I) D^-1/2, stored as a sparse COO tensor:

    H' = Â H W          (then ReLU and dropout between the two layers)

With the defaults (200 full-batch Adam steps, seed 0) the test accuracy was 0.959 for the
GCN and 0.685 for the same network without the graph (Â replaced by the identity, an MLP);
seeds 1-3 gave 0.985, 0.915, 0.952 against 0.756, 0.737, 0.796.

    python examples/gcn.py [--epochs 200] [--seed 0]
"""

import argparse

import numpy as np

import soma
from soma import nn


def stochastic_block_model(seed=0, per_class=100, classes=3, p_in=0.06, p_out=0.01, dim=16):
    """(edges (2, E) undirected both ways, features (N, dim) float32, labels (N,) int64)."""
    rng = np.random.default_rng(seed)
    n = per_class * classes
    labels = np.repeat(np.arange(classes), per_class)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(rng.uniform(size=(n, n)) < np.where(same, p_in, p_out), k=1)
    rows, cols = np.nonzero(upper | upper.T)
    means = rng.standard_normal((classes, dim))
    features = means[labels] + 2.0 * rng.standard_normal((n, dim))
    return np.stack([rows, cols]), features.astype(np.float32), labels


def normalized_adjacency(edges, n, fw=soma):
    """Â = D^-1/2 (A + I) D^-1/2 as an (n, n) sparse COO tensor of framework ``fw``."""
    loops = np.arange(n)
    rows = np.concatenate([edges[0], loops])
    cols = np.concatenate([edges[1], loops])
    degree = np.bincount(rows, minlength=n).astype(np.float64)
    values = (degree[rows] * degree[cols]) ** -0.5
    indices = fw.tensor(np.stack([rows, cols]))
    return fw.sparse_coo_tensor(indices, fw.tensor(values.astype(np.float32)), (n, n)).coalesce()


def split(labels, per_class=10, seed=0):
    """Boolean masks: ``per_class`` labelled training nodes per class, the rest for testing."""
    rng = np.random.default_rng(seed + 1)
    train = np.zeros(labels.size, dtype=bool)
    for c in np.unique(labels):
        train[rng.choice(np.flatnonzero(labels == c), per_class, replace=False)] = True
    return train, ~train


class GraphConv(nn.Module):
    """One graph convolution: Â (X W) + b, the product with Â sparse."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x, adjacency):
        return soma.sparse.mm(adjacency, self.linear(x))


class GCN(nn.Module):
    """Two graph convolutions with ReLU and dropout between them; logits per node."""

    def __init__(self, in_features, hidden, classes, dropout=0.5):
        super().__init__()
        self.conv1 = GraphConv(in_features, hidden)
        self.conv2 = GraphConv(hidden, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, adjacency):
        h = self.dropout(soma.relu(self.conv1(x, adjacency)))
        return self.conv2(h, adjacency)


def train(model, x, adjacency, labels, train_mask, test_mask, epochs=200, lr=0.01):
    """Full-batch Adam on the training nodes; returns the test accuracy."""
    optimizer = soma.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    y = soma.tensor(labels)
    train_idx, test_idx = soma.tensor(np.flatnonzero(train_mask)), np.flatnonzero(test_mask)
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x, adjacency)[train_idx], y[train_idx])
        loss.backward()
        optimizer.step()
    model.eval()
    with soma.no_grad():
        predicted = model(x, adjacency).argmax(1).numpy()
    return float((predicted[test_idx] == labels[test_idx]).mean())


def main(epochs=200, seed=0):
    """Train the GCN and the graph-free baseline; print and return both test accuracies."""
    edges, features, labels = stochastic_block_model(seed)
    n = labels.size
    train_mask, test_mask = split(labels, seed=seed)
    x = soma.tensor(features)
    adjacency = normalized_adjacency(edges, n)
    identity = soma.sparse_coo_tensor(np.stack([np.arange(n)] * 2), np.ones(n, np.float32))
    results = {}
    for name, graph in (("gcn", adjacency), ("no graph", identity)):
        soma.manual_seed(seed)
        model = GCN(features.shape[1], 16, int(labels.max()) + 1)
        results[name] = train(model, x, graph, labels, train_mask, test_mask, epochs)
        print(f"{name}: test accuracy {results[name]:.3f}")
    print(f"graph: {n} nodes, {edges.shape[1] // 2} edges, adjacency nnz {adjacency._nnz()}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.epochs, args.seed)
