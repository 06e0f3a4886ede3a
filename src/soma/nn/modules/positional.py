"""Positional encodings: attention itself ignores order, so each position's vector gets a code
added to it: fixed sinusoids (``PositionalEncoding``) or learned vectors
(``LearnedPositionalEncoding``).
"""

import math

from soma.autograd.factory import empty
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend.dtypes import get_default_dtype
from soma.functional.dropout import dropout
from soma.functional.shape import unsqueeze
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter

_xp = get_xp()


def sinusoidal_encoding(max_len: int, d_model: int, dtype=None) -> Tensor:
    """The (max_len, d_model) table of "Attention Is All You Need":
    PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d)).

    Example:
        >>> [round(v, 4) for v in sinusoidal_encoding(2, 4).tolist()[1]]
        [0.8415, 0.5403, 0.01, 1.0]
    """
    position = _xp.arange(max_len, dtype=_xp.float64)[:, None]
    rate = _xp.exp(_xp.arange(0, d_model, 2, dtype=_xp.float64) * (-math.log(10000.0) / d_model))
    table = _xp.zeros((max_len, d_model))
    table[:, 0::2] = _xp.sin(position * rate)
    table[:, 1::2] = _xp.cos(position * rate[: d_model // 2])
    return Tensor._wrap(table.astype(dtype or get_default_dtype()))


def _check_length(layer, x, batch_first, max_len):
    length = x.shape[1 if batch_first and x.ndim == 3 else 0]
    if length > max_len:
        raise ValueError(
            f"sequence of length {length} (input shape {tuple(x.shape)}) is longer "
            f"than max_len={max_len} of {layer}"
        )
    return length


class PositionalEncoding(Module):
    """Adds the fixed sinusoidal position code to a sequence of vectors, then dropout.

    Args:
        d_model: features per position.
        max_len: longest sequence supported (default 5000).
        dropout: dropout probability after the addition.
        batch_first: input is (N, L, d_model) instead of (L, N, d_model).

    The table is a buffer ``pe`` (max_len, d_model), saved with the state dict.

    Example:
        >>> import soma
        >>> pe = PositionalEncoding(8, max_len=50, batch_first=True)
        >>> tuple(pe(soma.zeros(2, 10, 8)).shape)
        (2, 10, 8)
    """

    def __init__(
        self,
        d_model: int,
        max_len: int = 5000,
        dropout: float = 0.0,
        batch_first: bool = False,
        dtype=None,
    ):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.p, self.batch_first = dropout, batch_first
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, dtype))

    def forward(self, x: Tensor) -> Tensor:
        length = _check_length("PositionalEncoding", x, self.batch_first, self.max_len)
        code = self.pe[:length]
        if x.ndim == 3 and not self.batch_first:
            code = unsqueeze(code, 1)
        return dropout(x + code, self.p, self.training)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.p}" + (
            ", batch_first=True" if self.batch_first else ""
        )


class LearnedPositionalEncoding(Module):
    """Adds a learned vector per position (initialised from N(0, 0.02²)), then dropout.

    Args: as ``PositionalEncoding``; the vectors are the parameter ``weight`` (max_len, d_model).

    Example:
        >>> import soma
        >>> pe = LearnedPositionalEncoding(8, max_len=16)
        >>> tuple(pe(soma.zeros(10, 2, 8)).shape)
        (10, 2, 8)
    """

    def __init__(
        self,
        d_model: int,
        max_len: int = 512,
        dropout: float = 0.0,
        batch_first: bool = False,
        dtype=None,
    ):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.p, self.batch_first = dropout, batch_first
        self.weight = Parameter(empty(max_len, d_model, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, std=0.02, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        length = _check_length("LearnedPositionalEncoding", x, self.batch_first, self.max_len)
        code = self.weight[:length]
        if x.ndim == 3 and not self.batch_first:
            code = unsqueeze(code, 1)
        return dropout(x + code, self.p, self.training)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.p}" + (
            ", batch_first=True" if self.batch_first else ""
        )
