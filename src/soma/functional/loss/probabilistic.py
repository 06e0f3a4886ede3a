"""Negative log-likelihoods of probabilistic outputs: Gaussian (a mean and a variance per
target) and Poisson (a rate per count). Composites of existing ops."""

import math

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.elementwise import clamp
from soma.functional.loss._reduction import _check_reduction, _reduce_tensor
from soma.functional.unary import exp, log

_xp = get_xp()


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood: ``½(log max(σ², ε) + (x − t)² / max(σ², ε))``.

    ``input`` is the predicted mean, ``var`` the predicted variance: the same shape as input,
    one dimension fewer (or a last dimension of 1: one variance shared by the last axis), or
    a float. ``full`` adds the constant ½ log 2π.

    NOTE: as PyTorch, σ² is clamped at ε for the value only: the gradient reaching ``var`` is
    that of the unclamped formula.

    Example:
        >>> import soma
        >>> gaussian_nll_loss(soma.tensor([1.0]), soma.tensor([3.0]), soma.tensor([2.0]))
        tensor(1.3466)
    """
    _check_reduction(reduction, "gaussian_nll_loss")
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        var = input.detach() * 0 + float(var)
    elif bool((var.array < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (
            input.ndim == var.ndim
            and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1
        ):
            raise ValueError(
                f"gaussian_nll_loss: var {shape_str(var.shape)} is of incorrect size for input "
                f"{shape_str(input.shape)}"
            )
    held = var.detach()
    var = var + (clamp(held, min=eps) - held)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce_tensor(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of counts ``target`` under rate λ:

        log_input:  e^x − t·x          (x = log λ)
        otherwise:  x − t·log(x + ε)   (x = λ)

    ``full`` adds Stirling's approximation of log t!, ``t log t − t + ½ log(2πt)``, where
    t > 1. The deprecated ``size_average``/``reduce`` must stay None.

    Example:
        >>> import soma
        >>> poisson_nll_loss(soma.tensor([0.0]), soma.tensor([2.0]))     # e⁰ − 2·0
        tensor(1.)
    """
    if size_average is not None or reduce is not None:
        raise ValueError("poisson_nll_loss: size_average and reduce are deprecated; use reduction")
    _check_reduction(reduction, "poisson_nll_loss")
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        t = target.detach().array
        with _xp.errstate(divide="ignore", invalid="ignore"):
            stirling = t * _xp.log(t) - t + 0.5 * _xp.log(2 * math.pi * t)
        stirling = _xp.where(t > 1, stirling, 0).astype(loss.array.dtype)
        loss = loss + Tensor._wrap(stirling)
    return _reduce_tensor(loss, reduction)
