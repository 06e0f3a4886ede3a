"""Reverse-mode differentiation over the recorded graph.

``backward(root, gradient)`` first counts, for every node reachable from ``root``, how many of
its outputs' consumers lie in the graph; then it walks from the root, calling a node's
``backward`` once all its consumers have handed it their gradients (so each node sees the summed
gradient of its outputs), and accumulates the results into ``.grad`` of the leaf tensors that
require it: a leaf's gradients are summed first, and once its last one has arrived the sum
passes through its hooks into ``.grad`` and its post-accumulate hooks run, once per backward
pass (PyTorch's AccumulateGrad node). Both passes use explicit stacks, so a graph thousands of
operations deep needs no recursion. Unless ``retain_graph`` is set, every node drops its saved
arrays once used.

Edges are the (node, output index) pairs each node recorded for its inputs at forward time
(``ctx._edges``), so an input changed in place later still routes this node's gradient to the
value it really used. Before a node's backward runs, the versions of the tensors it saved are
checked; the gradients it returns are checked too: one per input, of the input's shape (a wrong
shape raises, naming the op), converted to the input's dtype, always arrays (never NumPy
scalars).

Gradients reaching one node from several consumers are summed into the first sum the engine
made, in place (a kernel's own result may be shared: ``Add`` hands one array to both inputs,
so it is never written). ``x[index]`` returns a ``SliceGradient`` (zero outside the block it
read), which is added block-wise and written out in full only when a backward, a hook or a
leaf needs it (``slice_gradient.py``).
"""

from soma.autograd import anomaly as _anomaly
from soma.autograd import grad_mode
from soma.autograd import memory_format as _formats
from soma.autograd.function import check_versions
from soma.autograd.slice_gradient import SliceGradient, accumulate, densified
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, parallel

_xp = get_xp()
_ndarray = _xp.ndarray


def _count_consumers(root_ctx):
    """For each node and each leaf (by id) reachable from the root: how many graph edges lead
    into it."""
    consumers = {id(root_ctx): 0}
    stack = [root_ctx]
    while stack:
        ctx = stack.pop()
        for i, edge in enumerate(ctx._edges):
            if edge is None:
                continue
            parent_ctx = edge[0]
            if parent_ctx is None:  # a leaf: its contributions are summed before .grad
                key = id(ctx._parents[i])
                consumers[key] = consumers.get(key, 0) + 1
                continue
            key = id(parent_ctx)
            if key in consumers:
                consumers[key] += 1
            else:
                consumers[key] = 1
                stack.append(parent_ctx)
    return consumers


def _run_hooks(hooks, grad_array):
    """Call each hook with the gradient; a hook may return a replacement."""
    for hook in hooks:
        result = hook(Tensor._wrap(grad_array))
        if result is not None:
            grad_array = result.array if isinstance(result, Tensor) else _xp.asarray(result)
    return grad_array


# Hooks run after a leaf's .grad has been accumulated, by id of the leaf (which the entry keeps
# alive): {id(leaf): (leaf, [hook, ...])}. Empty unless someone registered one (e.g. DDP).
POST_ACCUMULATE_HOOKS = {}


def _accumulate_leaf(leaf, g, handed_out):
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g)
    if leaf.grad is None:
        # NOTE: a kernel may hand one array to several inputs (add does); copy before a second
        # leaf owns it, so that an in-place change to one .grad cannot reach another. A copy,
        # and a gradient in another memory order, take the leaf's layout (PyTorch's rule: the
        # .grad of a channels-last input is channels-last).
        shared = (
            id(g) in handed_out or g.base is not None or not getattr(g.flags, "writeable", True)
        )
        if shared or _formats.differ_in_layout(g, leaf.array):
            g = _in_layout_of(leaf.array, g)
        handed_out.add(id(g))
        leaf._grad = Tensor._wrap(g)
    elif _formats.differ_in_layout(g, leaf.grad.array):
        leaf.grad.array = _xp.add(leaf.grad.array, g, out=_formats.empty_like(leaf.grad.array))
    else:
        total = leaf.grad.array + g
        leaf.grad.array = total if total.__class__ is _ndarray else _xp.asarray(total)
    if POST_ACCUMULATE_HOOKS:
        entry = POST_ACCUMULATE_HOOKS.get(id(leaf))
        if entry is not None:
            for hook in list(entry[1]):
                hook(leaf)


