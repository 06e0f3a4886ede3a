"""Connectionist temporal classification (Graves et al., 2006): the loss of sequence models
whose output is longer than, and not aligned with, the label sequence (speech, handwriting).

The label sequence l is extended with blanks, l' = (b, l₁, b, l₂, …, b) of length 2S + 1, and
the probability of all alignments is summed by dynamic programming in log space:

    α_t(s) = y_t(l'_s) · (α_{t−1}(s) + α_{t−1}(s−1) + [l'_s ≠ b, l'_s ≠ l'_{s−2}] α_{t−1}(s−2))
    p(l | x) = α_{T−1}(2S) + α_{T−1}(2S − 1),   loss = −log p(l | x)

β runs the same recursion backwards; α_t(s)β_t(s)/y_t(l'_s) is the probability of all
alignments through (t, s).
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.loss._reduction import _check_reduction

_xp = get_xp()
_NEG_INF = -_xp.inf


def _shift(a, k):
    """a[..., s − k] along the last axis, −∞ where s < k."""
    out = _xp.full_like(a, _NEG_INF)
    out[..., k:] = a[..., : a.shape[-1] - k]
    return out


def _unshift(a, k):
    """a[..., s + k] along the last axis, −∞ past the end."""
    out = _xp.full_like(a, _NEG_INF)
    out[..., : a.shape[-1] - k] = a[..., k:]
    return out


def _logsumexp3(a, b, c):
    with _xp.errstate(invalid="ignore"):
        return _xp.logaddexp(_xp.logaddexp(a, b), c)


class CTCLoss(Function):
    """Per-sequence −log p(l | x) over log-probabilities (T, N, C); forward-backward in log
    space, vectorised over the batch."""

    @staticmethod
    def forward(ctx, lp, labels, input_lengths, target_lengths, *, zero_infinity):
        T, N, _ = lp.shape
        L = labels.shape[1]  # 2·S_max + 1 extended labels, blanks at even positions
        n = _xp.arange(N)
        y = lp[:, n[:, None], labels]  # (T, N, L): y_t(l'_s) in log space
        valid = _xp.arange(L)[None, :] < (2 * target_lengths + 1)[:, None]
        skip = _xp.zeros((N, L), dtype=bool)  # may jump from s − 2 to s
        skip[:, 2:] = (labels[:, 2:] != labels[:, :-2]) & (_xp.arange(2, L) % 2 == 1)
        alpha = _xp.full((T, N, L), _NEG_INF, dtype=lp.dtype)
        alpha[0, :, 0] = y[0, :, 0]
        if L > 1:
            alpha[0, :, 1] = y[0, :, 1]
        alpha[0] = _xp.where(valid, alpha[0], _NEG_INF)
        for t in range(1, T):
            a = alpha[t - 1]
            jump = _xp.where(skip, _shift(a, 2), _NEG_INF)
            alpha[t] = _xp.where(valid, y[t] + _logsumexp3(a, _shift(a, 1), jump), _NEG_INF)
        last = alpha[input_lengths - 1, n]  # (N, L) at each sequence's last frame
        end = 2 * target_lengths
        log_p = _xp.logaddexp(last[n, end], _xp.where(end > 0, last[n, end - 1], _NEG_INF))
        nll = -log_p
        ctx.infinite = _xp.isinf(nll)
        if zero_infinity:
            nll = _xp.where(ctx.infinite, 0.0, nll).astype(lp.dtype)
        ctx.save(lp, labels, input_lengths, target_lengths, alpha, y, valid, skip, nll)
        ctx.zero_infinity = zero_infinity
        return nll

    @staticmethod
    def backward(ctx, gy):
        lp, labels, input_lengths, target_lengths, alpha, y, valid, skip, nll = ctx.saved
        T, N, C = lp.shape
        L = labels.shape[1]
        n = _xp.arange(N)
        end = 2 * target_lengths
        beta = _xp.full((T, N, L), _NEG_INF, dtype=lp.dtype)
        skip_next = _unshift(skip.astype(lp.dtype), 2) > 0  # may jump from s + 2 to s
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                b = beta[t + 1]
                jump = _xp.where(skip_next, _unshift(b, 2), _NEG_INF)
                beta[t] = _xp.where(valid, y[t] + _logsumexp3(b, _unshift(b, 1), jump), _NEG_INF)
            start = input_lengths - 1 == t  # each sequence's backward pass starts at its end
            init = _xp.full((N, L), _NEG_INF, dtype=lp.dtype)
            init[n, end] = y[t, n, end]
            init[n, end - 1] = _xp.where(end > 0, y[t, n, end - 1], init[n, end - 1])
            beta[t] = _xp.where(start[:, None], init, beta[t])
        # γ_t(c) = Σ_{s: l'_s = c} α_t(s) β_t(s) / y_t(c) / p, accumulated per class in log
        # space around the per-frame maximum
        ab = alpha + beta
        top = ab.max(axis=2, keepdims=True)
        top = _xp.where(_xp.isfinite(top), top, 0.0)
        occupancy = _xp.zeros((T, N, C), dtype=lp.dtype)
        t_idx = _xp.arange(T)[:, None, None]
        with _xp.errstate(under="ignore"):
            _xp.add.at(occupancy, (t_idx, n[None, :, None], labels[None]), _xp.exp(ab - top))
        with _xp.errstate(divide="ignore"):
            log_occ = _xp.log(occupancy) + top
        # NOTE: PyTorch's gradient, e^{lp} − γ: the true d(loss)/d(lp) is −γ; the extra e^{lp}
        # vanishes through a log_softmax (its rows sum to 1), so models train the same, and
        # matching it keeps gradients equal to PyTorch's.
        with _xp.errstate(over="ignore", invalid="ignore"):
            g = _xp.exp(lp) - _xp.exp(log_occ + nll[None, :, None] - lp)
        frames = _xp.arange(T)[:, None] < input_lengths[None, :]
        keep = frames & ~(ctx.infinite[None, :] if ctx.zero_infinity else False)
        g = _xp.where(keep[:, :, None], g, 0.0)
        return (g * gy[None, :, None]).astype(lp.dtype), None, None, None


def ctc_loss(
    log_probs: Tensor,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """The connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``.

    Args:
        log_probs: (T, N, C) log-probabilities (a ``log_softmax`` over C), or (T, C) unbatched.
        targets: (N, S) padded label sequences, or all sequences concatenated (1-d); labels
            are class indices other than ``blank``.
        input_lengths: (N,) frames used of each sequence (≤ T).
        target_lengths: (N,) labels of each sequence.
        blank: the blank class.
        reduction: 'none' (N,), 'sum', or 'mean' (each loss divided by its target length,
            then averaged over the batch).
        zero_infinity: report impossible alignments (input too short) as 0, with 0 gradient.

    Example:
        >>> import soma
        >>> lp = soma.tensor([[[0.0, -30.0]], [[-30.0, 0.0]]])    # frames say "b" then "1"
        >>> float(ctc_loss(lp, soma.tensor([[1]]), [2], [1])) < 1e-6
        True
    """
    _check_reduction(reduction, "ctc_loss")
    batched = log_probs.ndim == 3
    if log_probs.ndim not in (2, 3):
        raise ValueError(
            f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {shape_str(log_probs.shape)}"
        )
    lp = log_probs if batched else log_probs.unsqueeze(1)
    T, N, C = lp.shape
    in_len = _int_array(input_lengths, N, "input_lengths")
    tg_len = _int_array(target_lengths, N, "target_lengths")
    tg = _xp.asarray(targets.array if isinstance(targets, Tensor) else targets).astype(_xp.int64)
    if not batched:
        tg = tg.reshape(1, -1)
    rows = _target_rows(tg, tg_len, N)
    if (in_len > T).any() or (in_len < 1).any():
        raise ValueError(f"ctc_loss: input_lengths must be in [1, {T}], got {in_len.tolist()}")
    labels = _xp.full(
        (N, 2 * (int(tg_len.max()) if tg_len.size else 0) + 1), blank, dtype=_xp.int64
    )
    for i, row in enumerate(rows):
        labels[i, 1 : 2 * len(row) : 2] = row
    if ((labels < 0) | (labels >= C)).any():
        raise ValueError(f"ctc_loss: target labels must be in [0, {C}), got {rows}")
    nll = CTCLoss.apply(lp, labels, in_len, tg_len, zero_infinity=zero_infinity)
    if reduction == "none":
        return nll if batched else nll.reshape(())
    if reduction == "sum":
        return nll.sum()
    divisor = Tensor._wrap(_xp.maximum(tg_len, 1).astype(lp.array.dtype))
    return (nll / divisor).mean()


def _int_array(lengths, n, name):
    if isinstance(lengths, Tensor):
        lengths = lengths.array
    a = _xp.asarray(lengths, dtype=_xp.int64).reshape(-1)
    if a.shape != (n,):
        raise ValueError(f"ctc_loss: {name} must hold {n} lengths, got {a.tolist()}")
    return a


def _target_rows(tg, tg_len, n):
    """Each sequence's labels, from padded (N, S) targets or one concatenated 1-d run."""
    if tg.ndim == 2:
        if tg.shape[0] != n or (tg_len > tg.shape[1]).any():
            raise ValueError(
                f"ctc_loss: targets {shape_str(tg.shape)} do not fit {n} sequences of lengths "
                f"{tg_len.tolist()}"
            )
        return [tg[i, : tg_len[i]] for i in range(n)]
    if tg.size != tg_len.sum():
        raise ValueError(
            f"ctc_loss: concatenated targets hold {tg.size} labels, target_lengths sum to "
            f"{int(tg_len.sum())}"
        )
    ends = _xp.cumsum(tg_len)
    return [tg[e - k : e] for e, k in zip(ends, tg_len)]
