"""``Module.register_full_backward_hook`` / ``register_full_backward_pre_hook``.

As in PyTorch, a module with backward hooks routes its tensor inputs and outputs through
identity nodes: the output node sees grad_output (pre-hooks run there), the input node sees
grad_input (hooks run there, with both). Modules without such hooks pay one dict lookup.
"""

from soma.autograd import grad_mode
from soma.autograd.function import Function
from soma.autograd.tensor import Tensor


class _Handle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def register(module, hook, pre):
    hooks = module.__dict__.get("_backward_hooks")
    if hooks is None:
        hooks = {"pre": [], "post": []}
        object.__setattr__(module, "_backward_hooks", hooks)
    bucket = hooks["pre" if pre else "post"]
    bucket.append(hook)
    return _Handle(bucket, hook)


def _wrap(arrays):
    return tuple(None if a is None else Tensor._wrap(a) for a in arrays)


def _unwrap(values):
    return tuple(None if v is None else (v.array if isinstance(v, Tensor) else v) for v in values)


def _run_post(state, grad_input):
    module, hooks = state["module"], state["hooks"]["post"]
    grad_output = _wrap(state.get("grad_output") or ())
    for hook in tuple(hooks):
        result = hook(module, _wrap(grad_input), grad_output)
        if result is not None:
            grad_input = _unwrap(result if isinstance(result, tuple) else (result,))
    return grad_input


class _InputHook(Function):
    @staticmethod
    def forward(ctx, *arrays, state):
        ctx.state = state
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        return tuple(_run_post(ctx.state, grads))


class _OutputHook(Function):
    @staticmethod
    def forward(ctx, *arrays, state):
        ctx.state = state
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        for hook in tuple(state["hooks"]["pre"]):
            result = hook(state["module"], _wrap(grads))
            if result is not None:
                grads = _unwrap(result if isinstance(result, tuple) else (result,))
        state["grad_output"] = grads
        if not state["has_inputs"]:
            _run_post(state, (None,) * state["n_inputs"])
        return tuple(grads)


def wrap_inputs(module, args):
    """Route the tensor inputs through the input node; returns (args, state)."""
    state = {"module": module, "hooks": module._backward_hooks, "n_inputs": 0, "has_inputs": False}
    if not grad_mode.is_grad_enabled():
        return args, None
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    state["n_inputs"] = len(positions)
    needing = [i for i in positions if args[i].requires_grad]
    if not needing:
        return args, state
    state["has_inputs"] = True
    outs = _InputHook.apply(*(args[i] for i in positions), state=state)
    args = list(args)
    for i, t in zip(positions, outs):
        args[i] = t
    return tuple(args), state


def attach(state, out):
    """Route the tensor outputs through the output node."""
    if state is None:
        return out
    single = isinstance(out, Tensor)
    outs = (out,) if single else out
    if not isinstance(outs, tuple) or not any(
        isinstance(o, Tensor) and o.requires_grad for o in outs
    ):
        return out
    positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
    wrapped = _OutputHook.apply(*(outs[i] for i in positions), state=state)
    result = list(outs)
    for i, t in zip(positions, wrapped):
        result[i] = t
    return result[0] if single else tuple(result)
