"""Gated activations: the gated linear unit."""

from soma.autograd.tensor import Tensor
from soma.functional._utils import shape_str
from soma.functional.activation.piecewise import sigmoid
from soma.functional.shape import chunk


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a ⊗ σ(b)``, where ``input`` is split in halves a, b along ``dim``.

    Shape:
        input (*, 2M, *) → (*, M, *).

    Example:
        >>> import soma
        >>> glu(soma.tensor([2.0, 0.0]))                # 2 · σ(0)
        tensor([1.])
    """
    if input.ndim == 0 or input.shape[dim] % 2:
        size = "a 0-d input" if input.ndim == 0 else f"size {input.shape[dim]}"
        raise ValueError(
            f"glu: halving dimension {dim} of input {shape_str(input.shape)} needs an even "
            f"size, got {size}"
        )
    a, b = chunk(input, 2, dim)
    return a * sigmoid(b)
