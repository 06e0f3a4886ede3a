"""Root-mean-square normalisation (Zhang & Sennrich, 2019): LayerNorm without the mean."""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.reduction import mean
from soma.functional.unary import rsqrt

_xp = get_xp()


def rms_norm(input: Tensor, normalized_shape, weight: Tensor = None, eps: float = None) -> Tensor:
    """``y = x / √(mean(x²) + ε) · w``, the mean over the last ``len(normalized_shape)`` dims.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: the trailing shape normalised over (an int or a tuple).
        weight: optional elementwise scale of shape ``normalized_shape``.
        eps: added to the mean square; default ``torch.finfo(input.dtype).eps``.

    Example:
        >>> import soma
        >>> rms_norm(soma.tensor([[3.0, 4.0]]), (2,), eps=0.0)     # rms = √12.5
        tensor([[0.8485, 1.1314]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if tuple(input.shape[input.ndim - n :]) != shape or n > input.ndim:
        raise ValueError(
            f"rms_norm: input {shape_str(input.shape)} does not end with normalized_shape "
            f"{shape_str(shape)}"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(
            f"rms_norm: weight {shape_str(weight.shape)} must have normalized_shape "
            f"{shape_str(shape)}"
        )
    if eps is None:
        eps = float(_xp.finfo(input.array.dtype).eps)
    dims = tuple(range(-n, 0)) if n else ()
    y = input * rsqrt(mean(input * input, dims, keepdim=True) + eps) if n else input
    return y if weight is None else y * weight
