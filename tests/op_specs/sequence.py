"""Sequence ops: recurrent cells and fused layers, embeddings, attention."""

import numpy as np

import soma.nn.functional as F
from tests.op_specs.spec import OpSpec, torch

T, B, I, H = 4, 2, 3, 5


def _cell_shapes(gates):
    return ((B, I), (B, H), (gates * H, I), (gates * H, H), (gates * H,), (gates * H,))


def _layer_shapes(gates, layers=1, directions=1):
    shapes = [(T, B, I), (layers * directions, B, H)]
    for layer in range(layers):
        for _ in range(directions):
            width = I if layer == 0 else H * directions
            shapes += [(gates * H, width), (gates * H, H), (gates * H,), (gates * H,)]
    return tuple(shapes)


def _groups(ws):
    return [tuple(ws[k : k + 4]) + (None,) for k in range(0, len(ws), 4)]


def _soma_layer(fn, layers, bidirectional, **kw):
    def call(x, h, *ws):
        out, h_n = fn(x, h, _groups(ws), num_layers=layers, bidirectional=bidirectional, **kw)
        return out, h_n

    return call


def _torch_layer(fn, layers, bidirectional):
    return lambda x, h, *ws: fn(x, h, list(ws), True, layers, 0.0, False, bidirectional, False)


def _soma_lstm(x, h, c, *ws):
    out, (h_n, c_n) = F.lstm(x, (h, c), _groups(ws))
    return out, h_n, c_n


def _lstm_shapes():
    shapes = _layer_shapes(4)
    return shapes[:2] + ((1, B, H),) + shapes[2:]


def _ids(rng, shape, rows):
    return rng.integers(0, rows, shape)


SPECS = [
    OpSpec("rnn_tanh_cell", F.rnn_tanh_cell, torch.rnn_tanh_cell, shapes=_cell_shapes(1)),
    OpSpec("rnn_relu_cell", F.rnn_relu_cell, torch.rnn_relu_cell, shapes=_cell_shapes(1)),
    OpSpec("gru_cell", F.gru_cell, torch.gru_cell, shapes=_cell_shapes(3)),
    OpSpec(
        "lstm_cell",
        lambda x, h, c, *w: F.lstm_cell(x, (h, c), *w),
        lambda x, h, c, *w: torch.lstm_cell(x, (h, c), *w),
        shapes=((B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)),
    ),
    OpSpec(
        "rnn",
        _soma_layer(F.rnn, 1, False),
        _torch_layer(torch.rnn_tanh, 1, False),
        shapes=_layer_shapes(1),
        low=-1,
        high=1,
    ),
    OpSpec(
        "rnn",
        _soma_layer(F.rnn, 2, True, nonlinearity="relu"),
        _torch_layer(torch.rnn_relu, 2, True),
        shapes=_layer_shapes(1, 2, 2),
        low=-1,
        high=1,
        variant="relu_2layer_bidirectional",
    ),
    OpSpec(
        "gru",
        _soma_layer(F.gru, 1, False),
        _torch_layer(torch.gru, 1, False),
        shapes=_layer_shapes(3),
    ),
    OpSpec(
        "gru",
        _soma_layer(F.gru, 2, True),
        _torch_layer(torch.gru, 2, True),
        shapes=_layer_shapes(3, 2, 2),
        variant="2layer_bidirectional",
    ),
    OpSpec(
        "lstm",
        _soma_lstm,
        lambda x, h, c, *ws: torch.lstm(x, (h, c), list(ws), True, 1, 0.0, False, False, False),
        shapes=_lstm_shapes(),
    ),
    OpSpec(
        "embedding",
        lambda w, i: F.embedding(i, w),
        lambda w, i: torch.nn.functional.embedding(i, w),
        make=lambda rng: [rng.uniform(-1, 1, (7, 3)), _ids(rng, (2, 5), 7)],
        grad_inputs=(0,),
    ),
    OpSpec(
        "embedding",
        lambda w, i: F.embedding(i, w, padding_idx=2),
        lambda w, i: torch.nn.functional.embedding(i, w, padding_idx=2),
        variant="padding_idx",
        gradcheck=False,  # by definition the padding row gets no gradient, though it is used
        make=lambda rng: [rng.uniform(-1, 1, (4, 3)), _ids(rng, (6,), 4)],
        grad_inputs=(0,),
    ),
    OpSpec(
        "embedding_bag",
        lambda w, i, o: F.embedding_bag(i, w, o, mode="sum"),
        lambda w, i, o: torch.nn.functional.embedding_bag(i, w, o, mode="sum"),
        make=lambda rng: [rng.uniform(-1, 1, (6, 3)), _ids(rng, (7,), 6), np.array([0, 2, 2])],
        grad_inputs=(0,),
    ),
    OpSpec(
        "embedding_bag",
        lambda w, i: F.embedding_bag(i, w, mode="max"),
        lambda w, i: torch.nn.functional.embedding_bag(i, w, mode="max"),
        variant="max_2d",
        make=lambda rng: [rng.uniform(-1, 1, (6, 3)), _ids(rng, (2, 4), 6)],
        grad_inputs=(0,),
    ),
    OpSpec(
        "one_hot",
        lambda i: F.one_hot(i, 5),
        lambda i: torch.nn.functional.one_hot(i, 5),
        make=lambda rng: [_ids(rng, (2, 3), 5)],
    ),
]

_Q, _K, _V = (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 4)


def _bool_mask(rng):
    mask = rng.random((4, 6)) < 0.6
    mask[:, 0] = True  # every query may attend somewhere
    return mask


SPECS += [
    OpSpec(
        "scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        torch.nn.functional.scaled_dot_product_attention,
        shapes=(_Q, _K, _V),
    ),
    OpSpec(
        "scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        torch.nn.functional.scaled_dot_product_attention,
        shapes=(_Q, _K, _V, (3, 4, 6)),
        variant="float_mask_with_gradient",
    ),
    OpSpec(
        "scaled_dot_product_attention",
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m.bool()),
        lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=m.bool()
        ),
        make=lambda rng: [rng.uniform(-2, 2, s) for s in (_Q, _K, _V)] + [_bool_mask(rng)],
        grad_inputs=(0, 1, 2),
        variant="bool_mask",
    ),
    OpSpec(
        "scaled_dot_product_attention",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, scale=0.7
        ),
        shapes=(_Q, (2, 3, 4, 5), (2, 3, 4, 4)),
        variant="causal_scaled",
    ),
]
