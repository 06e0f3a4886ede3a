"""Reverse-mode differentiation over the recorded graph.

``backward(root, gradient)`` first counts, for every node reachable from ``root``, how many of
its outputs' consumers lie in the graph; then it walks from the root, calling a node's
``backward`` once all its consumers have handed it their gradients (so each node sees the summed
gradient of its outputs), and accumulates the results into ``.grad`` of the leaf tensors that
require it. Both passes use explicit stacks, so a graph thousands of operations deep needs no
recursion. Unless ``retain_graph`` is set, every node drops its saved arrays once used.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp


def _count_consumers(root_ctx):
    """For each node (by id) reachable from the root: how many graph edges lead into it."""
    consumers = {id(root_ctx): 0}
    stack = [root_ctx]
    while stack:
        ctx = stack.pop()
        for parent, needed in zip(ctx._parents, ctx.needs_input_grad):
            if not needed or parent._ctx is None:
                continue
            key = id(parent._ctx)
            if key in consumers:
                consumers[key] += 1
            else:
                consumers[key] = 1
                stack.append(parent._ctx)
    return consumers


def _run_hooks(hooks, grad_array):
    """Call each hook with the gradient; a hook may return a replacement."""
    for hook in hooks:
        result = hook(Tensor._wrap(grad_array))
        if result is not None:
            grad_array = result.array if isinstance(result, Tensor) else result
    return grad_array


# Hooks run after a leaf's .grad has been accumulated, by id of the leaf (which the entry keeps
# alive): {id(leaf): (leaf, [hook, ...])}. Empty unless someone registered one (e.g. DDP).
POST_ACCUMULATE_HOOKS = {}


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
    if POST_ACCUMULATE_HOOKS:
        entry = POST_ACCUMULATE_HOOKS.get(id(leaf))
        if entry is not None:
            for hook in list(entry[1]):
                hook(leaf)


def _seed(root, gradient):
    xp = get_xp(root.array)
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for scalar outputs, but this "
                f"tensor has shape {tuple(root.shape)}; reduce it first (e.g. loss.sum() or "
                f".mean()) or pass gradient= of that shape"
            )
        return xp.ones_like(root.array)
    seed = xp.asarray(gradient.array if isinstance(gradient, Tensor) else gradient)
    if seed.shape != root.array.shape:
        raise RuntimeError(
            f"backward(): gradient has shape {seed.shape} but the tensor has shape {root.array.shape}"
        )
    return seed.astype(root.array.dtype, copy=True)


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
    seed = _seed(root, gradient)
    handed_out = set()
    capture = None if inputs is None else {id(t): None for t in inputs}
    root_ctx = root._ctx
    if root_ctx is None:
        if capture is not None:
            return [seed if t is root else None for t in inputs]
        _accumulate_leaf(root, seed, handed_out)
        return None
    wanted = {}
    if capture is not None:
        for t in inputs:
            if t._ctx is not None:
                wanted.setdefault(id(t._ctx), []).append(t)

    consumers = _count_consumers(root_ctx)
    root_ctx._grads = [None] * root_ctx.n_outputs
    root_ctx._grads[root._output_index] = seed
    ready = [root_ctx]
    while ready:
        ctx = ready.pop()
        out_grads = ctx._grads
        ctx._grads = None
        if ctx._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (at {ctx.name()}); its "
                f"saved arrays were freed. Pass retain_graph=True to the first backward()."
            )
        if ctx._output_hooks:
            for index, hooks in ctx._output_hooks.items():
                if out_grads[index] is not None:
                    out_grads[index] = _run_hooks(hooks, out_grads[index])
        for t in wanted.get(id(ctx), ()):
            capture[id(t)] = out_grads[t._output_index]
        # NOTE: a multi-output op receives None for outputs that got no gradient.
        if all(g is None for g in out_grads):
            in_grads = (None,) * len(ctx._parents)
        else:
            in_grads = ctx._fn.backward(ctx, *out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, g, needed in zip(ctx._parents, in_grads, ctx.needs_input_grad):
            if not needed:
                continue
            parent_ctx = parent._ctx
            if parent_ctx is None:
                if g is None:
                    continue
                if capture is None:
                    _accumulate_leaf(parent, g, handed_out)
                elif id(parent) in capture:
                    old = capture[id(parent)]
                    capture[id(parent)] = g if old is None else old + g
                continue
            if g is not None:
                slot = parent_ctx._grads
                if slot is None:
                    slot = parent_ctx._grads = [None] * parent_ctx.n_outputs
                index = parent._output_index
                slot[index] = g if slot[index] is None else slot[index] + g
            key = id(parent_ctx)
            consumers[key] -= 1
            if consumers[key] == 0:
                if parent_ctx._grads is None:
                    parent_ctx._grads = [None] * parent_ctx.n_outputs
                ready.append(parent_ctx)
        if not retain_graph:
            ctx.saved = ()
            ctx._options = None
            ctx._released = True
            ctx.__dict__.clear()
    if capture is not None:
        return [capture[id(t)] for t in inputs]
    return None
