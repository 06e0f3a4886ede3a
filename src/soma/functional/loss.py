"""Regression and distribution losses: MSE, L1, Huber, smooth L1, KL divergence, cosine embedding.

Every loss takes ``reduction``: ``'mean'`` (the default), ``'sum'`` or ``'none'`` (one value per
element). The classification losses (cross-entropy, NLL, binary cross-entropy) live in
``classification_loss.py``; the helpers here are shared with them.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.elementwise import clamp, where
from soma.functional.unary import sqrt
from soma.functional.reduction import sum as _sum

_xp = get_xp()


def _check_reduction(reduction, op, allowed=("mean", "sum", "none")):
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: reduction must be one of {names}; got {reduction!r}")


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _grad_of_reduction(gy, shape, reduction, dtype):
    """d(reduce(v))/dv as an array broadcastable to ``shape``."""
    if reduction == "none":
        return gy
    n = 1
    for s in shape:
        n *= s
    return gy / dtype.type(n) if reduction == "mean" else gy


def _check_same_shape(x, t, op):
    if tuple(x.shape) != tuple(t.shape):
        raise ValueError(
            f"{op}: input shape {shape_str(x.shape)} and target shape {shape_str(t.shape)} "
            f"differ; they must match (did you forget .squeeze() or .unsqueeze(1)?)"
        )


def _pair_grads(ctx, g):
    """Gradients (g, -g) for losses of d = input - target."""
    return (g if ctx.needs_input_grad[0] else None, -g if ctx.needs_input_grad[1] else None)


def _prepare(input, target, reduction, op):
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


# ---------------------------------------------------------------------------- MSE, L1
class MSE(Function):
    """L = reduce((x - t)²)."""

    @staticmethod
    def forward(ctx, x, t, reduction):
        d = x - t
        ctx.save(d)
        ctx.reduction = reduction
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        # dL/dx = 2 (x - t) · (1/n for 'mean'),  dL/dt = -dL/dx
        return _pair_grads(ctx, 2 * d * _grad_of_reduction(gy, d.shape, ctx.reduction, d.dtype))


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, the lectures' regression loss: ``mean((input - target)²)``.

    Shape:
        input and target of the same shape; output scalar (or that shape for 'none').

    Example:
        >>> import soma
        >>> mse_loss(soma.tensor([1.0, 2.0]), soma.tensor([0.0, 4.0]))
        tensor(2.5)
    """
    input, target = _prepare(input, target, reduction, "mse_loss")
    return MSE.apply(input, target, reduction)


