"""RNN, LSTM and GRU layers and cells against PyTorch, with weights copied from the torch module.

Every combination of layers, directions, batch_first, initial states and variable lengths is
checked in float64: outputs, final states, and the gradients of the input, the initial states
and every parameter.
"""

import itertools

import numpy as np
import pytest

import soma
from soma.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tests.conftest import copy_weights
from tests.torch_oracle import torch

KINDS = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 3}),
    "gru": ("GRU", {}),
}
GRID = list(
    itertools.product(KINDS, (1, 2), (False, True), (False, True), (False, True), (False, True))
)
IDS = [
    f"{k}-L{n}-{'bi' if b else 'uni'}-{'bf' if bf else 'tm'}-{'h0' if h else 'noh0'}-"
    f"{'varlen' if v else 'full'}"
    for k, n, b, bf, h, v in GRID
]

SEQ, BATCH, IN, HID = 5, 3, 4, 6
LENGTHS = [3, 5, 2]  # unsorted on purpose: packing sorts, unpacking restores the order

# torch warns that oneDNN has no LSTM projection; not our concern
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


def _pair(kind, num_layers, bidirectional, batch_first, bias=True):
    name, extra = KINDS[kind]
    kwargs = dict(
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
        **extra,
    )
    theirs = getattr(torch.nn, name)(IN, HID, **kwargs).double()
    ours = getattr(soma.nn, name)(IN, HID, **kwargs).to(soma.float64)
    copy_weights(ours, theirs)
    return ours, theirs


def _states(name, kind, num_layers, bidirectional, rng):
    rows = num_layers * (2 if bidirectional else 1)
    out = KINDS[kind][1].get("proj_size", HID)
    shapes = [(rows, BATCH, out)] + ([(rows, BATCH, HID)] if name == "LSTM" else [])
    return [rng.standard_normal(s) for s in shapes]


def _run(framework, module, x, states, lengths, batch_first):
    """Forward through ``module``; returns (padded output, final states, leaves to check)."""
    nn_utils = framework.nn.utils.rnn
    xt = framework.tensor(x, requires_grad=True)
    hs = [framework.tensor(s, requires_grad=True) for s in states]
    inp = xt
    if lengths is not None:
        inp = nn_utils.pack_padded_sequence(
            xt, framework.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
    hx = None if not hs else (tuple(hs) if len(hs) == 2 else hs[0])
    out, finals = module(inp, hx)
    if lengths is not None:
        out, _ = nn_utils.pad_packed_sequence(out, batch_first=batch_first, total_length=SEQ)
    finals = list(finals) if isinstance(finals, tuple) else [finals]
    return out, finals, [xt] + hs


def _backward(outputs, rng_seed, framework):
    rng = np.random.default_rng(rng_seed)
    loss = 0
    for o in outputs:
        loss = loss + (o * framework.tensor(rng.standard_normal(tuple(o.shape)))).sum()
    loss.backward()


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,with_h0,varlen", GRID, ids=IDS)
def test_layer_matches_torch(kind, num_layers, bidirectional, batch_first, with_h0, varlen):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(kind, num_layers, bidirectional, batch_first)
    shape = (BATCH, SEQ, IN) if batch_first else (SEQ, BATCH, IN)
    x = rng.standard_normal(shape)
    name = KINDS[kind][0]
    states = _states(name, kind, num_layers, bidirectional, rng) if with_h0 else []
    lengths = LENGTHS if varlen else None
    out_s, fin_s, leaves_s = _run(soma, ours, x, states, lengths, batch_first)
    out_t, fin_t, leaves_t = _run(torch, theirs, x, states, lengths, batch_first)
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    for a, b in zip(fin_s, fin_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    _backward([out_s] + fin_s, 1, soma)
    _backward([out_t] + fin_t, 1, torch)
    for i, (a, b) in enumerate(zip(leaves_s, leaves_t)):
        np.testing.assert_allclose(
            a.grad.numpy(), b.grad.numpy(), atol=1e-11, err_msg=f"gradient of leaf {i}"
        )
    grads_t = {n: p.grad for n, p in theirs.named_parameters()}
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[n].numpy(), atol=1e-11, err_msg=n)


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_no_bias_matches_torch(kind):
    ours, theirs = _pair(kind, 2, True, True, bias=False)
    ours.float()
    theirs.float()
    x = np.random.default_rng(3).standard_normal((BATCH, SEQ, IN)).astype(np.float32)
    out_s, fin_s, _ = _run(soma, ours, x, [], None, True)
    out_t, fin_t, _ = _run(torch, theirs, x, [], None, True)
    assert out_s.dtype == np.float32
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=1e-5)
    out_s.sum().backward()
    out_t.sum().backward()
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-4, err_msg=n)


