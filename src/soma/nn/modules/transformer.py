"""Transformers: encoder and decoder layers built on self-attention, their stacks, and the full
encoder–decoder ``Transformer``.

An encoder layer lets every position attend to every other (self-attention), then applies a
position-wise feed-forward network; each sub-block sits in a residual connection with layer
normalisation, after it (``norm_first=False``, the original paper) or before it (pre-norm).
A decoder layer adds attention over the encoder's output ("memory"). Nothing runs step by
step: a whole sequence is processed in parallel.

Names match PyTorch's (``self_attn``, ``linear1``, ``norm1``, ``layers.0`` …) so state dicts
load 1:1.
"""

import copy

from soma.autograd.factory import full
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.activation.piecewise import gelu, relu
from soma.nn import init
from soma.nn.module import Module
from soma.nn.modules.attention import MultiheadAttention
from soma.nn.modules.container import ModuleList
from soma.nn.modules.dropout import Dropout
from soma.nn.modules.linear import Linear
from soma.nn.modules.normalization import LayerNorm

_xp = get_xp()

_ACTIVATIONS = {"relu": relu, "gelu": gelu}


def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The causal mask: (sz, sz) floats, -inf above the diagonal (future positions), 0 elsewhere.

    Example:
        >>> generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
    """
    mask = full((sz, sz), float("-inf"), dtype=dtype)
    mask.array[...] = _xp.triu(mask.array, k=1)
    return mask


def _activation(layer, activation):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"{layer}: activation should be 'relu' or 'gelu' (or a callable), "
                f"got '{activation}'"
            )
        return _ACTIVATIONS[activation]
    return activation


def _causal_if_hinted(mask, is_causal, length, dtype):
    """PyTorch treats ``is_causal`` as a hint about ``mask``; with no mask, build it."""
    if is_causal and mask is None:
        return generate_square_subsequent_mask(length, dtype=dtype)
    return mask


def _clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each in a residual block with LayerNorm.

    Args:
        d_model: features per position.
        nhead: attention heads.
        dim_feedforward: hidden size of the feed-forward network (default 2048).
        dropout: dropout after attention, inside and after the feed-forward network (0.1).
        activation: ``"relu"`` (default), ``"gelu"`` or a callable.
        layer_norm_eps: LayerNorm's epsilon.
        batch_first: (N, L, E) instead of (L, N, E).
        norm_first: LayerNorm before each block (pre-norm) instead of after it.
        bias: biases in the linear layers and LayerNorms.

    Example:
        >>> import soma
        >>> layer = TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        >>> tuple(layer(soma.randn(2, 5, 16)).shape)
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation("TransformerEncoderLayer", activation)
        self.batch_first = batch_first

    def forward(
        self, src: Tensor, src_mask=None, src_key_padding_mask=None, is_causal: bool = False
    ) -> Tensor:
        length = src.shape[1 if self.batch_first and src.ndim == 3 else 0]
        src_mask = _causal_if_hinted(src_mask, is_causal, length, src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (memory), then a feed-forward network.

    Args: as ``TransformerEncoderLayer``.

    Example:
        >>> import soma
        >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32)
        >>> tuple(layer(soma.randn(5, 2, 16), soma.randn(7, 2, 16)).shape)
        (5, 2, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation("TransformerDecoderLayer", activation)
        self.batch_first = batch_first

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        length = tgt.shape[1 if self.batch_first and tgt.ndim == 3 else 0]
        tgt_mask = _causal_if_hinted(tgt_mask, tgt_is_causal, length, tgt.dtype)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask):
        x = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` copies of an encoder layer (each its own weights), then an optional norm.

    Example:
        >>> import soma
        >>> layer = TransformerEncoderLayer(16, 4, dim_feedforward=32)
        >>> encoder = TransformerEncoder(layer, num_layers=2)
        >>> tuple(encoder(soma.randn(5, 2, 16)).shape)
        (5, 2, 16)
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm=None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None, is_causal=None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``num_layers`` copies of a decoder layer, then an optional norm.

    Example:
        >>> import soma
        >>> decoder = TransformerDecoder(TransformerDecoderLayer(16, 4, 32), num_layers=2)
        >>> tuple(decoder(soma.randn(5, 2, 16), soma.randn(7, 2, 16)).shape)
        (5, 2, 16)
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder–decoder Transformer ("Attention Is All You Need"), PyTorch's ``nn.Transformer``.

    Args:
        d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
        norm_first, bias: as ``TransformerEncoderLayer``.
        num_encoder_layers, num_decoder_layers: depth of each stack (default 6).
        custom_encoder, custom_decoder: use these modules instead.

    Shape:
        src (S, N, E), tgt (T, N, E) (batch first with ``batch_first``) → output (T, N, E).

    Example:
        >>> import soma
        >>> model = Transformer(16, 4, 1, 1, dim_feedforward=32)
        >>> tuple(model(soma.randn(7, 2, 16), soma.randn(5, 2, 16)).shape)
        (5, 2, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        common = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            dtype=dtype,
        )
        norm = dict(eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.encoder = (
            custom_encoder
            if custom_encoder is not None
            else TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **common),
                num_encoder_layers,
                LayerNorm(d_model, **norm),
            )
        )
        self.decoder = (
            custom_decoder
            if custom_decoder is not None
            else TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **common),
                num_decoder_layers,
                LayerNorm(d_model, **norm),
            )
        )
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self, generator=None) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p, generator=generator)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal=None,
        tgt_is_causal=None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise ValueError(
                f"src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                f"have different batch sizes (dimension {batch_dim})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                f"must have d_model={self.d_model} features"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The causal mask (``soma.nn.modules.transformer.generate_square_subsequent_mask``)."""
        return generate_square_subsequent_mask(sz, device, dtype)
