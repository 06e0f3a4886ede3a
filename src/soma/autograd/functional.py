"""``torch.autograd.functional``: ``vjp`` and ``jacobian`` (first order), by backward passes."""

from soma.autograd import grad_mode
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def _tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _prepare(inputs):
    return tuple(Tensor._wrap(t.array.copy(), requires_grad=True) for t in _tuple(inputs))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ·J): the output and the vector-Jacobian product for each input."""
    from soma.autograd import grad  # NOTE: lazy: soma.autograd's __init__ imports this module

    if create_graph:
        raise NotImplementedError("vjp(create_graph=True): soma's autograd is first-order")
    single = isinstance(inputs, Tensor)
    xs = _prepare(inputs)
    with grad_mode.enable_grad():
        out = func(*xs)
    grads = grad(out, xs, v, allow_unused=True, materialize_grads=True)
    out = out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out)
    return out, (grads[0] if single else grads)


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """The Jacobian of ``func`` at ``inputs``: one backward pass per output element.

    Shape: output.shape + input.shape (nested tuples for several outputs/inputs, as PyTorch).
    """
    from soma.autograd import grad  # NOTE: lazy: soma.autograd's __init__ imports this module

    if create_graph:
        raise NotImplementedError("jacobian(create_graph=True): soma's autograd is first-order")
    single_in = isinstance(inputs, Tensor)
    xs = _prepare(inputs)
    with grad_mode.enable_grad():
        out = func(*xs)
    single_out = isinstance(out, Tensor)
    outs = _tuple(out)
    result = []
    for o in outs:
        rows = [_xp.zeros(o.shape + x.shape, dtype=x.dtype) for x in xs]
        flat = o.reshape(-1)
        for k in range(flat.shape[0]):
            if not flat.requires_grad:
                break
            gs = grad(flat[k], xs, retain_graph=True, allow_unused=True, materialize_grads=True)
            for r, g in zip(rows, gs):
                r.reshape((-1,) + r.shape[o.ndim :])[k] = g.array
        per_input = tuple(Tensor._wrap(r) for r in rows)
        result.append(per_input[0] if single_in else per_input)
    return result[0] if single_out else tuple(result)
