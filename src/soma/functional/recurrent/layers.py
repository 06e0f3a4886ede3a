"""Recurrent networks as functions: stacked, bidirectional ``rnn``, ``lstm`` and ``gru`` over whole
sequences, and their single steps ``rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``,
``gru_cell`` (PyTorch's ``torch.lstm_cell`` …).

Each layer and direction is one fused Function from ``soma.functional.recurrent.fused``; this module
chains them (layer ``l + 1`` reads the concatenated outputs of layer ``l``, with dropout in
between while training) and checks the arguments.
"""

from soma.autograd.tensor import Tensor
from soma.functional._utils import shape_str
from soma.functional.dropout import dropout as _dropout
from soma.functional.recurrent.fused import GRULayer, LSTMLayer, RNNLayer, check_batch_sizes
from soma.functional.shape import cat, stack, transpose, unbind, unsqueeze


# ---------------------------------------------------------------------------- multi-layer drivers
def _apply_layer(mode, x, state, weights, batch_sizes, reverse):
    """One layer, one direction: (outputs, final states)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    options = {"batch_sizes": batch_sizes, "reverse": reverse}
    if mode == "LSTM":
        y, h, c = LSTMLayer.apply(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh, w_hr, **options)
        return y, (h, c)
    if mode == "GRU":
        y, h = GRULayer.apply(x, state[0], w_ih, w_hh, b_ih, b_hh, **options)
        return y, (h,)
    y, h = RNNLayer.apply(x, state[0], w_ih, w_hh, b_ih, b_hh, relu=mode == "RNN_RELU", **options)
    return y, (h,)


def _check_recurrent_args(op, x, states, weights, num_layers, directions):
    if x.ndim != 3:
        raise ValueError(
            f"{op}: expected a 3-D input (seq, batch, features), got shape {shape_str(x.shape)}"
        )
    if len(weights) != num_layers * directions:
        raise ValueError(
            f"{op}: expected {num_layers * directions} weight groups "
            f"(num_layers × directions), got {len(weights)}"
        )
    if x.shape[-1] != weights[0][0].shape[1]:
        raise ValueError(
            f"{op}: input of shape {shape_str(x.shape)} does not fit weight_ih_l0 of "
            f"shape {shape_str(weights[0][0].shape)} (expected "
            f"{weights[0][0].shape[1]} input features)"
        )
    for s in states:
        if s.ndim != 3 or s.shape[:2] != (num_layers * directions, x.shape[1]):
            raise ValueError(
                f"{op}: initial state of shape {shape_str(s.shape)} does not fit "
                f"{num_layers * directions} layers×directions and batch {x.shape[1]}"
            )
    _check_dtypes(op, [x, *states], [w for group in weights for w in group if w is not None])


def _check_dtypes(op, values, weights):
    """Inputs, states and weights must share one floating dtype (no silent promotion)."""
    dtypes = {w.dtype for w in weights}
    if len(dtypes) > 1 or any(v.dtype not in dtypes for v in values):
        found = ", ".join(sorted({str(t.dtype) for t in [*values, *weights]}))
        raise TypeError(
            f"{op}: input, states and weights must have one dtype, got {found}; "
            f"convert the input (x.to(weight.dtype)) or the model (model.to(...))"
        )


def _run_layers(
    mode,
    x,
    states,
    weights,
    num_layers,
    bidirectional,
    batch_first,
    dropout,
    training,
    batch_sizes,
    generator,
):
    op = mode.lower()
    directions = 2 if bidirectional else 1
    if batch_first:
        x = transpose(x, 0, 1)
    _check_recurrent_args(op, x, states, weights, num_layers, directions)
    batch_sizes = check_batch_sizes(batch_sizes, x.shape[0], x.shape[1])
    per_layer = [unbind(s, 0) for s in states]
    finals = [[] for _ in states]
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            y, last = _apply_layer(
                mode, x, [s[k] for s in per_layer], weights[k], batch_sizes, reverse=d == 1
            )
            outs.append(y)
            for acc, value in zip(finals, last):
                acc.append(value)
        x = outs[0] if directions == 1 else cat(outs, 2)
        if dropout > 0 and training and layer < num_layers - 1:
            x = _dropout(x, dropout, True, generator=generator)
    out = transpose(x, 0, 1) if batch_first else x
    return out, tuple(stack(acc, 0) for acc in finals)


def rnn(
    input: Tensor,
    hx: Tensor,
    weights,
    *,
    nonlinearity: str = "tanh",
    num_layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = False,
    dropout: float = 0.0,
    training: bool = False,
    batch_sizes=None,
    generator=None,
):
    """Multi-layer Elman RNN, hₜ = act(xₜ Wᵢₕᵀ + bᵢₕ + hₜ₋₁ Wₕₕᵀ + bₕₕ), fused per layer.

    Args:
        input: (seq, batch, features), or (batch, seq, features) with ``batch_first``.
        hx: initial hidden state (num_layers · directions, batch, hidden).
        weights: one ``(w_ih, w_hh, b_ih, b_hh, None)`` group per layer and direction, in
            PyTorch's order (layer 0 forward, layer 0 reverse, layer 1 forward, …); biases may
            be None.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dropout, training: dropout on each layer's output except the last, when training.
        batch_sizes: for sequences of different lengths, sorted longest first: how many are
            still running at each time step (PyTorch's packed-sequence ``batch_sizes``).

    Returns:
        ``(output, h_n)``: output (seq, batch, directions · hidden) and the final states.

    Example:
        >>> import soma
        >>> w = (soma.randn(4, 3), soma.randn(4, 4), None, None, None)
        >>> out, h = rnn(soma.randn(5, 2, 3), soma.zeros(1, 2, 4), [w])
        >>> tuple(out.shape), tuple(h.shape)
        ((5, 2, 4), (1, 2, 4))
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')")
    mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
    out, (h,) = _run_layers(
        mode,
        input,
        (hx,),
        weights,
        num_layers,
        bidirectional,
        batch_first,
        dropout,
        training,
        batch_sizes,
        generator,
    )
    return out, h


def lstm(
    input: Tensor,
    hx,
    weights,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = False,
    dropout: float = 0.0,
    training: bool = False,
    batch_sizes=None,
    generator=None,
):
    """Multi-layer LSTM, fused per layer (see ``rnn`` for the arguments).

    ``hx`` is ``(h0, c0)``; each weight group is ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` with
    ``w_hr`` the projection (``proj_size``) or None.

    Returns:
        ``(output, (h_n, c_n))``.

    Example:
        >>> import soma
        >>> w = (soma.randn(16, 3), soma.randn(16, 4), None, None, None)
        >>> h0 = c0 = soma.zeros(1, 2, 4)
        >>> out, (h, c) = lstm(soma.randn(5, 2, 3), (h0, c0), [w])
        >>> tuple(out.shape), tuple(c.shape)
        ((5, 2, 4), (1, 2, 4))
    """
    out, (h, c) = _run_layers(
        "LSTM",
        input,
        tuple(hx),
        weights,
        num_layers,
        bidirectional,
        batch_first,
        dropout,
        training,
        batch_sizes,
        generator,
    )
    return out, (h, c)


def gru(
    input: Tensor,
    hx: Tensor,
    weights,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = False,
    dropout: float = 0.0,
    training: bool = False,
    batch_sizes=None,
    generator=None,
):
    """Multi-layer GRU, fused per layer (see ``rnn`` for the arguments).

    Example:
        >>> import soma
        >>> w = (soma.randn(12, 3), soma.randn(12, 4), None, None, None)
        >>> out, h = gru(soma.randn(5, 2, 3), soma.zeros(1, 2, 4), [w])
        >>> tuple(out.shape)
        (5, 2, 4)
    """
    out, (h,) = _run_layers(
        "GRU",
        input,
        (hx,),
        weights,
        num_layers,
        bidirectional,
        batch_first,
        dropout,
        training,
        batch_sizes,
        generator,
    )
    return out, h


# ---------------------------------------------------------------------------- single steps
def _cell(mode, op, input, states, w_ih, w_hh, b_ih, b_hh):
    if input.ndim != 2 or input.shape[1] != w_ih.shape[1]:
        raise ValueError(
            f"{op}: input of shape {shape_str(input.shape)} does not fit weight_ih "
            f"of shape {shape_str(w_ih.shape)} (expected (batch, {w_ih.shape[1]}))"
        )
    for s in states:
        if s.ndim != 2 or s.shape[0] != input.shape[0]:
            raise ValueError(
                f"{op}: state of shape {shape_str(s.shape)} does not fit input of "
                f"shape {shape_str(input.shape)} (expected (batch, hidden))"
            )
    _check_dtypes(op, [input, *states], [w for w in (w_ih, w_hh, b_ih, b_hh) if w is not None])
    _, last = _apply_layer(
        mode, unsqueeze(input, 0), states, (w_ih, w_hh, b_ih, b_hh, None), None, False
    )
    return last


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step h' = tanh(x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ); input (batch, in), hx (batch, hidden)."""
    return _cell("RNN_TANH", "rnn_tanh_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step h' = relu(x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ); input (batch, in), hx (batch, hidden)."""
    return _cell("RNN_RELU", "rnn_relu_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(input: Tensor, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: ``(h', c')`` from input (batch, in) and ``hx = (h, c)`` (batch, hidden).

    Example:
        >>> import soma
        >>> h, c = lstm_cell(soma.randn(2, 3), (soma.zeros(2, 4), soma.zeros(2, 4)),
        ...                  soma.randn(16, 3), soma.randn(16, 4))
        >>> tuple(h.shape)
        (2, 4)
    """
    h, c = _cell("LSTM", "lstm_cell", input, tuple(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


def gru_cell(input: Tensor, hx: Tensor, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step: h' from input (batch, in) and hx (batch, hidden)."""
    return _cell("GRU", "gru_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]
