"""Losses on embeddings: how close two vectors point (cosine embedding)."""

from soma.autograd.tensor import Tensor
from soma.functional._utils import shape_str
from soma.functional.elementwise import clamp, where
from soma.functional.loss._reduction import _check_reduction, _reduce_tensor
from soma.functional.reduction import sum as _sum
from soma.functional.unary import sqrt

_COSINE_EPS = 1e-12  # PyTorch's: keeps |x|² away from 0


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
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
    shapes = (
        f"input1 {shape_str(x1.shape)}, input2 {shape_str(x2.shape)}, target {shape_str(t.shape)}"
    )
    if t.ndim > 1 or x1.ndim != t.ndim + 1:
        raise ValueError(
            f"cosine_embedding_loss: expected a 0-d target with 1-d inputs or a 1-d target with "
            f"2-d inputs; got {shapes}"
        )
    if tuple(x1.shape) != tuple(x2.shape) or (t.ndim == 1 and x1.shape[0] != t.shape[0]):
        raise ValueError(
            f"cosine_embedding_loss: input shapes must match each other and the "
            f"target's batch size; got {shapes}"
        )
