"""``MultiheadAttention``: attention in several learned projections at once, PyTorch's layout.

Parameters keep PyTorch's names and shapes so state dicts load 1:1: ``in_proj_weight``
(3·E, E) and ``in_proj_bias`` (3·E), or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``
when keys or values have other sizes (``kdim``/``vdim``), ``out_proj`` (a ``Linear``), and
``bias_k``/``bias_v`` with ``add_bias_kv``.
"""

from soma.autograd.factory import empty
from soma.autograd.tensor import Tensor
from soma.functional.attention import multi_head_attention_forward
from soma.functional.shape import transpose
from soma.nn import init
from soma.nn.module import Module
from soma.nn.modules.linear import NonDynamicallyQuantizableLinear
from soma.nn.parameter import Parameter


class MultiheadAttention(Module):
    """Multi-head attention: softmax(Q Kᵀ / √d) V in ``num_heads`` projections, then mixed.

    Args:
        embed_dim: features of the queries (and of the output).
        num_heads: parallel heads; ``embed_dim`` must be divisible by it.
        dropout: dropout on the attention weights (training only).
        bias: learn biases in the input and output projections.
        add_bias_kv: append a learned key and value to the sequence.
        add_zero_attn: append a zero key and value to every head.
        kdim, vdim: features of the keys and values (default ``embed_dim``).
        batch_first: inputs and output are (N, L, E) instead of (L, N, E).

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim), or unbatched (L, E) …;
        key_padding_mask (N, S), True = ignore that key; attn_mask (L, S) or (N·num_heads, L, S),
        True (or -inf) = that query may not look at that key. Output (L, N, E) and, with
        ``need_weights``, weights (N, L, S) averaged over heads (or (N, num_heads, L, S)).

    Example:
        >>> import soma
        >>> mha = MultiheadAttention(16, 4, batch_first=True)
        >>> x = soma.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)
        >>> tuple(out.shape), tuple(weights.shape)
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim=None,
        vdim=None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive "
                f"multiple of num_heads ({num_heads})"
            )
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, dtype=dtype))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype
        )
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, dtype=dtype))
            self.bias_v = Parameter(empty(1, 1, embed_dim, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self, generator=None) -> None:
        """Xavier-uniform projections, zero biases, as PyTorch does."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k, generator=generator)
            init.xavier_normal_(self.bias_v, generator=generator)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = _swap_batch(query, key, value)
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = transpose(out, 0, 1)
        return out, weights


def _swap_batch(query, key, value):
    """(N, L, E) → (L, N, E) for all three, keeping ``query is key is value`` identities."""
    q = transpose(query, 0, 1)
    k = q if key is query else transpose(key, 0, 1)
    v = k if value is key else (q if value is query else transpose(value, 0, 1))
    return q, k, v