def test_state_dict_names_and_order_match_torch():
    for kind in KINDS:
        ours, theirs = _pair(kind, 2, True, False)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        shapes_t = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == shapes_t


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_unbatched_input_matches_torch(kind):
    ours, theirs = _pair(kind, 2, True, False)
    x = np.random.default_rng(4).standard_normal((SEQ, IN))
    out_s, fin_s = ours(soma.tensor(x))
    out_t, fin_t = theirs(torch.tensor(x))
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    fin_s = fin_s if isinstance(fin_s, tuple) else (fin_s,)
    fin_t = fin_t if isinstance(fin_t, tuple) else (fin_t,)
    for a, b in zip(fin_s, fin_t):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)


def test_sorted_packed_sequence_output_is_packed_like_torch():
    ours, theirs = _pair("lstm", 1, True, False)
    x = np.random.default_rng(5).standard_normal((SEQ, BATCH, IN))
    lengths = [5, 4, 2]
    out_s, _ = ours(pack_padded_sequence(soma.tensor(x), lengths))
    out_t, _ = theirs(torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths))
    np.testing.assert_array_equal(out_s.batch_sizes.numpy(), out_t.batch_sizes.numpy())
    np.testing.assert_allclose(
        out_s.data.detach().numpy(), out_t.data.detach().numpy(), atol=1e-12
    )
    padded, lens = pad_packed_sequence(out_s)
    assert lens.tolist() == lengths
    assert np.all(padded.detach().numpy()[lengths[2] :, 2] == 0)


def test_dropout_between_layers_is_active_only_in_training():
    lstm = soma.nn.LSTM(IN, HID, num_layers=2, dropout=0.5)
    x = soma.randn(SEQ, BATCH, IN)
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    lstm.train()
    c, _ = lstm(x)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


# ---------------------------------------------------------------------------- cells
CELLS = [
    ("RNNCell", {}),
    ("RNNCell", {"nonlinearity": "relu"}),
    ("LSTMCell", {}),
    ("GRUCell", {}),
    ("LSTMCell", {"bias": False}),
    ("GRUCell", {"bias": False}),
]


