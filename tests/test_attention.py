"""scaled_dot_product_attention and MultiheadAttention against PyTorch (weights copied)."""

import itertools

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from tests.conftest import copy_weights
from tests.torch_oracle import torch

L, S, N, E = 4, 6, 3, 8
MASKS = ["none", "bool", "float", "bool_3d", "padding_bool", "padding_float", "both"]


def _masks(kind, heads, length, rng):
    """(attn_mask, key_padding_mask) as NumPy arrays (or None) of the given kind."""
    attn = padding = None
    if kind in ("bool", "both"):
        attn = rng.random((length, S)) < 0.3
        attn[:, 0] = False  # every query keeps one key
    if kind == "float":
        attn = rng.standard_normal((length, S))
    if kind == "bool_3d":
        attn = rng.random((N * heads, length, S)) < 0.3
        attn[..., 0] = False
    if kind in ("padding_bool", "both"):
        padding = np.zeros((N, S), dtype=bool)
        padding[1, 4:] = True
    if kind == "padding_float":
        padding = np.where(rng.random((N, S)) < 0.3, -1e9, 0.0)
    return attn, padding


def _mha_pair(heads, **kwargs):
    theirs = torch.nn.MultiheadAttention(E, heads, **kwargs).double()
    ours = soma.nn.MultiheadAttention(E, heads, **kwargs)
    copy_weights(ours, theirs)
    return ours.to(soma.float64), theirs


def _run_mha(framework, module, arrays, masks, **call):
    """Forward, backward; one array in ``arrays`` means self-attention (query is key is value)."""
    leaves = [framework.tensor(a, requires_grad=True) for a in arrays]
    q, k, v = (leaves[0],) * 3 if len(leaves) == 1 else leaves
    attn, padding = (None if m is None else framework.tensor(m) for m in masks)
    out, weights = module(q, k, v, attn_mask=attn, key_padding_mask=padding, **call)
    rng = np.random.default_rng(7)
    loss = (out * framework.tensor(rng.standard_normal(tuple(out.shape)))).sum()
    if weights is not None:
        loss = loss + (weights * framework.tensor(rng.standard_normal(tuple(weights.shape)))).sum()
    loss.backward()
    return out, weights, leaves, {n: p.grad for n, p in module.named_parameters()}


def _compare(ours, theirs, atol=1e-12):
    out_s, w_s, leaves_s, grads_s = ours
    out_t, w_t, leaves_t, grads_t = theirs
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=atol)
    assert (w_s is None) == (w_t is None)
    if w_s is not None:
        assert tuple(w_s.shape) == tuple(w_t.shape)
        np.testing.assert_allclose(w_s.detach().numpy(), w_t.detach().numpy(), atol=atol)
    for a, b in zip(leaves_s, leaves_t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol)
    assert set(grads_s) == set(grads_t)
    for name, g in grads_s.items():
        np.testing.assert_allclose(g.numpy(), grads_t[name].numpy(), atol=atol, err_msg=name)


def _inputs(rng, self_attention, batch_first, kdim=E, vdim=E):
    length = S if self_attention else L
    q = rng.standard_normal((N, length, E) if batch_first else (length, N, E))
    if self_attention:
        return [q], length
    k = rng.standard_normal((N, S, kdim) if batch_first else (S, N, kdim))
    v = rng.standard_normal((N, S, vdim) if batch_first else (S, N, vdim))
    return [q, k, v], length


GRID = list(
    itertools.product(
        (1, 2, 4), MASKS, (False, True), ("avg", "per_head", "none"), ("self", "cross")
    )
)


@pytest.mark.parametrize(
    "heads,mask,batch_first,weights,kind",
    GRID,
    ids=[f"h{h}-{m}-{'bf' if b else 'sf'}-{w}-{k}" for h, m, b, w, k in GRID],
)
def test_multihead_attention_matches_torch(heads, mask, batch_first, weights, kind):
    rng = np.random.default_rng(heads)
    arrays, length = _inputs(rng, kind == "self", batch_first)
    masks = _masks(mask, heads, length, rng)
    call = dict(need_weights=weights != "none", average_attn_weights=weights == "avg")
    ours, theirs = _mha_pair(heads, batch_first=batch_first)
    _compare(
        _run_mha(soma, ours, arrays, masks, **call), _run_mha(torch, theirs, arrays, masks, **call)
    )


OPTIONS = [
    dict(kdim=5, vdim=3),
    dict(bias=False),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True),
    dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=7),
]


