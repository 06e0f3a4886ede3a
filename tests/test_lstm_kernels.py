"""The LSTM layer's compiled path (``recurrent/_lstm_kernels.py``) against its NumPy path and
PyTorch: outputs, final states and every gradient, in float32 and float64."""

import itertools

import numpy as np
import pytest

import soma
import soma.functional.recurrent._lstm_kernels as kernels
from soma.autograd.gradcheck import gradcheck
from soma.backend import compiled
from soma.functional.recurrent.fused import LSTMLayer
from tests.conftest import copy_weights, needs_compiled
from tests.torch_oracle import torch

SEQ, BATCH, IN, HID = 6, 4, 5, 7
LENGTHS = [4, 6, 1, 3]
GRID = list(itertools.product((1, 2), (False, True), (False, True), (False, True)))
IDS = [
    f"L{n}-{'bi' if b else 'uni'}-{'bf' if bf else 'tm'}-{'varlen' if v else 'full'}"
    for n, b, bf, v in GRID
]


def _run(framework, module, x, states, lengths, batch_first, seed=1):
    """Forward and backward of a random loss on (output, h_n, c_n); returns the values and the
    gradients of the input, the states and every parameter."""
    rnn = framework.nn.utils.rnn
    xt = framework.tensor(x, requires_grad=True)
    hs = [framework.tensor(s, requires_grad=True) for s in states]
    inp = xt
    if lengths is not None:
        inp = rnn.pack_padded_sequence(
            xt, framework.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
    out, (h, c) = module(inp, tuple(hs))
    if lengths is not None:
        out, _ = rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=SEQ)
    rng = np.random.default_rng(seed)
    loss = 0
    for o in (out, h, c):
        w = framework.tensor(rng.standard_normal(tuple(o.shape)).astype(x.dtype))
        loss = loss + (o * w).sum()
    loss.backward()
    values = [v.detach().numpy() for v in (out, h, c)]
    grads = [t.grad.numpy() for t in [xt] + hs]
    grads += [p.grad.numpy() for _, p in module.named_parameters()]
    return values, grads


def _case(num_layers, bidirectional, batch_first, dtype, seed=0):
    rng = np.random.default_rng(seed)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    theirs = torch.nn.LSTM(IN, HID, **kwargs)
    theirs = theirs.double() if dtype == np.float64 else theirs
    ours = soma.nn.LSTM(IN, HID, **kwargs).to(soma.float64 if dtype == np.float64 else None)
    copy_weights(ours, theirs)
    x = rng.standard_normal((BATCH, SEQ, IN) if batch_first else (SEQ, BATCH, IN)).astype(dtype)
    rows = num_layers * (2 if bidirectional else 1)
    states = [rng.standard_normal((rows, BATCH, HID)).astype(dtype) for _ in range(2)]
    return ours, theirs, x, states


def _close(ours, theirs, dtype, what):
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, **tol, err_msg=f"{what} {i}")


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,varlen", GRID, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_matches_numpy_path_and_torch(
    num_layers, bidirectional, batch_first, varlen, dtype
):
    needs_compiled()
    ours, theirs, x, states = _case(num_layers, bidirectional, batch_first, dtype)
    lengths = LENGTHS if varlen else None
    values, grads = _run(soma, ours, x, states, lengths, batch_first)
    with compiled.disabled():
        ours.zero_grad()
        values0, grads0 = _run(soma, ours, x, states, lengths, batch_first)
    values_t, grads_t = _run(torch, theirs, x, states, lengths, batch_first)
    _close(values, values0, dtype, "value (numpy path)")
    _close(grads, grads0, dtype, "gradient (numpy path)")
    _close(values, values_t, dtype, "value (torch)")
    _close(grads, grads_t, dtype, "gradient (torch)")