def _sum_for_leaf(leaf, g, leaf_sums, consumers, owned, handed_out, capture=None):
    """Add ``g`` (None: nothing) to the leaf's running sum; at its last edge, accumulate the
    sum into ``.grad`` (or, for ``autograd.grad``, pass it through the leaf's hooks into
    ``capture``). As in PyTorch, a leaf's hooks, its post-accumulate hooks and its .grad see
    the summed gradient of one backward pass once, not each contribution (a hook that clips
    would otherwise clip the parts)."""
    key = id(leaf)
    if g is not None:
        slot = leaf_sums.get(key)
        if slot is None:
            leaf_sums[key] = [g]
        else:
            accumulate(slot, 0, g, owned)
    consumers[key] -= 1
    if consumers[key] == 0:
        slot = leaf_sums.pop(key, None)
        if slot is not None:
            total = slot[0]
            if total.__class__ is SliceGradient:
                total = total.dense()
            owned.discard(id(total))  # NOTE: its id may be reused once .grad has absorbed it
            if capture is None:
                _accumulate_leaf(leaf, total, handed_out)
            else:
                capture[key] = _run_hooks(leaf._hooks, total) if leaf._hooks else total


def _in_layout_of(like, g):
    """A copy of ``g`` (of like's shape) laid out as ``like`` (dense, in like's axis order)."""
    out = _formats.empty_like(like, dtype=g.dtype)
    out[...] = g
    return out


def _seed(root, gradient):
    xp = get_xp(root.array)
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but this tensor has "
                f"shape {tuple(root.shape)}; reduce it first (e.g. loss.sum() or .mean()) or pass "
                f"gradient= of that shape"
            )
        return xp.ones_like(root.array)
    seed = xp.asarray(gradient.array if isinstance(gradient, Tensor) else gradient)
    if seed.shape != root.array.shape:
        raise RuntimeError(
            f"backward(): gradient has shape {seed.shape} but the tensor has shape {root.array.shape}"
        )
    # NOTE: the caller's array itself when it has the dtype (the engine never writes into a
    # gradient it did not make, and backward() marks it handed out, so that a leaf reached
    # by it gets a copy): copying it cost 1.35 ms of a 5.8 ms BatchNorm step on 1.6 M values
    return seed.astype(root.array.dtype, copy=root._ctx is None)


def _checked(ctx, i, g, parent):
    """The gradient for input ``i``: an array of the input's shape and dtype, or an error."""
    if g.__class__ is not _ndarray:
        g = _xp.asarray(g)
    shape = parent.array.shape
    if g.shape != shape:
        raise RuntimeError(
            f"Function {ctx.name()} returned an invalid gradient at index {i} - got "
            f"{list(g.shape)} but expected shape compatible with {list(shape)}"
        )
    if g.dtype != parent.array.dtype and parent.array.dtype.kind in "fc":
        g = g.astype(parent.array.dtype)
    return g


