"""Sparse COO tensors (issue 11): construction, coalescing, sparse @ dense with gradients to
both operands, against torch.sparse and finite differences; and the GCN example."""

import runpy
from pathlib import Path

import numpy as np
import pytest

import soma
from soma.testing import gradcheck
from tests.conftest import torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the reference oracle) is missing")
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")

# an uncoalesced 3×4 matrix: (0, 2) twice, unsorted
INDEX = np.array([[0, 2, 1, 0, 2], [2, 1, 0, 2, 3]])
VALUES = np.array([1.5, -2.0, 0.5, 3.0, 4.0])


def _sparse(fw, values=VALUES, requires_grad=False):
    v = fw.tensor(values, requires_grad=requires_grad)
    return fw.sparse_coo_tensor(fw.tensor(INDEX), v, (3, 4)), v


@needs_torch
def test_construction_coalesce_and_accessors_match_torch():
    ours, theirs = _sparse(soma)[0], _sparse(torch)[0]
    assert ours.is_sparse and not soma.zeros(2).is_sparse
    assert ours.shape == tuple(theirs.shape) and ours._nnz() == theirs._nnz() == 5
    assert not ours.is_coalesced() and not theirs.is_coalesced()
    np.testing.assert_array_equal(ours.to_dense().numpy(), theirs.to_dense().numpy())
    c_ours, c_theirs = ours.coalesce(), theirs.coalesce()
    assert c_ours.is_coalesced() and c_ours._nnz() == c_theirs._nnz() == 4
    np.testing.assert_array_equal(c_ours.indices().numpy(), c_theirs.indices().numpy())
    np.testing.assert_array_equal(c_ours.values().numpy(), c_theirs.values().numpy())
    with pytest.raises(RuntimeError, match="uncoalesced"):
        ours.indices()
    inferred = soma.sparse_coo_tensor(INDEX, VALUES)
    assert inferred.shape == tuple(torch.sparse_coo_tensor(INDEX, VALUES).shape) == (3, 4)
    assert "nnz=5" in repr(ours) and "sparse_coo" in repr(ours)


def _product(fw, how, a, x):
    if how == "sparse.mm":
        return fw.sparse.mm(a, x)
    if how == "mm":
        return fw.mm(a, x)
    if how == "spmm":
        return fw.spmm(a, x)
    if how == "vector" and fw is torch:
        return fw.mv(a, x)
    return a @ x