def test_projection_takes_the_numpy_path_and_matches_torch():
    x = np.random.default_rng(2).standard_normal((SEQ, BATCH, IN))
    proj = soma.nn.LSTM(IN, HID, proj_size=3).to(soma.float64)
    ref = torch.nn.LSTM(IN, HID, proj_size=3).double()
    copy_weights(proj, ref)
    assert not kernels.applies(proj.weight_hh_l0.array, proj.weight_hr_l0.array)
    out, (h, c) = proj(soma.tensor(x))
    out_t, (h_t, c_t) = ref(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_t.detach().numpy(), atol=1e-12)


def test_only_the_final_state_used_and_saturated_gates():
    # no output gradient (gy is None inside the layer), and pre-activations far past the
    # sigmoid's range: exp(-z) overflows to inf, the gates reach their limits 0, 1 and -1
    needs_compiled()
    ours, theirs, x, states = _case(1, False, True, np.float64, seed=3)
    x = x * 200
    with soma.no_grad(), torch.no_grad():
        for p in ours.parameters():
            p.mul_(30)
        for p in theirs.parameters():
            p.mul_(30)
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _, (h, c) = ours(xs)
    _, (h_t, c_t) = theirs(xt)
    (h.sum() + 2 * c.sum()).backward()
    (h_t.sum() + 2 * c_t.sum()).backward()
    assert np.isfinite(h.detach().numpy()).all()
    np.testing.assert_allclose(h.detach().numpy(), h_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_t.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_float64_through_the_layer(reverse):
    rng = np.random.default_rng(5)
    steps, batch, inp, hid = 3, 2, 3, 2

    def leaf(*shape):
        return soma.tensor(rng.standard_normal(shape) * 0.5, requires_grad=True)

    args = [leaf(steps, batch, inp), leaf(batch, hid), leaf(batch, hid)]
    args += [leaf(4 * hid, inp), leaf(4 * hid, hid), leaf(4 * hid), leaf(4 * hid)]

    def layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        out = LSTMLayer.apply(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, None, batch_sizes=None, reverse=reverse
        )
        return out

    assert gradcheck(layer, args)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_in_place_change_of_the_output_is_an_error_before_backward(fast, batch_first):
    # the output views the hidden states backward reads: PyTorch raises here, so must soma
    # (before, the gradient of weight_hh was silently computed from the changed values)
    lstm = soma.nn.LSTM(3, 4, batch_first=batch_first)
    x = soma.tensor(np.random.default_rng(6).standard_normal((5, 2, 3)))
    previous = compiled.set_enabled(fast)
    try:
        out, (h, _) = lstm(x.to(soma.float32))
        out.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (out.sum() + h.sum()).backward()
    finally:
        compiled.set_enabled(previous)


def test_float16_takes_the_numpy_path():
    lstm = soma.nn.LSTM(3, 4).to(soma.float16)
    x = soma.tensor(np.random.default_rng(8).standard_normal((5, 2, 3)).astype(np.float16))
    assert not kernels.applies(lstm.weight_hh_l0.array, None)
    out, _ = lstm(x)
    with compiled.disabled():
        out0, _ = lstm(x)
    np.testing.assert_array_equal(out.detach().numpy(), out0.detach().numpy())


def test_sequence_kernels_python_forms_match_their_compiled_forms():
    """``_forward_rows`` / ``_backward_rows`` (the whole sequence in one call, products through
    ``blas.gemm``) as written in Python and compiled, for a share of the rows (1 to 3 of 5,
    in products of 2 rows by 3 columns), with rows dropping out as in a packed batch."""
    needs_compiled()
    from soma.backend import blas

    address = blas.gemm_address(np.float32)
    if not address:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS")
    steps, batch, hid = 3, 5, 4
    rng = np.random.default_rng(9)
    w_t = rng.standard_normal((hid, 4 * hid)).astype(np.float32)
    w_hh = np.ascontiguousarray(w_t.T)
    gy = rng.standard_normal((steps, batch, hid)).astype(np.float32)
    start = [rng.standard_normal((steps, batch, 4 * hid)).astype(np.float32)]
    start += [rng.standard_normal(4 * hid).astype(np.float32)]
    start += [rng.standard_normal((steps + 1, batch, hid)).astype(np.float32)]
    times, counts = kernels._schedule_arrays([(0, 5), (1, 4), (2, 2)])
    forms = [
        (kernels._forward_rows, kernels._backward_rows),
        (kernels._forward_rows.python, kernels._backward_rows.python),
    ]
    results = []
    for forward, backward in forms:
        acts, bias, hs = (a.copy() for a in start)
        cs, tcs, hh = hs.copy(), np.zeros((steps, batch, hid), np.float32), np.zeros_like(acts[0])
        forward(address, 2, 3, acts, bias, w_t, hs, cs, tcs, hh, times, counts, 1, 3)
        dh, dc, dz = np.ones_like(hs[0]), np.ones_like(hs[0]), np.zeros_like(acts)
        one = np.float32(1)
        backward(
            address, 2, 3, acts, cs, tcs, dh, gy, True, dc, dz, w_hh, one, times, counts, 1, 3, 0
        )
        results.append((acts, hs, cs, tcs, dz, dh, dc))
    for compiled_value, python_value in zip(*results):
        np.testing.assert_allclose(compiled_value, python_value, rtol=1e-5, atol=1e-6)
    acts = results[0][0]
    np.testing.assert_array_equal(acts[:, [0, 3, 4]], start[0][:, [0, 3, 4]])  # not its rows
    assert not np.array_equal(acts[:, 1:3], start[0][:, 1:3])


@pytest.mark.parametrize(
    "unpacked,hid,blocks",
    [(True, 128, (4, 512, 128)), (False, 128, (16, 128, 32)), (False, 512, None)],
    ids=["row-runs", "row-and-column-blocks", "whole-products"],
)
def test_product_blocks_match_the_numpy_path(monkeypatch, unpacked, hid, blocks):
    """The sequence kernels' products (``_blocks``): with OpenBLAS's small-matrix kernels runs
    of 4 rows, without them blocks of 16 rows by a share of the columns, or whole products for
    a large hidden size; each matches the NumPy path on a packed batch of 20 rows shared as
    two threads would (blocks shrinking as sequences end), forward and backward."""
    needs_compiled()
    from soma.backend import blas

    monkeypatch.setattr(blas, "small_products_unpacked", lambda: unpacked)
    assert kernels._blocks(hid) == blocks
    shares = []

    def two_ranges(fn, n, size):  # as two threads would share the rows, one after the other
        shares.append(n)
        fn(0, n // 2)
        fn(n // 2, n)

    monkeypatch.setattr(kernels.parallel, "ranges", two_ranges)
    soma.manual_seed(3)
    lstm = soma.nn.LSTM(8, hid)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 20, 8)).astype(np.float32)
    lengths = [7, 3, 5, 1, 7, 2, 6, 4, 7, 5, 7, 7, 1, 2, 6, 6, 3, 7, 4, 5]
    weights = rng.standard_normal((7, 20, hid)).astype(np.float32)

    def run():
        xt = soma.tensor(x, requires_grad=True)
        packed = soma.nn.utils.rnn.pack_padded_sequence(
            xt, soma.tensor(lengths), enforce_sorted=False
        )
        out, (h, c) = lstm(packed)
        out, _ = soma.nn.utils.rnn.pad_packed_sequence(out, total_length=7)
        ((out * soma.tensor(weights)).sum() + h.sum() + 2 * c.sum()).backward()
        values = [out, h, c, xt.grad] + [p.grad for p in lstm.parameters()]
        lstm.zero_grad()
        return [v.detach().numpy() for v in values]

    compiled_path = run()
    assert len(shares) == (2 if blocks else 0)  # forward and backward share the rows
    with compiled.disabled():
        numpy_path = run()
    _close(compiled_path, numpy_path, np.float32, f"blocks {blocks}")
