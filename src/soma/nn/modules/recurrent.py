"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` over whole sequences, and their one-step cells.

A recurrent layer keeps a hidden state as memory: at each time step it mixes the new input
with the state it carried from the previous step. LSTMs add a cell state guarded by input,
forget and output gates, which lets information (and gradients) survive many steps.

Parameter names and shapes are PyTorch's (``weight_ih_l0``, ``weight_hh_l0_reverse``,
``bias_ih_l1``, ``weight_hr_l0`` …), so state dicts transfer 1:1. The math lives in
``soma.functional.recurrent.fused`` (fused per layer) and ``soma.functional.recurrent.layers``.
"""

import math
import numbers

from soma.autograd.factory import empty, zeros
from soma.autograd.tensor import Tensor
from soma.functional.indexing import index_select
from soma.functional.recurrent import layers as R
from soma.functional.shape import squeeze, unsqueeze
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter
from soma.nn.utils.rnn import PackedSequence, packed_to_padded, padded_to_packed

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_positive(name, layer, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


class RNNBase(Module):
    """Shared constructor, parameters and forward of ``RNN``, ``LSTM`` and ``GRU``."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = type(self).__name__
        for arg in ("input_size", "hidden_size", "num_layers"):
            _check_positive(arg, name, locals()[arg])
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size < 0 or proj_size >= hidden_size or (proj_size and mode != "LSTM"):
            raise ValueError(
                f"{name}: proj_size must be 0, or (LSTM only) between 1 and "
                f"hidden_size - 1 = {hidden_size - 1}, got {proj_size}"
            )
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        self._flat_weights_names = []
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, out_size),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    pname = f"{kind}_l{layer}{suffix}"
                    setattr(self, pname, Parameter(empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Every weight and bias from U(-1/√hidden_size, 1/√hidden_size), as PyTorch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    @property
    def all_weights(self) -> list:
        """Parameters per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh, (w_hr)], …]``."""
        return [
            [getattr(self, n) for n in self._flat_weights_names if n.endswith(f"_l{k}{s}")]
            for k in range(self.num_layers)
            for s in ("", "_reverse")[: 2 if self.bidirectional else 1]
        ]

    def _weight_groups(self) -> list:
        groups = []
        for k in range(self.num_layers):
            for s in ("", "_reverse")[: 2 if self.bidirectional else 1]:
                groups.append(
                    tuple(
                        getattr(self, f"{kind}_l{k}{s}", None)
                        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                    )
                )
        return groups

    def _state_shapes(self, batch):
        rows = self.num_layers * (2 if self.bidirectional else 1)
        shapes = [(rows, batch, self.proj_size or self.hidden_size)]
        if self.mode == "LSTM":
            shapes.append((rows, batch, self.hidden_size))
        return shapes

    def _check_input(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(
                f"expected a 2-D (unbatched) or 3-D input, got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input with {self.input_size} features "
                f"(input_size) in its last dimension, got input of shape "
                f"{tuple(x.shape)}"
            )

    def _initial_states(self, hx, batch, x, unbatched, sorted_indices):
        shapes = self._state_shapes(batch)
        if hx is None:
            return [zeros(*s, dtype=x.dtype) for s in shapes]
        states = list(hx) if self.mode == "LSTM" else [hx]
        if len(states) != len(shapes):
            raise ValueError(f"expected {len(shapes)} initial states, got {len(states)}")
        if unbatched:
            states = [unsqueeze(s, 1) if s.ndim == 2 else s for s in states]
        for s, shape, what in zip(states, shapes, ("hidden state", "cell state")):
            if tuple(s.shape) != shape:
                raise ValueError(f"expected {what} of shape {shape}, got {tuple(s.shape)}")
        if sorted_indices is not None:
            states = [index_select(s, 1, sorted_indices) for s in states]
        return states

    def flatten_parameters(self) -> None:
        """PyTorch packs cuDNN's weights into one block here; soma's weights need no packing."""

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        batch_sizes = sorted_indices = None
        unbatched = False
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self._check_input(data)
            x = packed_to_padded(data, batch_sizes)
            batch_first = False
        else:
            self._check_input(input)
            unbatched = input.ndim == 2
            batch_first = self.batch_first and not unbatched
            x = unsqueeze(input, 1) if unbatched else input
        batch = x.shape[0 if batch_first else 1]
        if x.shape[1 if batch_first else 0] == 0:  # as PyTorch, which raises here
            raise RuntimeError(
                f"expected a sequence of at least one step, got input of shape "
                f"{tuple(input.shape)}"
            )
        states = self._initial_states(hx, batch, x, unbatched, sorted_indices)
        out, finals = self._run(x, states, batch_first, batch_sizes)
        if packed:
            out = PackedSequence(
                padded_to_packed(out, batch_sizes), batch_sizes, sorted_indices, unsorted_indices
            )
            if unsorted_indices is not None:
                finals = tuple(index_select(s, 1, unsorted_indices) for s in finals)
        elif unbatched:
            out = squeeze(out, 1)
            finals = tuple(squeeze(s, 1) for s in finals)
        return out, (finals if self.mode == "LSTM" else finals[0])

    def _run(self, x, states, batch_first, batch_sizes):
        options = dict(
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            batch_first=batch_first,
            dropout=self.dropout,
            training=self.training,
            batch_sizes=batch_sizes,
        )
        weights = self._weight_groups()
        if self.mode == "LSTM":
            out, finals = R.lstm(x, tuple(states), weights, **options)
            return out, finals
        if self.mode == "GRU":
            out, h = R.gru(x, states[0], weights, **options)
        else:
            nonlinearity = "tanh" if self.mode == "RNN_TANH" else "relu"
            out, h = R.rnn(x, states[0], weights, nonlinearity=nonlinearity, **options)
        return out, (h,)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for flag, default in (
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        return s


class RNN(RNNBase):
    """Elman RNN: hₜ = tanh(xₜ Wᵢₕᵀ + bᵢₕ + hₜ₋₁ Wₕₕᵀ + bₕₕ) (or relu), stacked, bidirectional.

    Args:
        input_size: features of each time step of the input.
        hidden_size: features of the hidden state.
        num_layers: stacked layers, each reading the previous one's outputs (default 1).
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.
        bias: learn ``bias_ih`` and ``bias_hh`` (default True).
        batch_first: input and output are (batch, seq, feature) instead of (seq, batch, feature).
        dropout: dropout probability on each layer's output except the last (training only).
        bidirectional: also run every layer from the end to the start; outputs are concatenated.

    Shape:
        input (L, N, H_in), (N, L, H_in) with ``batch_first``, (L, H_in) unbatched, or a
        ``PackedSequence``; h_0 (D·num_layers, N, H_out), D = 2 if bidirectional else 1.
        Output (L, N, D·H_out) and h_n (D·num_layers, N, H_out).

    Example:
        >>> import soma
        >>> rnn = RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(soma.randn(5, 3, 10))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: unknown nonlinearity '{nonlinearity}' (expected 'tanh' or 'relu')"
            )
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )


class LSTM(RNNBase):
    """Long short-term memory: a cell state cₜ guarded by input, forget and output gates.

    iₜ, fₜ, oₜ = σ(·), gₜ = tanh(·) of xₜ Wᵢₕᵀ + bᵢₕ + hₜ₋₁ Wₕₕᵀ + bₕₕ (gate order i, f, g, o);
    cₜ = fₜ cₜ₋₁ + iₜ gₜ;  hₜ = oₜ tanh(cₜ), projected by ``weight_hr`` when ``proj_size > 0``.

    Args: as ``RNN`` (no ``nonlinearity``), plus ``proj_size``: size of the projected hidden
    state (0: no projection).

    Shape:
        as ``RNN``, with the states a tuple ``(h, c)``: h (D·num_layers, N, proj_size or
        hidden_size), c (D·num_layers, N, hidden_size).

    Example:
        >>> import soma
        >>> lstm = LSTM(10, 20, batch_first=True)
        >>> output, (h_n, c_n) = lstm(soma.randn(3, 5, 10))
        >>> tuple(output.shape), tuple(c_n.shape)
        ((3, 5, 20), (1, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )


class GRU(RNNBase):
    """Gated recurrent unit: reset and update gates decide how much of the state to rewrite.

    rₜ, zₜ = σ(·);  nₜ = tanh(xₜ Wᵢₙᵀ + bᵢₙ + rₜ (hₜ₋₁ Wₕₙᵀ + bₕₙ));  hₜ = (1 - zₜ) nₜ + zₜ hₜ₋₁.

    Args and shapes as ``RNN`` (no ``nonlinearity``).

    Example:
        >>> import soma
        >>> gru = GRU(10, 20, bidirectional=True)
        >>> output, h_n = gru(soma.randn(5, 3, 10))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((5, 3, 40), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )


# ---------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Shared parameters and forward of the one-step cells."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = type(self).__name__
        _check_positive("input_size", name, input_size)
        _check_positive("hidden_size", name, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _prepare(self, x, states):
        """Batch an unbatched call, check shapes, and fill missing states with zeros."""
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {tuple(x.shape)}"
            )
        unbatched = x.ndim == 1
        x = unsqueeze(x, 0) if unbatched else x
        batch = x.shape[0]
        out = []
        for s in states:
            if s is None:
                s = zeros(batch, self.hidden_size, dtype=x.dtype)
            elif unbatched and s.ndim == 1:
                s = unsqueeze(s, 0)
            if tuple(s.shape) != (batch, self.hidden_size):
                raise ValueError(
                    f"expected state of shape {(batch, self.hidden_size)}, got {tuple(s.shape)}"
                )
            out.append(s)
        return x, out, unbatched

    def _finish(self, outputs, unbatched):
        return tuple(squeeze(o, 0) for o in outputs) if unbatched else outputs

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(RNNCellBase):
    """One Elman step h' = tanh(x Wᵢₕᵀ + bᵢₕ + h Wₕₕᵀ + bₕₕ) (or relu).

    Example:
        >>> import soma
        >>> cell = RNNCell(10, 20)
        >>> tuple(cell(soma.randn(3, 10)).shape)
        (3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, (hx,))
        step = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        out = step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish((out,), unbatched)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``.

    Example:
        >>> import soma
        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(soma.randn(3, 10))
        >>> tuple(h.shape), tuple(c.shape)
        ((3, 20), (3, 20))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        x, (h, c), unbatched = self._prepare(input, (None, None) if hx is None else tuple(hx))
        out = R.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish(out, unbatched)


class GRUCell(RNNCellBase):
    """One GRU step: h' = cell(x, h).

    Example:
        >>> import soma
        >>> cell = GRUCell(10, 20)
        >>> tuple(cell(soma.randn(3, 10)).shape)
        (3, 20)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, (hx,))
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish((out,), unbatched)[0]
