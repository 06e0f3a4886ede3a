"""Transformer encoder/decoder layers, stacks and nn.Transformer vs PyTorch (weights copied)."""

import itertools

import numpy as np
import pytest

import soma
from soma.nn.modules.transformer import generate_square_subsequent_mask
from tests.conftest import copy_weights
from tests.torch_oracle import torch

D, HEADS, FF, N, SRC, TGT = 8, 2, 16, 3, 5, 4

# torch warns about mixing bool and float masks, which we do on purpose
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# train mode needs dropout 0 to be deterministic; eval mode uses the default 0.1
MODES = [("train", 0.0), ("eval", 0.1)]
GRID = list(itertools.product((False, True), ("relu", "gelu"), MODES, (False, True)))
IDS = [f"{'pre' if nf else 'post'}-{a}-{m[0]}-{'bf' if bf else 'sf'}" for nf, a, m, bf in GRID]


def _pair(name, mode, dropout, **kwargs):
    theirs = getattr(torch.nn, name)(D, HEADS, FF, dropout=dropout, **kwargs).double()
    ours = copy_weights(getattr(soma.nn, name)(D, HEADS, FF, dropout=dropout, **kwargs), theirs)
    ours.to(soma.float64)
    for m in (ours, theirs):
        m.train(mode == "train")
    return ours, theirs


def _seq(rng, length, batch_first):
    return rng.standard_normal((N, length, D) if batch_first else (length, N, D))


def _padding(length):
    mask = np.zeros((N, length), dtype=bool)
    mask[1, -2:] = True
    return mask


def _backward_and_collect(framework, module, out, leaves):
    weights = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))
    (out * framework.tensor(weights)).sum().backward()
    return (
        [out.detach().numpy()] + [x.grad.numpy() for x in leaves],
        {n: p.grad.numpy() for n, p in module.named_parameters()},
    )


def _assert_same(ours, theirs, atol=1e-11):
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, atol=atol)
    assert set(ours[1]) == set(theirs[1])
    for name, g in ours[1].items():
        np.testing.assert_allclose(g, theirs[1][name], atol=atol, err_msg=name)


@pytest.mark.parametrize("norm_first,activation,mode,batch_first", GRID, ids=IDS)
def test_encoder_layer_matches_torch(norm_first, activation, mode, batch_first):
    rng = np.random.default_rng(0)
    x = _seq(rng, SRC, batch_first)
    causal = np.triu(np.full((SRC, SRC), -np.inf), 1)
    results = []
    for fw, module in zip(
        (soma, torch),
        _pair(
            "TransformerEncoderLayer",
            mode[0],
            mode[1],
            activation=activation,
            norm_first=norm_first,
            batch_first=batch_first,
        ),
    ):
        src = fw.tensor(x, requires_grad=True)
        out = module(
            src, src_mask=fw.tensor(causal), src_key_padding_mask=fw.tensor(_padding(SRC))
        )
        results.append(_backward_and_collect(fw, module, out, [src]))
    _assert_same(*results)