@pytest.mark.parametrize("options", OPTIONS, ids=[",".join(o) for o in OPTIONS])
@pytest.mark.parametrize("mask", ["none", "both"])
def test_multihead_attention_options_match_torch(options, mask):
    rng = np.random.default_rng(3)
    arrays, length = _inputs(rng, False, False, options.get("kdim", E), options.get("vdim", E))
    masks = _masks(mask, 2, length, rng)
    ours, theirs = _mha_pair(2, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _compare(_run_mha(soma, ours, arrays, masks), _run_mha(torch, theirs, arrays, masks))


def test_unbatched_multihead_attention_matches_torch():
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((L, E)), rng.standard_normal((S, E))
    padding = np.zeros(S, dtype=bool)
    padding[-2:] = True
    ours, theirs = _mha_pair(2)
    out_s, w_s = ours(
        soma.tensor(q), soma.tensor(k), soma.tensor(k), key_padding_mask=soma.tensor(padding)
    )
    out_t, w_t = theirs(
        torch.tensor(q), torch.tensor(k), torch.tensor(k), key_padding_mask=torch.tensor(padding)
    )
    assert tuple(out_s.shape) == (L, E) and tuple(w_s.shape) == (L, S)
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w_s.detach().numpy(), w_t.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_query_gives_nan_or_zero_like_torch(need_weights):
    x = np.random.default_rng(5).standard_normal((S, N, E))
    padding = np.zeros((N, S), dtype=bool)
    padding[1] = True  # batch item 1 may look at nothing
    ours, theirs = _mha_pair(2)
    out_s, _ = ours(
        *(soma.tensor(x),) * 3, key_padding_mask=soma.tensor(padding), need_weights=need_weights
    )
    out_t, _ = theirs(
        *(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(padding), need_weights=need_weights
    )
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    assert np.isnan(out_s.detach().numpy()[:, 1]).all() == need_weights


def test_attention_dropout_only_in_training():
    mha = soma.nn.MultiheadAttention(E, 2, dropout=0.5)
    x = soma.randn(S, N, E)
    mha.eval()
    a, wa = mha(x, x, x)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_allclose(wa.detach().numpy().sum(-1), 1, rtol=1e-5)
    mha.train()
    _, w = mha(x, x, x, average_attn_weights=False)
    zeros = (w.detach().numpy() == 0).mean()
    assert 0.35 < zeros < 0.65  # about half the weights dropped


# ---------------------------------------------------------------------------- sdpa
SDPA = ["none", "bool", "float", "bool_broadcast", "causal", "scale", "fully_masked_row"]


@pytest.mark.parametrize("kind", SDPA)
def test_scaled_dot_product_attention_matches_torch(kind):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in ((2, 3, L, 5), (2, 3, S, 5), (2, 3, S, 7))]
    kwargs = {}
    if kind in ("bool", "fully_masked_row"):
        kwargs["attn_mask"] = rng.random((L, S)) < 0.6
        if kind == "fully_masked_row":
            kwargs["attn_mask"][2] = False
    if kind == "float":
        kwargs["attn_mask"] = rng.standard_normal((3, L, S))
    if kind == "bool_broadcast":
        kwargs["attn_mask"] = rng.random((2, 1, 1, S)) < 0.7
    if kind == "causal":
        kwargs["is_causal"] = True
    if kind == "scale":
        kwargs["scale"] = 0.3
    results = []
    for fw in (soma, torch):
        leaves = [fw.tensor(a, requires_grad=True) for a in arrays]
        kw = {k: fw.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        out = fw.nn.functional.scaled_dot_product_attention(*leaves, **kw)
        ramp = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))
        (out * fw.tensor(ramp)).sum().backward()
        results.append([out.detach().numpy()] + [x.grad.numpy() for x in leaves])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_grouped_query_attention_matches_torch():
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s) for s in ((2, 6, L, 4), (2, 2, S, 4), (2, 2, S, 4))]
    results = []
    for fw in (soma, torch):
        leaves = [fw.tensor(a, requires_grad=True) for a in arrays]
        out = fw.nn.functional.scaled_dot_product_attention(*leaves, enable_gqa=True)
        out.sum().backward()
        results.append([out.detach().numpy()] + [x.grad.numpy() for x in leaves])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_sdpa_dropout_is_reproducible_with_a_generator():
    q = soma.randn(2, L, 5)
    a = F.scaled_dot_product_attention(
        q, q, q, dropout_p=0.5, generator=soma.Generator().manual_seed(1)
    )
    b = F.scaled_dot_product_attention(
        q, q, q, dropout_p=0.5, generator=soma.Generator().manual_seed(1)
    )
    c = F.scaled_dot_product_attention(q, q, q)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())


# ---------------------------------------------------------------------------- errors
def test_wrong_embed_dim_names_layer_and_shapes():
    mha = soma.nn.MultiheadAttention(E, 2)
    x = soma.randn(L, N, E + 1)
    with pytest.raises(ValueError) as info:
        mha(x, x, x)
    message = str(info.value)
    assert message.startswith("MultiheadAttention")
    assert f"{E} features" in message and str((L, N, E + 1)) in message


def test_mask_of_wrong_shape_names_both_shapes():
    mha = soma.nn.MultiheadAttention(E, 2)
    x = soma.randn(L, N, E)
    with pytest.raises(
        ValueError,
        match=r"MultiheadAttention.*attn_mask of shape \(3, 3\).*"
        r"\(4, 4\)",
    ):
        mha(x, x, x, attn_mask=soma.zeros(3, 3, dtype=soma.bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(3, 5\).*\(3, 4\)"):
        mha(x, x, x, key_padding_mask=soma.zeros(N, 5, dtype=soma.bool))
    with pytest.raises(ValueError, match="embed_dim"):
        soma.nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(
            soma.randn(2, 3, 4), soma.randn(2, 5, 3), soma.randn(2, 5, 4)
        )
