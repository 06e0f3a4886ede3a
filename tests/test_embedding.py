"""Embedding, EmbeddingBag and one_hot against PyTorch."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from tests.conftest import copy_weights
from tests.torch_oracle import torch


@pytest.mark.parametrize("padding_idx", [None, 3, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_matches_torch(padding_idx, scale_grad_by_freq):
    theirs = torch.nn.Embedding(
        10, 4, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    ).double()
    ours = copy_weights(
        soma.nn.Embedding(10, 4, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq),
        theirs,
    )
    ours.to(soma.float64)
    ids = np.array([[1, 3, 3, 9], [0, 3, 1, 1], [9, 9, 9, 2]])
    g = np.random.default_rng(0).standard_normal((3, 4, 4))
    out_s, out_t = ours(soma.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_array_equal(out_s.detach().numpy(), out_t.detach().numpy())
    (out_s * soma.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-12)


def test_padding_row_starts_at_zero_and_stays_frozen():
    emb = soma.nn.Embedding(5, 3, padding_idx=2)
    assert np.all(emb.weight.detach().numpy()[2] == 0)
    emb(soma.tensor([2, 2, 1])).sum().backward()
    assert np.all(emb.weight.grad.numpy()[2] == 0)
    assert np.all(emb.weight.grad.numpy()[1] == 1)


def test_max_norm_renormalises_looked_up_rows_like_torch():
    w = np.random.default_rng(1).standard_normal((6, 3)) * 3
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), max_norm=1.5, freeze=False)
    ours = soma.nn.Embedding.from_pretrained(soma.tensor(w), max_norm=1.5, freeze=False)
    ids = [0, 2, 2, 5]
    out_s, out_t = ours(soma.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-6
    )
    assert np.allclose(ours.weight.detach().numpy()[1], w[1])  # not looked up: untouched


def test_from_pretrained_is_frozen_by_default():
    emb = soma.nn.Embedding.from_pretrained(soma.eye(3))
    assert not emb.weight.requires_grad
    assert emb(soma.tensor([1])).tolist() == [[0.0, 1.0, 0.0]]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["offsets", "offsets_last", "2d"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_matches_torch(mode, layout, padding_idx):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((10, 4))
    if layout == "2d":
        ids, offsets, last = np.array([[1, 4, 4], [9, 0, 3]]), None, False
    else:
        ids = np.array([1, 2, 4, 5, 4, 3, 2, 9])
        last = layout == "offsets_last"
        offsets = np.array([0, 3, 3, 6] + ([8] if last else []))
    psw = rng.standard_normal(ids.shape) if mode == "sum" else None
    results = []
    for fw in (soma, torch):
        weight = fw.tensor(w, requires_grad=True)
        out = fw.nn.functional.embedding_bag(
            fw.tensor(ids),
            weight,
            None if offsets is None else fw.tensor(offsets),
            mode=mode,
            per_sample_weights=None if psw is None else fw.tensor(psw),
            include_last_offset=last,
            padding_idx=padding_idx,
        )
        (
            out * fw.tensor(np.arange(out.numel(), dtype=float).reshape(tuple(out.shape)))
        ).sum().backward()
        results.append((out.detach().numpy(), weight.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_embedding_bag_module_matches_torch():
    theirs = torch.nn.EmbeddingBag(10, 3, mode="mean")
    ours = copy_weights(soma.nn.EmbeddingBag(10, 3, mode="mean"), theirs)
    ids, offsets = [1, 2, 4, 5, 4], [0, 2]
    np.testing.assert_allclose(
        ours(soma.tensor(ids), soma.tensor(offsets)).detach().numpy(),
        theirs(torch.tensor(ids), torch.tensor(offsets)).detach().numpy(),
        rtol=1e-6,
    )


def test_one_hot_matches_torch():
    ids = np.array([[0, 3], [2, 1]])
    assert (
        F.one_hot(soma.tensor(ids)).tolist()
        == torch.nn.functional.one_hot(torch.tensor(ids)).tolist()
    )
    assert F.one_hot(soma.tensor(ids), 6).dtype == np.int64
    assert tuple(F.one_hot(soma.tensor(ids), 6).shape) == (2, 2, 6)


def test_errors_name_the_op_and_values():
    emb = soma.nn.Sequential(soma.nn.Embedding(5, 2))
    with pytest.raises(IndexError, match=r"'0'.*embedding: id 7 is out of range for a table of 5"):
        emb(soma.tensor([1, 7]))
    with pytest.raises(TypeError, match="integer ids"):
        emb(soma.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        soma.nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="num_classes=2"):
        F.one_hot(soma.tensor([0, 3]), 2)
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(soma.tensor([[1, 2]]), soma.randn(5, 2), soma.tensor([0]))


def test_repr():
    assert repr(soma.nn.Embedding(5, 2, padding_idx=1)) == "Embedding(5, 2, padding_idx=1)"
