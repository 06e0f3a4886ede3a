"""Finite-difference gradient checks in float64.

``gradcheck(fn, inputs)`` compares the analytic gradient of ``fn`` with central differences
``(f(x + εe) − f(x − εe)) / 2ε``. For a tensor output it checks the vector–Jacobian product with
a fixed random cotangent ``v`` (so one backward pass per check): the scalar ``⟨v, fn(x)⟩`` is
differentiated. Inputs with more than ``max_full`` elements are checked along a few random
directions instead of element by element (Chainer's ``check_backward``).
"""

from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def _as_outputs(out):
    return out if isinstance(out, (tuple, list)) else (out,)


def _scalar(fn, inputs, cotangents):
    outs = _as_outputs(fn(*inputs))
    total = 0.0
    for o, v in zip(outs, cotangents):
        if isinstance(o, Tensor) and o.dtype.kind == "f":
            total = total + (o * Tensor._wrap(v)).sum()
    return total


def numerical_jacobian_vector(fn, inputs, cotangents, index, direction, eps):
    """Central difference of ⟨v, fn⟩ along ``direction`` in input ``index``."""
    x = inputs[index]
    base = x.array.copy()
    with no_grad():
        x.array = base + eps * direction
        up = float(_scalar(fn, inputs, cotangents).item())
        x.array = base - eps * direction
        down = float(_scalar(fn, inputs, cotangents).item())
    x.array = base
    return (up - down) / (2 * eps)


def gradcheck(
    fn,
    inputs,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    max_full=64,
    directions=6,
    seed=0,
):
    """True when every float input's analytic gradient matches finite differences.

    Args:
        fn: a function of ``inputs`` returning a tensor (or a tuple of tensors).
        inputs: tensors; the float64 ones with ``requires_grad`` are checked.
        eps: the finite-difference step.
        atol, rtol: tolerances, compared as ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
    """
    rng = _xp.random.default_rng(seed)
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in checked:
        if inputs[i].dtype != _xp.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs")
    with no_grad():
        outs = _as_outputs(fn(*inputs))
    cotangents = [rng.standard_normal(o.shape) if isinstance(o, Tensor) else None for o in outs]
    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    _scalar(fn, inputs, cotangents).backward()
    for i in checked:
        x = inputs[i]
        analytic = _xp.zeros(x.shape) if x.grad is None else x.grad.array
        if x.array.size <= max_full:
            probes = [_xp.eye(x.array.size)[k].reshape(x.shape) for k in range(x.array.size)]
        else:
            probes = [rng.standard_normal(x.shape) for _ in range(directions)]
        for d in probes:
            numeric = numerical_jacobian_vector(fn, inputs, cotangents, i, d, eps)
            exact = float((analytic * d).sum())
            if not abs(exact - numeric) <= atol + rtol * abs(numeric):
                if raise_exception:
                    raise AssertionError(
                        f"gradcheck: input {i} (shape {tuple(x.shape)}): analytic directional "
                        f"derivative {exact:.8g} != numerical {numeric:.8g}"
                    )
                return False
    return True
