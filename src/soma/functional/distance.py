"""Distances and similarities between vectors: cosine similarity, p-norm distance, and
normalising to unit length. Composites of existing ops (their gradients come from those)."""

from soma.autograd.tensor import Tensor
from soma.functional._utils import shape_str
from soma.functional.elementwise import clamp
from soma.functional.reduction import norm, sum
from soma.functional.shape import broadcast_to


def _clamp_values_only(t: Tensor, min: float) -> Tensor:
    """``t`` with its values clamped at ``min`` but the gradient of ``t`` itself.

    NOTE: PyTorch clamps the norms of cosine_similarity in place under no_grad, so the
    gradient passes through the clamp unchanged; this reproduces that.
    """
    d = t.detach()
    return t + (clamp(d, min=min) - d)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``.

    ``Σ (x1 / max(‖x1‖, ε)) · (x2 / max(‖x2‖, ε))`` (each vector divided by its norm first,
    which keeps the result in [−1, 1]).

    Args:
        x1, x2: tensors that broadcast together.
        dim: the dimension holding the vectors.
        eps: the smallest norm divided by.

    Shape:
        the broadcast shape without ``dim``.

    Example:
        >>> import soma
        >>> cosine_similarity(soma.tensor([[1.0, 0.0]]), soma.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    shape = _broadcast_shape(x1, x2, "cosine_similarity")
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    n1 = _clamp_values_only(norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamp_values_only(norm(x2, 2, dim, keepdim=True), eps)
    return sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """The p-norm distance between rows: ``‖x1 − x2 + ε‖_p`` along the last dimension.

    Shape:
        x1, x2 (N, D) or (D,) (broadcasting); output (N,) or 0-d (``keepdim`` keeps a 1).

    Example:
        >>> import soma
        >>> pairwise_distance(soma.tensor([[0.0, 0.0]]), soma.tensor([[3.0, 4.0]]), eps=0.0)
        tensor([5.])
    """
    _broadcast_shape(x1, x2, "pairwise_distance")
    return norm(x1 - x2 + eps, p, -1, keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``input`` divided by its p-norm along ``dim``: ``x / max(‖x‖_p, ε)``.

    Example:
        >>> import soma
        >>> normalize(soma.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result instead")
    denom = clamp(norm(input, p, dim, keepdim=True), min=eps)
    return input / denom


def _broadcast_shape(a: Tensor, b: Tensor, op: str) -> tuple:
    shape = []
    for i in range(1, max(a.ndim, b.ndim) + 1):
        m = a.shape[-i] if i <= a.ndim else 1
        n = b.shape[-i] if i <= b.ndim else 1
        if m != n and 1 not in (m, n):
            raise ValueError(
                f"{op}: shapes {shape_str(a.shape)} and {shape_str(b.shape)} do not broadcast"
            )
        shape.append(max(m, n) if 1 in (m, n) else m)
    return tuple(reversed(shape))
