"""Flatten parameters into one vector and back (for second-order methods, averaging, tests)."""

from collections.abc import Iterable

from soma.autograd.tensor import Tensor
from soma.functional.shape import cat


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-d tensor (differentiable).

    Example:
        >>> import soma
        >>> layer = soma.nn.Linear(3, 2)
        >>> tuple(parameters_to_vector(layer.parameters()).shape)  # 2·3 weights + 2 biases
        (8,)
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data (the inverse of
    ``parameters_to_vector``); no gradient flows.

    Example:
        >>> import soma
        >>> layer = soma.nn.Linear(2, 1)
        >>> vector_to_parameters(soma.tensor([1.0, 2.0, 3.0]), layer.parameters())
        >>> layer.weight.data, layer.bias.data
        (tensor([[1., 2.]]), tensor([3.]))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got {type(vec).__name__}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != needed:
        raise ValueError(
            f"vector_to_parameters: the parameters hold {needed} values but the "
            f"vector has shape {tuple(vec.shape)}; expected ({needed},)"
        )
    flat = vec.array
    start = 0
    for p in parameters:
        n = p.numel()
        p.array = flat[start : start + n].reshape(p.shape).astype(p.dtype, copy=True)
        start += n
