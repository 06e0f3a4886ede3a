"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Self-attention lets every position of a sequence look at every other: each query is compared
with every key (a scaled dot product), the scores become weights through a softmax, and the
output is the weighted sum of the values. Multi-head attention does this in several learned
projections of the inputs at once and mixes the heads with an output projection.

The core, ``Attention``, is one Function (scores, masking, softmax, dropout, weighted sum and
the whole backward pass) so that no (L, S) intermediate becomes a graph node of its own.
"""

import math

from soma.autograd.factory import zeros
from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import as_tensor, shape_str, unbroadcast
from soma.functional.dropout import keep_mask, keep_scale
from soma.functional.elementwise import add
from soma.functional.linalg import linear
from soma.functional.reduction import mean
from soma.functional.shape import cat, chunk, expand, permute, reshape, squeeze, unsqueeze

_xp = get_xp()


class Attention(Function):
    """y = softmax(q kᵀ · scale + mask) v, dropout on the weights; outputs y and the weights."""

    @staticmethod
    def forward(ctx, q, k, v, mask, *, scale, dropout_p, generator, zero_empty_rows):
        s = _xp.matmul(q, k.swapaxes(-1, -2))
        s *= scale
        if mask is not None:
            if _xp.broadcast_shapes(s.shape, mask.shape) == s.shape:
                s += mask
            else:
                s = s + mask  # the mask brings batch dimensions
        p = _softmax_(s, zero_empty_rows)
        keep = None
        if dropout_p > 0:
            keep = keep_mask(p.shape, dropout_p, generator)
            weights = p * keep * keep_scale(p.dtype, dropout_p)
        else:
            weights = p
        ctx.save(q, k, v, p, keep, weights)
        ctx.options = (scale, dropout_p, None if mask is None else mask.shape)
        return _xp.matmul(weights, v), weights

    @staticmethod
    def backward(ctx, gy, gw):
        q, k, v, p, keep, weights = ctx.saved
        scale, dropout_p, mask_shape = ctx.options
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad
        if gy is None:
            dw = _xp.zeros(weights.shape, dtype=weights.dtype)
        else:
            dw = gy @ v.swapaxes(-1, -2)
        if gw is not None:
            dw += gw
        gv = None
        if need_v and gy is not None:
            gv = unbroadcast(weights.swapaxes(-1, -2) @ gy, v.shape)  # dv = wᵀ dy
        if keep is not None:
            dw *= keep * keep_scale(dw.dtype, dropout_p)
        # softmax: ds = p ⊙ (dp - Σ_j dp_j p_j)
        ds = dw
        ds -= (dw * p).sum(axis=-1, keepdims=True)
        ds *= p
        gmask = unbroadcast(ds, mask_shape) if need_mask else None
        if gmask is ds:  # NOTE: same shape: unbroadcast handed back ds, which is scaled next
            gmask = ds.copy()
        ds *= scale
        gq = unbroadcast(ds @ k, q.shape) if need_q else None  # dq = ds k
        gk = unbroadcast(ds.swapaxes(-1, -2) @ q, k.shape) if need_k else None  # dk = dsᵀ q
        return gq, gk, gv, gmask


def _softmax_(s, zero_empty_rows):
    """Softmax over the last axis, in place; a row masked out entirely gives zeros or NaN."""
    top = s.max(axis=-1, keepdims=True)
    if zero_empty_rows:
        top[top == -_xp.inf] = 0  # exp(-inf) = 0: the row sums to 0
    with _xp.errstate(invalid="ignore"):
        s -= top
        _xp.exp(s, out=s)
        total = s.sum(axis=-1, keepdims=True)
        if zero_empty_rows:
            total[total == 0] = 1
        s /= total
    return s


def _additive_mask(mask, dtype, op, allowed_if_true):
    """A mask as additive float scores: bool → 0 / -inf; float masks pass through."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = Tensor._wrap(_xp.asarray(mask))
    if mask.dtype == _xp.bool_:
        blocked = ~mask.array if allowed_if_true else mask.array
        return Tensor._wrap(_xp.where(blocked, -_xp.inf, 0).astype(dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"{op}: a mask must be bool or floating point, got dtype {mask.dtype}")
    return mask if mask.dtype == dtype else mask.to(dtype)


def _causal_mask(length, source, dtype):
    blocked = _xp.triu(_xp.ones((length, source), dtype=bool), k=1)
    return Tensor._wrap(_xp.where(blocked, -_xp.inf, 0).astype(dtype))


def attention(
    query, key, value, mask=None, *, scale, dropout_p=0.0, generator=None, zero_empty_rows=True
):
    """The fused core: ``(output, weights)`` for an additive float ``mask`` (or None)."""
    return Attention.apply(
        query,
        key,
        value,
        mask,
        scale=scale,
        dropout_p=dropout_p,
        generator=generator,
        zero_empty_rows=zero_empty_rows,
    )


def _check_qkv(query, key, value):
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(
            f"scaled_dot_product_attention: query, key and value need at least 2 "
            f"dimensions, got {shape_str(query.shape)}, {shape_str(key.shape)}, "
            f"{shape_str(value.shape)}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: query {shape_str(query.shape)}, key "
            f"{shape_str(key.shape)} and value {shape_str(value.shape)} do not fit: query and "
            f"key need the same last dimension, key and value the same sequence length"
        )


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale=None,
    enable_gqa: bool = False,
    *,
    generator=None,
) -> Tensor:
    """softmax(Q Kᵀ / √E + mask) V, with PyTorch's mask conventions.

    Args:
        query: (*, L, E); key (*, S, E); value (*, S, Ev); the leading dimensions broadcast.
        attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to
            (*, L, S). A query row that may attend to nothing gives zeros.
        dropout_p: dropout probability on the attention weights.
        is_causal: position i attends only to positions ≤ i (no ``attn_mask`` then).
        scale: multiplies the scores (default 1/√E).
        enable_gqa: grouped-query attention: the query's head dimension (-3) is a multiple of
            the key's and value's, and each group of query heads shares one key/value head.

    Shape:
        output (*, L, Ev)

    Example:
        >>> import soma
        >>> q = soma.randn(2, 4, 5, 8)
        >>> tuple(scaled_dot_product_attention(q, q, q, is_causal=True).shape)
        (2, 4, 5, 8)
    """
    _check_qkv(query, key, value)
    if is_causal and attn_mask is not None:
        raise ValueError(
            "scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both"
        )
    if is_causal:
        mask = _causal_mask(query.shape[-2], key.shape[-2], query.dtype)
    else:
        mask = _additive_mask(attn_mask, query.dtype, "scaled_dot_product_attention", True)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        return _grouped(query, key, value, mask, scale, dropout_p, generator)
    return attention(
        query, key, value, mask, scale=scale, dropout_p=dropout_p, generator=generator
    )[0]