def backward(root, gradient=None, retain_graph=False, inputs=None, into_grad=False):
    """Backpropagate from ``root`` (a Tensor) and accumulate into the leaves' ``.grad``.

    With ``inputs`` (a tuple of tensors), only those are reached, as torch 2.13 treats them:

    * ``into_grad=False`` (``autograd.grad``): nothing is accumulated; the gradients are
      returned as a list of arrays (None where a tensor was not reached), a leaf's after its
      hooks, an intermediate's before its hooks and its node's pre-hooks;
    * ``into_grad=True`` (``Tensor.backward(inputs=...)``): the leaves among them accumulate
      as in a full backward pass (hooks, ``.grad``, post-accumulate hooks) and get None in the
      list; an intermediate's gradient is returned after its hooks, for the caller's ``.grad``.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: this "
            "tensor has no graph; did you create it under no_grad(), call .detach(), or forget "
            "requires_grad=True?"
        )
    parallel.start_workers()
    seed = _seed(root, gradient)
    handed_out = set() if root._ctx is None else {id(seed)}  # a leaf given it copies it
    owned = set()  # ids of the gradient sums the engine made (see slice_gradient.accumulate)
    capture = None if inputs is None else {id(t): None for t in inputs}
    root_ctx = root._ctx
    if root_ctx is None:
        if capture is not None and not into_grad:
            return [seed if t is root else None for t in inputs]
        if capture is None or id(root) in capture:
            _accumulate_leaf(root, seed, handed_out)
        return None if capture is None else [None] * len(inputs)
    wanted = {}
    if capture is not None:
        for t in inputs:
            if t._ctx is not None:
                wanted.setdefault(id(t._ctx), []).append(t)

    anomaly = grad_mode.anomaly_mode
    consumers = _count_consumers(root_ctx)
    leaf_sums = {}  # id(leaf) → [sum of its gradients so far], until its last one arrives
    root_ctx._grads = [None] * root_ctx.n_outputs
    root_ctx._grads[root._output_index] = seed
    ready = [root_ctx]
    while ready:
        ctx = ready.pop()
        out_grads = ctx._grads
        ctx._grads = None
        if owned:  # NOTE: a sum handed to a kernel may be shared from now on
            for g in out_grads:
                owned.discard(id(g))
        out_grads = densified(out_grads)
        if ctx._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (at {ctx.name()}); its "
                f"saved arrays were freed. Pass retain_graph=True to the first backward()."
            )
        if wanted and not into_grad:  # NOTE: torch 2.13: before the tensor and node hooks
            for t in wanted.get(id(ctx), ()):
                capture[id(t)] = out_grads[t._output_index]
        if ctx._output_hooks:
            for index, hooks in ctx._output_hooks.items():
                if out_grads[index] is not None:
                    out_grads[index] = _run_hooks(hooks, out_grads[index])
        if wanted and into_grad:  # NOTE: for .grad, after the tensor's hooks
            for t in wanted.get(id(ctx), ()):
                capture[id(t)] = out_grads[t._output_index]
        if ctx._pre_hooks:
            out_grads = _run_node_prehooks(ctx, out_grads)
        if ctx._versions is not None:
            check_versions(ctx)
        # NOTE: a multi-output op receives None for outputs that got no gradient.
        if len(out_grads) == 1:  # NOTE: the common case, without a generator
            no_grads = out_grads[0] is None
        else:
            no_grads = all(g is None for g in out_grads)
        if no_grads:
            in_grads = (None,) * len(ctx._parents)
        else:
            in_grads = ctx._fn.backward(ctx, *out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if ctx._post_hooks or anomaly:
            in_grads = densified(in_grads)
        if ctx._post_hooks:
            in_grads = _run_node_posthooks(ctx, in_grads, out_grads)
        if anomaly:
            _anomaly.on_backward(ctx, in_grads)
        parents = ctx._parents
        edges = ctx._edges
        for i, g in enumerate(in_grads):  # NOTE: kernels return none for trailing constants
            edge = edges[i]
            if edge is None:
                continue
            parent_ctx = edge[0]
            if g is not None and g.__class__ is not SliceGradient:
                expected = parents[i].array
                if (
                    g.__class__ is not _ndarray
                    or g.shape != expected.shape
                    or g.dtype != expected.dtype
                ):
                    g = _checked(ctx, i, g, parents[i])
            if parent_ctx is None:
                parent = parents[i]
                if capture is None:
                    _sum_for_leaf(parent, g, leaf_sums, consumers, owned, handed_out)
                elif id(parent) in capture:
                    into = None if into_grad else capture  # None: into .grad
                    _sum_for_leaf(parent, g, leaf_sums, consumers, owned, handed_out, into)
                continue
            if g is not None:
                slot = parent_ctx._grads
                if slot is None:
                    slot = parent_ctx._grads = [None] * parent_ctx.n_outputs
                accumulate(slot, edge[1], g, owned)
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


def _wrap_all(grads):
    return tuple(None if g is None else Tensor._wrap(g) for g in grads)


def _unwrap_all(grads):
    return [None if g is None else (g.array if isinstance(g, Tensor) else g) for g in grads]


def _run_node_prehooks(ctx, out_grads):
    for hook in ctx._pre_hooks:
        result = hook(_wrap_all(out_grads))
        if result is not None:
            out_grads = _unwrap_all(result)
    return list(out_grads)


def _run_node_posthooks(ctx, in_grads, out_grads):
    for hook in ctx._post_hooks:
        result = hook(_wrap_all(in_grads), _wrap_all(out_grads))
        if result is not None:
            in_grads = tuple(_unwrap_all(result))
    return in_grads
