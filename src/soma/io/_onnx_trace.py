"""Recording a model's graph for export: run it, then walk soma's autograd graph.

The model runs once on the example inputs with gradients recorded (float inputs and every
parameter require grad, so every op lands in the graph). Walking back from the outputs gives
each node (a ``Context``): its ``Function`` class (``ctx._fn``), its positional arguments
(``ctx._parents``: tensors, arrays, numbers) and keyword options (``ctx._options``). Forward hooks
tag each node with the path of the innermost module that ran it, for error messages.

A second run on changed inputs (values rolled, floats also scaled and shifted; other sizes
along the dynamic axes) checks what the first cannot see: a constant computed from the input
outside the graph (a comparison, an argmax, ``.item()``) would be frozen into the file, so
constants must agree between the runs; and the sizes that change tell which dimensions of each
value are dynamic.
"""

from soma.autograd import grad_mode
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


class ExportError(RuntimeError):
    """The model cannot be exported as it is (unsupported op, data-dependent constant…)."""


class Node:
    """One recorded op: its Function, arguments, options, outputs and where it ran."""

    __slots__ = ("fn", "args", "options", "ctx", "where", "index", "alt", "varies", "problem")

    def __init__(self, ctx, index):
        self.ctx, self.index = ctx, index
        self.fn = ctx._fn
        self.args = ctx._parents
        self.options = ctx._options or {}
        self.where = "the model's forward"
        self.alt = None  # the same node in the second run
        self.varies = False  # its attributes differ in the second run
        self.problem = None  # why a constant of this node cannot be frozen into the file

    @property
    def name(self) -> str:
        return self.fn.__name__

    def describe(self) -> str:
        return f"{self.name} (in {self.where})"


class Trace:
    """Nodes in topological order, the input and output tensors, shapes of every value."""

    def __init__(self, inputs, outputs, nodes):
        self.inputs, self.outputs, self.nodes = inputs, outputs, nodes
        self.dynamic = {}  # input index -> {axis: dim name}
        self.shapes = {}  # value key -> (shape, dtype)
        for t in outputs:
            self._note(t)
        for node in nodes:
            for arg in node.args:
                if isinstance(arg, Tensor):
                    self._note(arg)

    def _note(self, t):
        self.shapes[key_of(t)] = (tuple(t.array.shape), t.array.dtype)


def key_of(value):
    """A value's identity: a node output is (node, index); anything else is the object."""
    if isinstance(value, Tensor) and value._ctx is not None:
        return (id(value._ctx), value._output_index)
    return id(value)


def _flatten_outputs(out, where="output"):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        flat = []
        for i, o in enumerate(out):
            flat += _flatten_outputs(o, f"{where}[{i}]")
        return flat
    raise ExportError(
        f"onnx export: the model returned a {type(out).__name__} at {where}; "
        "export needs a Tensor or a (nested) tuple/list of Tensors"
    )


def _toposort(outputs):
    """Every node reachable from the outputs, parents before children (deterministic)."""
    order, state = [], {}
    stack = [(t._ctx, False) for t in reversed(outputs) if t._ctx is not None]
    while stack:
        ctx, expanded = stack.pop()
        key = id(ctx)
        if expanded:
            if state.get(key) != "done":
                state[key] = "done"
                order.append(ctx)
            continue
        if key in state:
            continue
        state[key] = "open"
        stack.append((ctx, True))
        for arg in reversed(ctx._parents):
            if isinstance(arg, Tensor) and arg._ctx is not None and id(arg._ctx) not in state:
                stack.append((arg._ctx, False))
    return order


class _Tagger:
    """Forward hooks that remember, per node, the innermost module that produced it."""

    def __init__(self, model):
        self.tags, self.stack, self.handles = {}, [], []
        for path, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._pre(path, module)))
            self.handles.append(module.register_forward_hook(self._post()))

    def _pre(self, path, module):
        def hook(mod, args):
            self._claim(args, self.stack[-1] if self.stack else None)
            label = (
                f"'{path}' ({type(module).__name__})"
                if path
                else f"{type(module).__name__}.forward"
            )
            self.stack.append(label)

        return hook

    def _post(self):
        def hook(mod, args, out):
            self._claim(out, self.stack.pop())

        return hook

    def _claim(self, values, label):
        """Tag the untagged nodes behind ``values`` (walking back to tagged ones)."""
        if label is None:
            return
        stack = [v._ctx for v in _tensors_in(values) if v._ctx is not None]
        while stack:
            ctx = stack.pop()
            if id(ctx) in self.tags:
                continue
            self.tags[id(ctx)] = (ctx, label)
            stack += [a._ctx for a in ctx._parents if isinstance(a, Tensor) and a._ctx is not None]

    def remove(self):
        for h in self.handles:
            h.remove()


def _tensors_in(values):
    if isinstance(values, Tensor):
        return [values]
    if isinstance(values, (tuple, list)):
        return [t for v in values for t in _tensors_in(v)]
    if isinstance(values, dict):
        return [t for v in values.values() for t in _tensors_in(v)]
    return []