def _grouped(query, key, value, mask, scale, dropout_p, generator):
    """Grouped-query attention by broadcasting: q heads (Hk, G), k and v heads (Hk, 1)."""
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if heads % kv_heads:
        raise ValueError(
            f"scaled_dot_product_attention: {heads} query heads are not a multiple "
            f"of {kv_heads} key/value heads"
        )
    lead, group = tuple(query.shape[:-3]), heads // kv_heads
    q = reshape(query, lead + (kv_heads, group) + tuple(query.shape[-2:]))
    k, v = unsqueeze(key, -3), unsqueeze(value, -3)
    if mask is not None and mask.ndim >= 3 and mask.shape[-3] == heads:
        mask = reshape(mask, tuple(mask.shape[:-3]) + (kv_heads, group) + tuple(mask.shape[-2:]))
    elif mask is not None and mask.ndim >= 3:
        mask = unsqueeze(mask, -3)
    out = attention(q, k, v, mask, scale=scale, dropout_p=dropout_p, generator=generator)[0]
    return reshape(out, lead + (heads,) + tuple(out.shape[-2:]))


# ---------------------------------------------------------------------------- multi-head attention
def _project(query, key, value, w, b, separate):
    """q, k, v from the packed (3E, E) in_proj weight, or from three separate weights."""
    embed = query.shape[-1]
    if separate is not None:
        bq, bk, bv = (None,) * 3 if b is None else chunk(b, 3)
        return (
            linear(query, separate[0], bq),
            linear(key, separate[1], bk),
            linear(value, separate[2], bv),
        )
    if query is key and key is value:
        return chunk(linear(query, w, b), 3, -1)
    bq, bkv = (None, None) if b is None else (b[:embed], b[embed:])
    q = linear(query, w[:embed], bq)
    if key is value:
        k, v = chunk(linear(key, w[embed:], bkv), 2, -1)
        return q, k, v
    bk, bv = (None, None) if b is None else (bkv[:embed], bkv[embed:])
    return q, linear(key, w[embed : 2 * embed], bk), linear(value, w[2 * embed :], bv)


