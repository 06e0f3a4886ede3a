"""Gradient clipping: rescale or clamp the ``.grad`` of parameters in place, as PyTorch does.

Clipping by the total norm keeps the update's direction and bounds its size (the lecture's
remedy for exploding gradients); clipping by value bounds every component separately.
"""

import math
from collections.abc import Iterable

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()

_EPS = 1e-6  # PyTorch's: max_norm / (total_norm + 1e-6)


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(a, p):
    """‖a‖_p of a flattened array, in its own dtype (p = inf, -inf, 0 or any float)."""
    a = a.reshape(-1)
    if p == 2:
        return _xp.sqrt(_xp.dot(a, a))
    if p == math.inf:
        return _xp.abs(a).max(initial=0)
    if p == -math.inf:
        return _xp.abs(a).min()
    if p == 0:
        return a.dtype.type(_xp.count_nonzero(a))
    if p == 1:
        return _xp.abs(a).sum()
    return (_xp.abs(a) ** p).sum() ** (1 / p)


def get_total_norm(
    tensors: Iterable[Tensor] | Tensor,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """The p-norm of all ``tensors`` together, as if concatenated into one vector.

    Args:
        tensors: a tensor or an iterable of tensors (typically gradients).
        norm_type: p; ``inf`` for the largest absolute value.
        error_if_nonfinite: raise if the norm is nan or inf.
        foreach: accepted for PyTorch compatibility; ignored.

    Returns:
        a 0-d tensor in the tensors' dtype (0.0 when there are none).
    """
    arrays = [t.array for t in _as_list(tensors) if t is not None]
    p = float(norm_type)
    if not arrays:
        return Tensor._wrap(_xp.asarray(0.0, dtype=_xp.float32))
    norms = _xp.stack([_xp.asarray(_norm(a, p), dtype=arrays[0].dtype) for a in arrays])
    total = _norm(norms, p) if len(arrays) > 1 else norms[0]
    if error_if_nonfinite and not _xp.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            f"cannot be clipped. To disable this error and scale the gradients by the non-finite "
            f"norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor._wrap(_xp.asarray(total, dtype=arrays[0].dtype))


def clip_grads_with_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, total_norm: Tensor, foreach=None
) -> None:
    """Scale every ``.grad`` by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else _xp.asarray(total_norm)
    coef = min(float(max_norm) / (float(total) + _EPS), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)  # NOTE: always applied, as PyTorch does (coef 1 leaves g as is)


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Rescale the gradients so that their total norm is at most ``max_norm``; in place.

    The total norm is taken over all gradients together, as if concatenated into one vector;
    if it exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped (those without
            a gradient are skipped).
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm; ``float('inf')`` for the largest absolute value.
        error_if_nonfinite: raise ``RuntimeError`` if the total norm is nan or inf (otherwise
            the gradients are scaled by it anyway, as in PyTorch).
        foreach: accepted for PyTorch compatibility; ignored.

    Returns:
        the total norm of the gradients before clipping, as a 0-d tensor.

    Example:
        >>> import soma
        >>> w = soma.tensor([3.0, 4.0], requires_grad=True)
        >>> (w * w).sum().backward()          # grad = (6, 8), norm 10
        >>> clip_grad_norm_([w], max_norm=5.0)
        tensor(10.)
        >>> w.grad
        tensor([3., 4.])
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(
    parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach=None
) -> None:
    """Clamp every gradient component into ``[-clip_value, clip_value]``, in place.

    Example:
        >>> import soma
        >>> w = soma.tensor([3.0, -4.0], requires_grad=True)
        >>> (w * w).sum().backward()          # grad = (6, -8)
        >>> clip_grad_value_([w], 5.0)
        >>> w.grad
        tensor([ 5., -5.])
    """
    v = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            _xp.clip(p.grad.array, -v, v, out=p.grad.array)