class L1(Function):
    """L = reduce(|x - t|)."""

    @staticmethod
    def forward(ctx, x, t, reduction):
        d = x - t
        ctx.save(d)
        ctx.reduction = reduction
        return _reduce(_xp.abs(d), reduction)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        # dL/dx = sign(x - t) (0 where equal),  dL/dt = -dL/dx
        scale = _grad_of_reduction(gy, d.shape, ctx.reduction, d.dtype)
        return _pair_grads(ctx, _xp.sign(d) * scale)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|input - target|)``.

    Example:
        >>> import soma
        >>> l1_loss(soma.tensor([1.0, 2.0]), soma.tensor([0.0, 4.0]))
        tensor(1.5)
    """
    input, target = _prepare(input, target, reduction, "l1_loss")
    return L1.apply(input, target, reduction)


# ---------------------------------------------------------------------------- Huber, smooth L1
class Huber(Function):
    """L = reduce(s · h(x - t)), h(d) = d²/2 for |d| < δ, else δ (|d| - δ/2); s a scale."""

    @staticmethod
    def forward(ctx, x, t, *, delta, scale, reduction):
        d = x - t
        a = _xp.abs(d)
        c = _xp.clip(a, 0.0, delta)
        # h = c (|d| - c/2) with c = min(|d|, δ): d²/2 inside, δ (|d| - δ/2) outside
        a -= 0.5 * c
        a *= c
        if scale != 1:
            a *= scale
        ctx.save(d)
        ctx.delta, ctx.scale, ctx.reduction = delta, scale, reduction
        return _reduce(a, reduction)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved
        # dh/dd = clip(d, -δ, δ)
        g = _xp.clip(d, -ctx.delta, ctx.delta)
        g *= _grad_of_reduction(gy, d.shape, ctx.reduction, d.dtype) * d.dtype.type(ctx.scale)
        return _pair_grads(ctx, g)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """Huber loss: squared error ``d²/2`` for ``|d| < delta``, linear ``delta (|d| - delta/2)``
    beyond (``d = input - target``): robust to outliers.

    Example:
        >>> import soma
        >>> huber_loss(soma.tensor([0.5, 3.0]), soma.tensor([0.0, 0.0]), reduction="none")
        tensor([0.125, 2.5  ])
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _prepare(input, target, reduction, "huber_loss")
    return Huber.apply(input, target, delta=float(delta), scale=1.0, reduction=reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: ``d²/(2 beta)`` for ``|d| < beta``, ``|d| - beta/2`` beyond (Huber / beta);
    ``beta = 0`` is the L1 loss.

    Example:
        >>> import soma
        >>> smooth_l1_loss(soma.tensor([0.5, 3.0]), soma.tensor([0.0, 0.0]), reduction="none")
        tensor([0.125, 2.5  ])
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    input, target = _prepare(input, target, reduction, "smooth_l1_loss")
    return Huber.apply(input, target, delta=float(beta), scale=1.0 / beta, reduction=reduction)


# ---------------------------------------------------------------------------- KL divergence
class KLDiv(Function):
    """L = reduce(t (log t - x)), or reduce(e^t (t - x)) when the target is a log-probability."""

    @staticmethod
    def forward(ctx, x, t, *, log_target, reduction):
        with _xp.errstate(divide="ignore", invalid="ignore"):
            if log_target:
                p = _xp.exp(t)
                v = p * (t - x)
            else:
                p = t
                # t log t, taken as 0 where t = 0 (PyTorch's xlogy)
                v = _xp.where(t == 0, 0, t * _xp.log(t)).astype(x.dtype, copy=False) - t * x
        ctx.save(x, t, p)
        ctx.log_target, ctx.reduction = log_target, reduction
        if reduction == "batchmean":
            return v.sum() / x.dtype.type(x.shape[0] if x.ndim else 1)
        return _reduce(v, reduction)

    @staticmethod
    def backward(ctx, gy):
        x, t, p = ctx.saved
        r = ctx.reduction
        if r == "batchmean":
            scale = gy / gy.dtype.type(x.shape[0] if x.ndim else 1)
        else:
            scale = _grad_of_reduction(gy, x.shape, r, x.dtype)
        gx = -p * scale if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            with _xp.errstate(divide="ignore", invalid="ignore"):
                # d/dt: log t + 1 - x, or e^t (t - x + 1) for log targets
                gt = (p * (t - x + 1) if ctx.log_target else _xp.log(t) + 1 - x) * scale
        return gx, gt


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(target ‖ q), with ``input = log q`` (log-probabilities).

    Args:
        input: log-probabilities (e.g. from ``log_softmax``).
        target: probabilities, or log-probabilities when ``log_target``.
        reduction: ``'batchmean'`` (sum / batch size: the true KL per sample), ``'sum'``,
            ``'mean'`` (over every element, as PyTorch) or ``'none'``.

    Example:
        >>> import soma
        >>> q = soma.tensor([[0.5, 0.5]]).log()
        >>> kl_div(q, soma.tensor([[1.0, 0.0]]), reduction="batchmean")
        tensor(0.6931)
    """
    _check_reduction(reduction, "kl_div", ("mean", "batchmean", "sum", "none"))
    input, target = _prepare(input, target, "none", "kl_div")
    return KLDiv.apply(input, target, log_target=bool(log_target), reduction=reduction)


# ---------------------------------------------------------------------------- cosine embedding
_COSINE_EPS = 1e-12  # PyTorch's: keeps |x|² away from 0


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """Cosine embedding loss: ``1 - cos(x1, x2)`` where ``target = 1`` (pull together),
    ``max(0, cos(x1, x2) - margin)`` where ``target = -1`` (push apart).

    Shape:
        input1, input2 (N, D) with target (N,), or (D,) with a 0-d target; output (N,) for
        'none', else scalar.

    Example:
        >>> import soma
        >>> x = soma.tensor([[1.0, 0.0], [1.0, 1.0]])
        >>> y = soma.tensor([[1.0, 0.0], [-1.0, 1.0]])
        >>> cosine_embedding_loss(x, y, soma.tensor([1, -1]), reduction="none")
        tensor([0., 0.])
    """
    _check_reduction(reduction, "cosine_embedding_loss")
    _check_cosine_shapes(input1, input2, target)
    dim = input1.ndim - 1
    dot = _sum(input1 * input2, dim)
    norms = (_sum(input1 * input1, dim) + _COSINE_EPS) * (_sum(input2 * input2, dim) + _COSINE_EPS)
    cos = dot / sqrt(norms)
    pull = where(target == 1, 1 - cos, 0.0)
    push = where(target == -1, clamp(cos - margin, min=0.0), 0.0)
    return _reduce_tensor(pull + push, reduction)


def _check_cosine_shapes(x1, x2, t):
    shapes = (f"input1 {shape_str(x1.shape)}, input2 {shape_str(x2.shape)}, "
              f"target {shape_str(t.shape)}")
    if t.ndim > 1 or x1.ndim != t.ndim + 1:
        raise ValueError(
            f"cosine_embedding_loss: expected a 0-d target with 1-d inputs or a 1-d target with "
            f"2-d inputs; got {shapes}"
        )
    if tuple(x1.shape) != tuple(x2.shape) or (t.ndim == 1 and x1.shape[0] != t.shape[0]):
        raise ValueError(f"cosine_embedding_loss: input shapes must match each other and the "
                         f"target's batch size; got {shapes}")


def _reduce_tensor(v, reduction):
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    return v
