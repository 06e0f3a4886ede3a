"""Automatic differentiation: the Tensor, the graph nodes (Function), and the backward engine."""

from soma.autograd.tensor import Size, Tensor  # noqa: I001  (Tensor first: the rest import it)
from soma.autograd.function import Context, Function
from soma.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from soma.autograd import engine
from soma.autograd.gradcheck import gradcheck, numerical_jacobian_vector


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    No tensor's ``.grad`` changes.
    """
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    arrays = engine.backward(outputs, grad_outputs, retain_graph, inputs=inputs)
    result = []
    for i, g in enumerate(arrays):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad(): input {i} was not used to compute the outputs; pass allow_unused=True"
            )
        result.append(None if g is None else Tensor._wrap(g))
    return tuple(result)


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (PyTorch's old name)
    """Old PyTorch's tensor wrapper (deprecated there since 0.4): returns ``data`` itself,
    with ``requires_grad`` set when asked, as PyTorch does today."""
    if requires_grad:
        data.requires_grad_(True)
    return data