def _heads(x, batch, heads):
    """(L, N, E) → (N, heads, L, E / heads)."""
    return permute(reshape(x, (x.shape[0], batch, heads, -1)), (1, 2, 0, 3))


def _merged_mask(attn_mask, key_padding_mask, batch, heads, length, source, dtype):
    """attn_mask (L, S) or (N·heads, L, S) and key_padding_mask (N, S) as one additive mask."""
    op = "multi_head_attention_forward"
    mask = _additive_mask(attn_mask, dtype, op, False)
    if mask is not None:
        if tuple(mask.shape) == (length, source):
            mask = reshape(mask, (1, 1, length, source))
        elif tuple(mask.shape) == (batch * heads, length, source):
            mask = reshape(mask, (batch, heads, length, source))
        else:
            raise ValueError(
                f"{op}: attn_mask of shape {shape_str(mask.shape)} does not match "
                f"(L, S) = {(length, source)} or (N·num_heads, L, S) = "
                f"{(batch * heads, length, source)}"
            )
    padding = _additive_mask(key_padding_mask, dtype, op, False)
    if padding is not None:
        if tuple(padding.shape) != (batch, source):
            raise ValueError(
                f"{op}: key_padding_mask of shape {shape_str(padding.shape)} does "
                f"not match (N, S) = {(batch, source)}"
            )
        padding = reshape(padding, (batch, 1, 1, source))
        mask = padding if mask is None else add(mask, padding)
    return mask


def _same_objects(fn, query, key, value):
    """Apply ``fn`` to q, k, v, keeping ``query is key`` / ``key is value`` identities."""
    q = fn(query)
    k = q if key is query else fn(key)
    v = k if value is key else (q if value is query else fn(value))
    return q, k, v


def _pad_source(mask, extra):
    """One more (zero) column at the end of an additive mask's source axis."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], extra, dtype=mask.dtype)], -1)


def _append_bias_kv(k, v, bias_k, bias_v):
    """add_bias_kv: a learned key and value appended to the (S, N, E) sequences."""
    batch = k.shape[1]
    k = cat([k, expand(bias_k, (1, batch, k.shape[2]))], 0)
    v = cat([v, expand(bias_v, (1, batch, v.shape[2]))], 0)
    return k, v


def _append_zero_attn(k, v):
    """add_zero_attn: a zero key and value appended to every head's (N, H, S, d) sequence."""
    k = cat([k, zeros(*k.shape[:2], 1, k.shape[3], dtype=k.dtype)], 2)
    v = cat([v, zeros(*v.shape[:2], 1, v.shape[3], dtype=v.dtype)], 2)
    return k, v