@needs_torch
@pytest.mark.parametrize("how", ["sparse.mm", "matmul_operator", "mm", "spmm", "vector"])
def test_sparse_times_dense_matches_torch_with_gradients(how):
    rng = np.random.default_rng(0)
    dense = rng.standard_normal(4 if how == "vector" else (4, 3))
    results = []
    for fw in (soma, torch):
        a, v = _sparse(fw, requires_grad=True)
        x = fw.tensor(dense, requires_grad=True)
        y = _product(fw, how, a, x)
        weights = fw.tensor(rng.standard_normal(tuple(y.shape)))
        (y * weights).sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(), v.grad.numpy()))
        rng = np.random.default_rng(0)
        rng.standard_normal(dense.shape)
    for ours, theirs in zip(*results):  # the product, and the gradients of x and the values
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@needs_torch
def test_dense_times_sparse_and_to_sparse_match_torch():
    rng = np.random.default_rng(1)
    left, square = rng.standard_normal((2, 3)), rng.uniform(0.5, 1.5, (3, 3))
    results = []
    for fw in (soma, torch):
        x = fw.tensor(left, requires_grad=True)
        m = fw.tensor(square, requires_grad=True)
        s = m.to_sparse()
        y = fw.mm(x, _sparse(fw)[0].to_dense()[:, :3].to_sparse()) + fw.sparse.mm(s, x.t()).t()
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(), m.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@needs_torch
def test_leaf_sparse_tensor_gets_a_sparse_gradient():
    results = []
    for fw in (soma, torch):
        a = fw.sparse_coo_tensor(fw.tensor(INDEX), fw.tensor(VALUES), (3, 4), requires_grad=True)
        fw.sparse.mm(a, fw.ones(4, 2, dtype=fw.float64)).sum().backward()
        assert a.grad.is_sparse and a.is_leaf
        results.append(a.grad.to_dense().numpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_gradients_match_finite_differences():
    x = soma.tensor(np.random.default_rng(2).standard_normal((4, 2)), requires_grad=True)
    v = soma.tensor(VALUES, requires_grad=True)

    def f(v, x):
        a = soma.sparse_coo_tensor(INDEX, v, (3, 4))
        return soma.tanh(a @ x) * 2 + a.coalesce().to_dense().sum() * (a * 0.5).to_dense()[0, 2]

    assert gradcheck(f, [v, x], eps=1e-6, atol=1e-6, rtol=1e-4)


def test_hand_worked_product_and_errors():
    a = soma.sparse_coo_tensor([[0, 1, 1], [1, 0, 1]], [2.0, 3.0, 4.0], (2, 2))
    assert (a @ soma.tensor([[1.0], [10.0]])).tolist() == [[20.0], [43.0]]
    assert soma.sparse.sum(a).item() == 9.0
    assert soma.sparse.addmm(soma.ones(2, 1), a, soma.ones(2, 1), beta=2.0).tolist() == [
        [4.0],
        [9.0],
    ]
    with pytest.raises(ValueError, match="cannot be multiplied"):
        a @ soma.ones(3, 1)
    with pytest.raises(ValueError, match="out of bounds"):
        soma.sparse_coo_tensor([[0, 5]], [1.0, 2.0], (3,))
    with pytest.raises(ValueError, match="one entry per index"):
        soma.sparse_coo_tensor([[0, 1]], [1.0], (3,))
    with pytest.raises(TypeError, match="sparse @ sparse"):
        a @ a


# ---------------------------------------------------------------------- the GCN example
EXAMPLE = Path(__file__).parent.parent / "examples" / "gcn.py"


def test_gcn_example_learns_from_the_graph(capsys):
    results = runpy.run_path(str(EXAMPLE))["main"](epochs=200, seed=0)
    # measured: 0.959 with the graph, 0.685 without (seeds 1-3: ≥ 0.915 against ≤ 0.796)
    assert results["gcn"] > 0.85
    assert results["gcn"] > results["no graph"] + 0.1
    assert "gcn: test accuracy" in capsys.readouterr().out


@needs_torch
def test_gcn_matches_torch_with_the_same_weights():
    ns = runpy.run_path(str(EXAMPLE))
    edges, features, labels = ns["stochastic_block_model"](0)
    n = labels.size
    ours = ns["GCN"](features.shape[1], 16, 3)
    ours.eval()

    class TorchGraphConv(torch.nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.linear = torch.nn.Linear(i, o)

        def forward(self, x, adjacency):
            return torch.sparse.mm(adjacency, self.linear(x))

    class TorchGCN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = TorchGraphConv(16, 16), TorchGraphConv(16, 3)
            self.dropout = torch.nn.Dropout(0.5)

        def forward(self, x, adjacency):
            return self.conv2(self.dropout(torch.relu(self.conv1(x, adjacency))), adjacency)

    theirs = TorchGCN().eval()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    y = labels[:40]
    outs = []
    for fw, model in ((soma, ours), (torch, theirs)):
        adjacency = ns["normalized_adjacency"](edges, n, fw)
        logits = model(fw.tensor(features), adjacency)
        fw.nn.functional.cross_entropy(logits[:40], fw.tensor(y)).backward()
        grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
        outs.append((logits.detach().numpy(), grads))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    for name, g in outs[1][1].items():
        np.testing.assert_allclose(outs[0][1][name], g, rtol=1e-4, atol=1e-6, err_msg=name)