@pytest.mark.parametrize("norm_first,activation,mode,batch_first", GRID, ids=IDS)
def test_decoder_layer_matches_torch(norm_first, activation, mode, batch_first):
    rng = np.random.default_rng(1)
    x, mem = _seq(rng, TGT, batch_first), _seq(rng, SRC, batch_first)
    causal = np.triu(np.ones((TGT, TGT), dtype=bool), 1)
    memory_mask = rng.standard_normal((TGT, SRC))
    results = []
    for fw, module in zip(
        (soma, torch),
        _pair(
            "TransformerDecoderLayer",
            mode[0],
            mode[1],
            activation=activation,
            norm_first=norm_first,
            batch_first=batch_first,
        ),
    ):
        tgt, memory = fw.tensor(x, requires_grad=True), fw.tensor(mem, requires_grad=True)
        out = module(
            tgt,
            memory,
            tgt_mask=fw.tensor(causal),
            memory_mask=fw.tensor(memory_mask),
            tgt_key_padding_mask=fw.tensor(_padding(TGT)),
            memory_key_padding_mask=fw.tensor(_padding(SRC)),
        )
        results.append(_backward_and_collect(fw, module, out, [tgt, memory]))
    _assert_same(*results)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_and_full_transformer_match_torch(norm_first):
    rng = np.random.default_rng(2)
    kwargs = dict(
        d_model=D,
        nhead=HEADS,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=FF,
        dropout=0.0,
        norm_first=norm_first,
        activation="gelu",
    )
    theirs = torch.nn.Transformer(**kwargs).double()
    ours = copy_weights(soma.nn.Transformer(**kwargs), theirs).to(soma.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    src, tgt = _seq(rng, SRC, False), _seq(rng, TGT, False)
    results = []
    for fw, module in ((soma, ours), (torch, theirs)):
        s, t = fw.tensor(src, requires_grad=True), fw.tensor(tgt, requires_grad=True)
        mask = fw.nn.Transformer.generate_square_subsequent_mask(TGT, dtype=fw.float64)
        out = module(
            s,
            t,
            tgt_mask=mask,
            src_key_padding_mask=fw.tensor(_padding(SRC)),
            memory_key_padding_mask=fw.tensor(_padding(SRC)),
        )
        results.append(_backward_and_collect(fw, module, out, [s, t]))
    _assert_same(*results)


def test_encoder_stack_clones_layers_like_torch():
    layer = soma.nn.TransformerEncoderLayer(D, HEADS, FF)
    encoder = soma.nn.TransformerEncoder(layer, num_layers=3, norm=soma.nn.LayerNorm(D))
    names = [n for n, _ in encoder.named_parameters()]
    torch_encoder = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(D, HEADS, FF),
        3,
        norm=torch.nn.LayerNorm(D),
        enable_nested_tensor=False,
    )
    assert names == [n for n, _ in torch_encoder.named_parameters()]
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert first is not second
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())


def test_is_causal_without_mask_builds_the_causal_mask():
    layer = soma.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0)
    x = soma.randn(SRC, N, D)
    hinted = layer(x, is_causal=True)
    explicit = layer(x, src_mask=generate_square_subsequent_mask(SRC))
    np.testing.assert_allclose(hinted.detach().numpy(), explicit.detach().numpy())


def test_square_subsequent_mask_matches_torch():
    np.testing.assert_array_equal(
        generate_square_subsequent_mask(5).numpy(),
        torch.nn.Transformer.generate_square_subsequent_mask(5).numpy(),
    )


def test_errors():
    with pytest.raises(ValueError, match="activation"):
        soma.nn.TransformerEncoderLayer(D, HEADS, activation="tanh")
    model = soma.nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(
        ValueError, match=r"Transformer: src \(5, 3, 8\) and tgt \(4, 2, 8\).*batch sizes"
    ):
        model(soma.randn(SRC, N, D), soma.randn(TGT, 2, D))
    with pytest.raises(ValueError, match=r"layers.0.*self_attn.*embed_dim"):
        soma.nn.TransformerEncoder(soma.nn.TransformerEncoderLayer(D, HEADS, FF), 2)(
            soma.randn(SRC, N, D + 1)
        )


# ---------------------------------------------------------------------------- positional encodings
def test_sinusoidal_table_matches_the_formula():
    from soma.nn.modules.positional import sinusoidal_encoding

    table = sinusoidal_encoding(50, 6, dtype=soma.float64).numpy()
    p = 37  # columns 4 and 5 use frequency index 2
    angle = p / 10000 ** (4 / 6)
    np.testing.assert_allclose(table[p, 4:6], [np.sin(angle), np.cos(angle)], rtol=1e-12)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1])


@pytest.mark.parametrize("batch_first", [False, True])
def test_positional_encodings_add_per_position(batch_first):
    x = soma.zeros((2, 7, 4) if batch_first else (7, 2, 4))
    for module in (
        soma.nn.PositionalEncoding(4, 10, batch_first=batch_first),
        soma.nn.LearnedPositionalEncoding(4, 10, batch_first=batch_first),
    ):
        out = module(x).detach().numpy()
        table = (module.pe if hasattr(module, "pe") else module.weight).detach().numpy()
        per_item = out[0] if batch_first else out[:, 0]
        np.testing.assert_allclose(per_item, table[:7])
    learned = soma.nn.LearnedPositionalEncoding(4, 10, batch_first=batch_first)
    learned(x).sum().backward()
    np.testing.assert_allclose(learned.weight.grad.numpy()[:7], 2)
    np.testing.assert_allclose(learned.weight.grad.numpy()[7:], 0)


def test_positional_encoding_too_long_names_the_lengths():
    with pytest.raises(ValueError, match=r"length 12.*max_len=10"):
        soma.nn.PositionalEncoding(4, 10)(soma.zeros(12, 1, 4))
