"""Reverse-mode differentiation over the recorded graph.

``backward(root, gradient)`` orders the graph's nodes topologically (iteratively, so a graph
thousands of operations deep needs no recursion), walks them from the output back to the
inputs, calls each node's ``backward`` with the summed gradient of its outputs, and accumulates
the results into ``.grad`` of the leaf tensors that require it. Unless ``retain_graph`` is set,
every node drops its saved arrays as soon as it has been used.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp


def _toposort(root_ctx):
    """Nodes reachable from ``root_ctx``, every node before the nodes it depends on."""
    order = []
    visited = {id(root_ctx)}
    stack = [(root_ctx, 0)]
    while stack:
        ctx, i = stack.pop()
        inputs = ctx._parents
        while i < len(inputs):
            parent = inputs[i]
            i += 1
            parent_ctx = getattr(parent, "_ctx", None)
            if parent_ctx is not None and id(parent_ctx) not in visited:
                visited.add(id(parent_ctx))
                stack.append((ctx, i))
                stack.append((parent_ctx, 0))
                break
        else:
            order.append(ctx)
    order.reverse()
    return order


def _run_hooks(hooks, grad_array):
    """Call each hook with the gradient; a hook may return a replacement."""
    for hook in hooks:
        result = hook(Tensor._wrap(grad_array))
        if result is not None:
            grad_array = result.array if isinstance(result, Tensor) else result
    return grad_array


def _accumulate_leaf(leaf, g, handed_out):
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g)
    if g.dtype != leaf.array.dtype:
        g = g.astype(leaf.array.dtype)
    if g.shape != leaf.array.shape:
        g = get_xp(g).broadcast_to(g, leaf.array.shape)
    if leaf.grad is None:
        # NOTE: a kernel may hand one array to several inputs (add does); copy before a second
        # leaf owns it, so that an in-place change to one .grad cannot reach another.
        if id(g) in handed_out or g.base is not None or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        leaf.grad = Tensor._wrap(g)
    else:
        leaf.grad.array = leaf.grad.array + g


def backward(root, gradient=None, retain_graph=False, inputs=None):
    """Backpropagate from ``root`` (a Tensor) and accumulate into the leaves' ``.grad``.

    With ``inputs`` (a tuple of tensors), nothing is accumulated: the gradients with respect
    to those tensors are returned as a list of arrays (None where a tensor was not reached).
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no grad_fn; "
            "did you create it under no_grad(), call .detach(), or forget requires_grad=True?"
        )
    xp = get_xp(root.array)
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for scalar outputs, but this "
                f"tensor has shape {tuple(root.shape)}; reduce it first (e.g. loss.sum() or "
                f".mean()) or pass gradient= of that shape"
            )
        seed = xp.ones_like(root.array)
    else:
        seed = xp.asarray(gradient.array if hasattr(gradient, "array") else gradient)
        if seed.shape != root.array.shape:
            raise RuntimeError(
                f"backward(): gradient has shape {seed.shape} but the tensor has shape "
                f"{root.array.shape}"
            )
        seed = seed.astype(root.array.dtype, copy=True)

    handed_out = set()
    capture = None
    if inputs is not None:
        capture = {id(t): None for t in inputs}
    if root._ctx is None:
        if capture is not None:
            capture[id(root)] = seed
            return [capture.get(id(t)) for t in inputs]
        _accumulate_leaf(root, seed, handed_out)
        return None
    wanted_outputs = {}
    if capture is not None:
        for t in inputs:
            if t._ctx is not None:
                wanted_outputs.setdefault(id(t._ctx), []).append(t)

    grads = {id(root._ctx): [None] * root._ctx.n_outputs}
    grads[id(root._ctx)][root._output_index] = seed
    for ctx in _toposort(root._ctx):
        out_grads = grads.pop(id(ctx), None)
        if out_grads is None:
            continue
        if ctx._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (at {ctx.name()}); its "
                f"saved arrays were freed. Pass retain_graph=True to the first backward()."
            )
        if ctx._output_hooks:
            for index, hooks in ctx._output_hooks.items():
                if out_grads[index] is not None:
                    out_grads[index] = _run_hooks(hooks, out_grads[index])
        for t in wanted_outputs.get(id(ctx), ()):
            capture[id(t)] = out_grads[t._output_index]
        # NOTE: a multi-output op receives None for outputs that got no gradient.
        in_grads = ctx._fn.backward(ctx, *out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, g, needed in zip(ctx._parents, in_grads, ctx.needs_input_grad):
            if g is None or not needed:
                continue
            parent_ctx = parent._ctx
            if parent_ctx is None:
                if capture is None:
                    _accumulate_leaf(parent, g, handed_out)
                elif id(parent) in capture:
                    old = capture[id(parent)]
                    capture[id(parent)] = g if old is None else old + g
                continue
            slot = grads.get(id(parent_ctx))
            if slot is None:
                slot = grads[id(parent_ctx)] = [None] * parent_ctx.n_outputs
            index = parent._output_index
            slot[index] = g if slot[index] is None else slot[index] + g
        if not retain_graph:
            ctx.saved = ()
            ctx._released = True
            ctx.__dict__.clear()
    if capture is not None:
        return [capture[id(t)] for t in inputs]
    return None