def run(model, inputs) -> Trace:
    """Run ``model`` on ``inputs`` (fresh Tensors) with every op recorded."""
    params = [p for p in model.parameters() if not p.requires_grad and p.dtype.kind == "f"]
    for p in params:
        p.requires_grad = True
    tagger = _Tagger(model)
    try:
        with grad_mode.enable_grad():
            out = model(*inputs)
    finally:
        tagger.remove()
        for p in params:
            p.requires_grad = False
    outputs = _flatten_outputs(out)
    nodes = [Node(ctx, i) for i, ctx in enumerate(_toposort(outputs))]
    for node in nodes:
        tag = tagger.tags.get(id(node.ctx))
        if tag is not None:
            node.where = tag[1]
    return Trace(list(inputs), outputs, nodes)


def example_inputs(args, dynamic: dict, changed: bool):
    """Fresh input tensors for a run; ``changed``: other values, other dynamic sizes."""
    fresh = []
    for i, a in enumerate(args):
        array = a.array if isinstance(a, Tensor) else _xp.asarray(a)
        if changed:
            for axis in dynamic.get(i, {}):
                n = array.shape[axis]
                size = 2 * n + 1  # other sizes survive the rounding of strided layers
                array = _xp.take(array, _xp.arange(size) % n, axis=axis)
            if array.size > 1:
                array = _xp.roll(array.reshape(-1), 1).reshape(array.shape)
            if array.dtype.kind == "f":  # moves every statistic; keeps order and sign ≥ 0
                array = array * array.dtype.type(0.75) + array.dtype.type(0.5)
        t = Tensor._wrap(_xp.array(array, copy=True))
        if array.dtype.kind == "f":
            t.requires_grad = True
        fresh.append(t)
    return fresh


# ---------------------------------------------------------------------- comparing two runs
def _arrays_differ(x, y):
    """None if equal, else "size" or "values" (x and y are arrays)."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return "size"
    if x.dtype.kind in "fc":
        return None if _xp.array_equal(x, y, equal_nan=True) else "values"
    return None if _xp.array_equal(x, y) else "values"


def _compare(x, y, known, found):
    """Walk two arguments side by side; record array differences, return False if other
    (attribute) values differ."""
    if isinstance(x, Tensor) and x._ctx is not None:
        return True
    if isinstance(x, (Tensor, _xp.ndarray)):
        xa = x.array if isinstance(x, Tensor) else x
        if id(x) in known or id(xa) in known:
            return True
        ya = y.array if isinstance(y, Tensor) else y
        if not isinstance(ya, _xp.ndarray):
            found.append(("size", xa.shape, None))
            return True
        diff = _arrays_differ(xa, ya)
        if diff:
            found.append((diff, xa.shape, ya.shape))
        return True
    if isinstance(x, (tuple, list)):
        if not isinstance(y, (tuple, list)) or len(x) != len(y):
            return False
        return all([_compare(a, b, known, found) for a, b in zip(x, y)])
    if isinstance(x, dict):
        if not isinstance(y, dict) or x.keys() != y.keys():
            return False
        return all([_compare(x[k], y[k], known, found) for k in x])
    if callable(x) or type(x).__module__.startswith("numpy.random"):
        return True
    if hasattr(x, "__dict__") and type(x) is type(y):
        return _compare(vars(x), vars(y), known, found)
    return x == y


def align(a: Trace, b: Trace, known: set) -> dict:
    """Match the runs node by node; return the second run's shape of each first-run value.

    Raises ``ExportError`` when the graphs differ. A constant that changed between the runs
    sets ``node.problem``; attributes that changed set ``node.varies``.
    """
    if len(a.nodes) != len(b.nodes) or len(a.outputs) != len(b.outputs):
        raise ExportError(
            "onnx export: the model builds a different graph for inputs of other "
            "values or sizes (Python control flow on tensor values or shapes); "
            "export with static shapes or remove the data-dependent branch"
        )
    alt = {}
    for na, nb in zip(a.nodes, b.nodes):
        if na.fn is not nb.fn or len(na.args) != len(nb.args):
            raise ExportError(
                f"onnx export: {na.describe()}: the model builds a different graph "
                f"for other inputs ({nb.describe()} in the second run)"
            )
        found = []
        same = _compare(list(na.args), list(nb.args), known, found)
        same = _compare(na.options, nb.options, known, found) and same
        na.problem = _constant_problem(na, found)
        na.alt, na.varies = nb, not same
        for i in range(na.ctx.n_outputs):
            info = b.shapes.get((id(nb.ctx), i))
            if info is not None:
                alt[(id(na.ctx), i)] = info[0]
    for ta, tb in zip(a.inputs + a.outputs, b.inputs + b.outputs):
        alt[key_of(ta)] = tuple(tb.array.shape)
        if ta._ctx is None:
            alt[id(ta.array)] = tuple(tb.array.shape)
    return alt


def _constant_problem(node, found):
    for kind, shape_a, shape_b in found:
        if kind == "values":
            return (
                f"onnx export: {node.describe()} uses a constant of shape {shape_a} whose "
                "values change with the input's values: it was computed from the input "
                "outside the recorded graph (a comparison, argmax, .item(), .detach(), "
                "no_grad, or an integer cast) and would be frozen into the file"
            )
        return (
            f"onnx export: {node.describe()} uses a constant of shape {shape_a} (then "
            f"{shape_b}) that follows the input's size: it was made outside the recorded "
            "graph (e.g. soma.arange(x.shape[1]), a mask or a comparison); export with "
            "static shapes for these axes, or build it from the input with soma ops"
        )
    return None
