"""Automatic differentiation: the Tensor, the graph nodes (Function), and the backward engine.

``soma.autograd.Function`` is PyTorch's custom-Function API (forward/backward on Tensors,
``ctx.save_for_backward``); ``soma.autograd.Kernel`` (``soma.autograd.function.Function``) is
the raw-array API soma's own ops are written in. See docs/AUTOGRAD.md.
"""

from soma.autograd.tensor import Size, Tensor  # noqa: I001  (Tensor first: the rest import it)
from soma.autograd.function import Context
from soma.autograd.function import Function as Kernel
from soma.autograd.function_api import (
    Function,
    FunctionCtx,
    InplaceFunction,
    NestedIOFunction,
    once_differentiable,
)
from soma.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from soma.autograd import engine
from soma.autograd.gradcheck import gradcheck, numerical_jacobian_vector
from soma.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from soma.autograd import functional  # noqa: E402  (jacobian, vjp)

_FIRST_ORDER = (
    "{}(create_graph=True): soma's autograd is first-order (kernels compute gradients on raw "
    "arrays, so the backward pass is not itself recorded); double backward (gradient "
    "penalties, Hessian-vector products) is not supported"
)


def _as_tuple(x):
    if x is None:
        return None
    return (x,) if isinstance(x, Tensor) else tuple(x)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    No tensor's ``.grad`` changes. Several outputs add up their gradients (each with its
    ``grad_outputs`` entry).

    Example:
        >>> import soma
        >>> x = soma.tensor([1.0, 2.0], requires_grad=True)
        >>> soma.autograd.grad((x * x).sum(), x)
        (tensor([2., 4.]),)
    """
    if create_graph:
        raise NotImplementedError(_FIRST_ORDER.format("grad"))
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported")
    if allow_unused is None:
        allow_unused = materialize_grads
    inputs = _as_tuple(inputs)
    outputs = _as_tuple(outputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(grad_outputs)} for "
            f"{len(outputs)} outputs"
        )
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    totals = [None] * len(inputs)
    for k, (out, g) in enumerate(zip(outputs, grad_outputs)):
        keep = bool(retain_graph) or k < len(outputs) - 1
        arrays = engine.backward(out, g, keep, inputs=inputs)
        totals = [a if t is None else (t if a is None else t + a) for t, a in zip(totals, arrays)]
    result = []
    for i, (t, g) in enumerate(zip(inputs, totals)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(Tensor._wrap(t.array * 0) if materialize_grads else None)
        else:
            result.append(Tensor._wrap(g))
    return tuple(result)


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (PyTorch's old name)
    """Old PyTorch's tensor wrapper (deprecated there since 0.4): returns ``data`` itself,
    with ``requires_grad`` set when asked, as PyTorch does today."""
    if requires_grad:
        data.requires_grad_(True)
    return data


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph=False,
    grad_variables=None,
    inputs=None,
):
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors`` (a sum of them)."""
    if create_graph:
        raise NotImplementedError(_FIRST_ORDER.format("backward"))
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    grad_tensors = grad_tensors or (None,) * len(tensors)
    for k, (t, g) in enumerate(zip(tensors, grad_tensors)):
        keep = bool(retain_graph) or k < len(tensors) - 1
        t.backward(g, retain_graph=keep, inputs=inputs)


def gradgradcheck(fn, inputs, *args, **kwargs):
    """Second-order check: not available (soma's autograd is first-order)."""
    raise NotImplementedError(_FIRST_ORDER.format("gradgradcheck"))


__all__ = [
    "Context",
    "Function",
    "FunctionCtx",
    "InplaceFunction",
    "Kernel",
    "NestedIOFunction",
    "Size",
    "Tensor",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "numerical_jacobian_vector",
    "inference_mode",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_detect_anomaly",
    "set_grad_enabled",
]