@pytest.mark.parametrize("name,kwargs", CELLS, ids=[f"{n}-{k}" for n, k in CELLS])
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_matches_torch(name, kwargs, with_state):
    theirs = getattr(torch.nn, name)(IN, HID, **kwargs).double()
    ours = copy_weights(getattr(soma.nn, name)(IN, HID, **kwargs).to(soma.float64), theirs)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((BATCH, IN))
    n_states = 2 if name == "LSTMCell" else 1
    states = [rng.standard_normal((BATCH, HID)) for _ in range(n_states)] if with_state else []
    results = []
    for fw, module in ((soma, ours), (torch, theirs)):
        xt = fw.tensor(x, requires_grad=True)
        hs = [fw.tensor(s, requires_grad=True) for s in states]
        hx = None if not hs else (tuple(hs) if n_states == 2 else hs[0])
        out = module(xt, hx)
        out = list(out) if isinstance(out, tuple) else [out]
        _backward(out, 2, fw)
        results.append((out, [xt] + hs, [p.grad for p in module.parameters()]))
    (out_s, leaves_s, grads_s), (out_t, leaves_t, grads_t) = results
    for a, b in zip(out_s + leaves_s, out_t + leaves_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    for a, b in zip([x.grad for x in leaves_s] + grads_s, [x.grad for x in leaves_t] + grads_t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_unbatched_cell():
    cell = soma.nn.LSTMCell(IN, HID)
    h, c = cell(soma.randn(IN))
    assert tuple(h.shape) == (HID,) and tuple(c.shape) == (HID,)


# ---------------------------------------------------------------------------- errors
def test_wrong_feature_size_names_layer_and_shapes():
    model = soma.nn.Sequential(soma.nn.LSTM(10, 20))
    with pytest.raises(ValueError) as info:
        model(soma.randn(5, 3, 7))
    message = str(info.value)
    assert "'0'" in message and "LSTM" in message
    assert "10" in message and "(5, 3, 7)" in message


def test_wrong_hidden_state_shape_names_both_shapes():
    gru = soma.nn.GRU(4, 6, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU.*\(2, 3, 6\).*\(1, 3, 6\)"):
        gru(soma.randn(5, 3, 4), soma.zeros(1, 3, 6))
    lstm = soma.nn.LSTM(4, 6)
    with pytest.raises(ValueError, match=r"cell state of shape \(1, 3, 6\), got \(1, 3, 5\)"):
        lstm(soma.randn(5, 3, 4), (soma.zeros(1, 3, 6), soma.zeros(1, 3, 5)))


def test_dtype_mismatch_is_an_error_not_a_silent_promotion():
    lstm = soma.nn.LSTM(4, 6)
    with pytest.raises(TypeError, match="float32, float64"):
        lstm(soma.randn(5, 3, 4, dtype=soma.float64))
    with pytest.raises(TypeError, match="one dtype"):
        soma.nn.GRUCell(4, 6)(soma.randn(3, 4, dtype=soma.float64))


def test_cell_input_size_error():
    with pytest.raises(ValueError, match=r"GRUCell.*\(batch, 4\).*\(3, 5\)"):
        soma.nn.GRUCell(4, 6)(soma.randn(3, 5))


def test_constructor_errors():
    with pytest.raises(ValueError, match="hidden_size"):
        soma.nn.LSTM(4, 0)
    with pytest.raises(ValueError, match="proj_size"):
        soma.nn.LSTM(4, 6, proj_size=6)
    with pytest.raises(ValueError, match="nonlinearity"):
        soma.nn.RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        soma.nn.LSTM(4, 6, dropout=1.5)


def test_repr_lists_arguments():
    assert (
        repr(soma.nn.LSTM(4, 6, num_layers=2, batch_first=True))
        == "LSTM(4, 6, num_layers=2, batch_first=True)"
    )
    assert repr(soma.nn.GRUCell(3, 5, bias=False)) == "GRUCell(3, 5, bias=False)"


@pytest.mark.parametrize("layer", ["RNN", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_in_place_change_of_an_rnn_or_gru_output_is_an_error_before_backward(layer, batch_first):
    # the output views the hidden states that backward reads: PyTorch raises here; soma
    # computed weight_hh's gradient from the changed values without a word
    net = getattr(soma.nn, layer)(3, 4, batch_first=batch_first)
    x = soma.tensor(np.random.default_rng(6).standard_normal((5, 2, 3)).astype(np.float32))
    out, h = net(x)
    out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (out.sum() + h.sum()).backward()


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_empty_batch_gives_empty_outputs_like_torch(kind, fast):
    """A batch of no sequences: empty outputs and states, zero weight gradients (it raised a
    reshape error before)."""
    shapes = []
    for fw in (soma, torch):
        layer = getattr(fw.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        x = fw.zeros(0, 5, 3, requires_grad=True)
        previous = soma.backend.compiled.set_enabled(fast)
        try:
            y, h = layer(x)
        finally:
            soma.backend.compiled.set_enabled(previous)
        h = h[0] if isinstance(h, tuple) else h
        (y.sum() + h.sum()).backward()
        assert not layer.weight_hh_l0.grad.numpy().any()
        shapes.append((tuple(y.shape), tuple(h.shape), tuple(x.grad.shape)))
    assert shapes[0] == shapes[1] == ((0, 5, 8), (4, 0, 4), (0, 5, 3))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_a_sequence_of_no_steps_is_an_error_as_in_torch(kind):
    with pytest.raises(RuntimeError):
        getattr(torch.nn, kind)(3, 4, batch_first=True)(torch.zeros(2, 0, 3))
    with pytest.raises(RuntimeError, match="at least one step"):
        getattr(soma.nn, kind)(3, 4, batch_first=True)(soma.zeros(2, 0, 3))