def _check_embed(op, query, key, value, embed_dim, num_heads, separate):
    if query.ndim not in (2, 3) or query.shape[-1] != embed_dim:
        raise ValueError(
            f"{op}: expected query with {embed_dim} features (embed_dim) in its last "
            f"dimension, got shape {shape_str(query.shape)}"
        )
    if key.ndim != query.ndim or value.ndim != query.ndim or key.shape[:-1] != value.shape[:-1]:
        raise ValueError(
            f"{op}: query {shape_str(query.shape)}, key {shape_str(key.shape)} and "
            f"value {shape_str(value.shape)} do not fit (key and value need the same "
            f"sequence length and batch)"
        )
    if query.ndim == 3 and key.shape[1] != query.shape[1]:
        raise ValueError(
            f"{op}: query {shape_str(query.shape)} and key {shape_str(key.shape)} "
            f"have different batch sizes"
        )
    if embed_dim % num_heads:
        raise ValueError(f"{op}: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
    kdim = separate[1].shape[1] if separate is not None else embed_dim
    vdim = separate[2].shape[1] if separate is not None else embed_dim
    if key.shape[-1] != kdim or value.shape[-1] != vdim:
        raise ValueError(
            f"{op}: key {shape_str(key.shape)} and value {shape_str(value.shape)} "
            f"do not match kdim={kdim} and vdim={vdim}"
        )


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias,
    training: bool = True,
    key_padding_mask=None,
    need_weights: bool = True,
    attn_mask=None,
    use_separate_proj_weight: bool = False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    generator=None,
):
    """Multi-head attention with PyTorch's argument list and sequence-first layout.

    Args:
        query: (L, N, E) or unbatched (L, E); key (S, N, kdim) and value (S, N, vdim) likewise.
        key_padding_mask: (N, S); True (or -inf) marks keys to ignore.
        attn_mask: (L, S) or (N·num_heads, L, S); True (or -inf) marks pairs that may not
            attend. ``is_causal`` is only a hint that it is the causal mask.
        need_weights: also return the attention weights, averaged over heads unless
            ``average_attn_weights=False``.
        static_k, static_v: precomputed (N·num_heads, S, E / num_heads) keys and values.

    Returns:
        ``(output (L, N, E), weights (N, L, S) or (N, num_heads, L, S) or None)``.
    """
    op = "multi_head_attention_forward"
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    _check_embed(op, query, key, value, embed_dim_to_check, num_heads, separate)
    if is_causal and attn_mask is None:
        raise ValueError(
            f"{op}: is_causal is a hint that attn_mask is the causal mask; pass attn_mask too"
        )
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = _same_objects(lambda t: unsqueeze(t, 1), query, key, value)
        if key_padding_mask is not None:
            key_padding_mask = unsqueeze(as_tensor(key_padding_mask), 0)
    length, batch, embed = query.shape
    source = key.shape[0] if static_k is None else static_k.shape[1]
    mask = _merged_mask(attn_mask, key_padding_mask, batch, num_heads, length, source, query.dtype)
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, separate)
    if bias_k is not None:
        k, v = _append_bias_kv(k, v, bias_k, bias_v)
        mask = _pad_source(mask, 1)
    q = _heads(q, batch, num_heads)
    k = (
        _heads(k, batch, num_heads)
        if static_k is None
        else reshape(static_k, (batch, num_heads) + tuple(static_k.shape[1:]))
    )
    v = (
        _heads(v, batch, num_heads)
        if static_v is None
        else reshape(static_v, (batch, num_heads) + tuple(static_v.shape[1:]))
    )
    if add_zero_attn:
        k, v = _append_zero_attn(k, v)
        mask = _pad_source(mask, 1)
    y, weights = attention(
        q,
        k,
        v,
        mask,
        scale=1 / math.sqrt(embed // num_heads),
        dropout_p=dropout_p if training else 0.0,
        generator=generator,
        zero_empty_rows=not need_weights,
    )
    y = reshape(permute(y, (2, 0, 1, 3)), (length, batch, embed))
    out = linear(y, out_proj_weight, out_proj_bias)
    if not need_weights:
        return (squeeze(out, 1) if unbatched else out), None
    if average_attn_weights:
        weights = mean(weights, 1)
    return (squeeze(out, 1), squeeze(weights, 0)) if unbatched else (out, weights)
