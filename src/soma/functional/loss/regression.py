"""Regression losses: MSE, L1, Huber and smooth L1.

Every loss takes ``reduction``: ``'mean'`` (the default), ``'sum'`` or ``'none'`` (one value per
element); the shared handling is in ``_reduction.py``.
"""

from soma.autograd.function import Function, named
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.loss._reduction import (
    _grad_of_reduction,
    _pair_grads,
    _prepare,
    _reduce,
)

_xp = get_xp()


def _weighted(loss, weight, reduction, name, *, mean_over_weights):
    """PyTorch's ``weight=`` (2.13) on a regression loss: the element losses times ``weight``
    (input's shape), then reduced; ``'mean'`` is ``Σ w·l / Σ w`` for mse and l1 and
    ``mean(w·l)`` for huber, as PyTorch computes them."""
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(
            f"{name}: weight must have the input's shape {tuple(loss.shape)}, "
            f"got {tuple(weight.shape)}"
        )
    weighted = loss * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / weight.sum() if mean_over_weights else weighted.mean()


# ---------------------------------------------------------------------------- MSE, L1
class MSE(Function):
    """L = reduce((x - t)²)."""

    _backward_name = "MseLossBackward0"  # PyTorch's node name

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


def mse_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None
) -> Tensor:
    """Mean squared error, the lectures' regression loss: ``mean((input - target)²)``.

    Shape:
        input and target of the same shape; output scalar (or that shape for 'none').

    Example:
        >>> import soma
        >>> mse_loss(soma.tensor([1.0, 2.0]), soma.tensor([0.0, 4.0]))
        tensor(2.5000)
    """
    input, target = _prepare(input, target, reduction, "mse_loss")
    if weight is not None:
        loss = MSE.apply(input, target, "none")
        return _weighted(loss, weight, reduction, "mse_loss", mean_over_weights=True)
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


def l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None
) -> Tensor:
    """Mean absolute error ``mean(|input - target|)``.

    Example:
        >>> import soma
        >>> l1_loss(soma.tensor([1.0, 2.0]), soma.tensor([0.0, 4.0]))
        tensor(1.5000)
    """
    input, target = _prepare(input, target, reduction, "l1_loss")
    if weight is not None:
        loss = L1.apply(input, target, "none")
        return _weighted(loss, weight, reduction, "l1_loss", mean_over_weights=True)
    # PyTorch's l1_loss is |d| then the reduction: its node is the last of them
    name = {"mean": "MeanBackward0", "sum": "SumBackward0", "none": "AbsBackward0"}[reduction]
    return named(L1.apply(input, target, reduction), name)


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


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Huber loss: squared error ``d²/2`` for ``|d| < delta``, linear ``delta (|d| - delta/2)``
    beyond (``d = input - target``): robust to outliers.

    Example:
        >>> import soma
        >>> huber_loss(soma.tensor([0.5, 3.0]), soma.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _prepare(input, target, reduction, "huber_loss")
    if weight is not None:
        loss = Huber.apply(input, target, delta=float(delta), scale=1.0, reduction="none")
        return _weighted(loss, weight, reduction, "huber_loss", mean_over_weights=False)
    result = Huber.apply(input, target, delta=float(delta), scale=1.0, reduction=reduction)
    return named(result, "HuberLossBackward0")


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Smooth L1: ``d²/(2 beta)`` for ``|d| < beta``, ``|d| - beta/2`` beyond (Huber / beta);
    ``beta = 0`` is the L1 loss.

    Example:
        >>> import soma
        >>> smooth_l1_loss(soma.tensor([0.5, 3.0]), soma.tensor([0.0, 0.0]), reduction="none")
        tensor([0.1250, 2.5000])
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    input, target = _prepare(input, target, reduction, "smooth_l1_loss")
    result = Huber.apply(input, target, delta=float(beta), scale=1.0 / beta, reduction=reduction)
    return named(result, "SmoothL1LossBackward0")
