"""``Function``: one differentiable operation, with its forward and backward on raw arrays.

A subclass writes ``forward(ctx, *arrays, **options)`` and, right under it,
``backward(ctx, *output_grads)``; ``apply`` wraps tensors in and out and records the operation
in the graph when any input needs a gradient. ``ctx`` is the graph node: it keeps what the
backward pass needs (``ctx.save(...)``, plain attributes) and the parent tensors.

Bookkeeping ``apply`` adds to each call (kept small: it runs for every op):

* the graph edges ``ctx._edges``: for each input that needs a gradient, the node that produced
  it and its output index *at record time*, so a later in-place change of that input (which
  gives the tensor a new ``grad_fn``) cannot re-route this node's gradient;
* version records ``ctx._versions`` for saved arrays that are an input's or an output's
  storage: (position in ``ctx.saved``, the storage's counter, its value now, ...). The engine
  compares them before calling ``backward`` (see ``check_versions``);
* outputs that are NumPy views of an input's memory share that input's version counter and
  remember it as ``_base`` (what ``Tensor._assign`` needs to write through views).

PyTorch's Tensor-level API (``@staticmethod forward(ctx, ...)`` working on Tensors, with
``ctx.save_for_backward``) is ``soma.autograd.function_api.Function``, exported as
``soma.autograd.Function``; this raw-array class is the kernel API (``soma.autograd.Kernel``).
"""

import weakref

from soma.autograd import anomaly, grad_mode
from soma.autograd.errors import as_pytorch_error
from soma.autograd.slice_gradient import densified
from soma.autograd.tensor import Tensor

_grad_state = grad_mode._state

_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


class Context:
    """A node of the autograd graph: one recorded call of a ``Function``."""

    # NOTE: engine state is underscored so kernels can store any plain name on ctx
    __slots__ = (
        "_fn",
        "_parents",
        "_edges",
        "_versions",
        "_options",
        "_released",
        "_output_hooks",
        "_pre_hooks",
        "_post_hooks",
        "_grads",
        "_anomaly",
        "needs_input_grad",
        "saved",
        "n_outputs",
        "non_differentiable",
        "__dict__",
        "__weakref__",
    )

    def __init__(self, fn, parents, needs_input_grad):
        self._fn = fn
        self._parents = parents
        self._edges = None
        self._versions = None
        self._options = None
        self.needs_input_grad = needs_input_grad
        self.saved = ()
        self._released = False
        self.n_outputs = 1
        self.non_differentiable = ()
        self._output_hooks = None
        self._pre_hooks = None
        self._post_hooks = None
        self._grads = None
        self._anomaly = None

    def save(self, *arrays):
        """Keep arrays for the backward pass (freed after it unless ``retain_graph``)."""
        self.saved = arrays

    def mark_non_differentiable(self, *output_indices):
        """Outputs at these positions (e.g. argmax indices) never carry a gradient."""
        self.non_differentiable = output_indices

    # ------------------------------------------------------------------ introspection
    def name(self) -> str:
        """PyTorch's node name (``MulBackward0``): the one a forward set for this call
        (``ctx.backward_name``, where PyTorch's depends on the arguments), else the Function's
        ``_backward_name``, else its class name + ``Backward0``."""
        return (
            self.__dict__.get("backward_name")
            or getattr(self._fn, "_backward_name", None)
            or f"{self._fn.__name__}Backward0"
        )

    @property
    def next_functions(self):
        """((node, output index), ...) per input, as PyTorch: ``(None, 0)`` where no gradient
        flows, an ``AccumulateGrad`` node for a leaf that requires grad."""
        if self._edges is None:
            return ()
        out = []
        for parent, edge in zip(self._parents, self._edges):
            if not isinstance(parent, Tensor):  # constants are not inputs of the node
                continue
            if edge is None:
                out.append((None, 0))
            elif edge[0] is None:
                out.append((AccumulateGrad(parent), 0))
            else:
                out.append(edge)
        return tuple(out)

    @property
    def metadata(self) -> dict:
        return self.__dict__.setdefault("_metadata", {})

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward; may return new
        grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _Handle(self._post_hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(hook)
        return _Handle(self._pre_hooks, hook)

    def __repr__(self):
        return f"<{self.name()}>"

    def __call__(self, *grads):
        """Run this node's backward on arrays or Tensors (introspection / tests)."""
        arrays = [g.array if isinstance(g, Tensor) else g for g in grads]
        out = self._fn.backward(self, *arrays)
        out = densified(out if isinstance(out, tuple) else (out,))
        return tuple(None if g is None else Tensor._wrap(g) for g in out)


class AccumulateGrad:
    """The node PyTorch shows for a leaf in ``next_functions``; ``.variable`` is the leaf."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    __hash__ = object.__hash__

    def __repr__(self):
        return "<AccumulateGrad>"


class _Handle:
    """Returned by ``register_hook``/``register_prehook``; ``remove()`` unregisters."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Function:
    """Base class of every differentiable op (see module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays behind ``args`` and record the call for backward.

        Tensor arguments become their arrays; anything else (Python numbers, tuples, ``None``)
        is passed through and treated as a constant. Keyword arguments are options, never
        differentiated.
        """
        # NOTE: one loop over the arguments (this runs for every op; see the module)
        arrays = []
        needs = []
        wanted = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                r = a.requires_grad
                needs.append(r)
                if r:
                    wanted = True
            else:
                arrays.append(a)
                needs.append(False)
        needs = tuple(needs)
        record = wanted and _grad_state.enabled  # is_grad_enabled()
        ctx = Context(cls, args if record else None, needs)
        if record:
            ctx._options = kwargs  # read by graph walkers (ONNX export), never by backward
            ctx._edges = tuple(
                [(a._ctx, a._output_index) if n else None for a, n in zip(args, needs)]
            )
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except (ValueError, TypeError) as error:  # PyTorch code catches RuntimeError
            converted = as_pytorch_error(error)
            if converted is error:
                raise
            raise converted from None
        if not isinstance(out, tuple):
            t = Tensor._from_op(out, ctx if record else None, 0)
            if t.array.base is not None:
                _link_view(t, args)
            outs = (t,)
        else:
            ctx.n_outputs = len(out)
            outs = tuple(
                Tensor._from_op(o, ctx if record and i not in ctx.non_differentiable else None, i)
                for i, o in enumerate(out)
            )
            for t in outs:
                if t.array.base is not None:
                    _link_view(t, args)
        if record:
            if ctx.saved:
                _record_versions(ctx, args, outs)
            if grad_mode.anomaly_mode:
                anomaly.on_forward(ctx, outs)
        return outs[0] if not isinstance(out, tuple) else outs


# ---------------------------------------------------------------------------- views
def _root(array):
    base = array.base
    return array if base is None else base


def _link_view(t, args):
    """``t``'s array is a view: if it views an input's memory, share that input's counter."""
    root = t.array.base
    for a in args:
        if isinstance(a, Tensor) and _root(a.array) is root:
            base = getattr(a, "_base", None)
            if base is None:
                base = a
            t._base = base
            mark_viewed(base, t if t._ctx is not None else None)
            t._vc = getattr(base, "_vc", None)
            return


def mark_viewed(base, view=None):
    """Note that ``base``'s memory is seen by other tensors (in-place ops must then write it)."""
    vc = getattr(base, "_vc", None)
    if vc is None:
        vc = base._vc = [0, None]
    if vc[1] is None:
        vc[1] = []
    if view is not None:  # a view in the graph: its grad_fn is redone when the base changes
        views = vc[1]
        views.append(weakref.ref(view))
        if len(views) >= 64 and len(views) & (len(views) - 1) == 0:
            views[:] = [r for r in views if r() is not None]


# ---------------------------------------------------------------------------- versions
_MISSING = object()


def _record_versions(ctx, args, outs):
    """Version records for saved arrays that are (or view) an input's or output's storage."""
    records = []
    for pos, s in enumerate(ctx.saved):
        if s is None:
            continue
        base = getattr(s, "base", _MISSING)
        if base is _MISSING:  # not an array
            continue
        for a in args:
            if isinstance(a, Tensor) and (
                a.array is s or (base is not None and _root(a.array) is base)
            ):
                vc = getattr(a, "_vc", None)
                if vc is None:
                    vc = a._vc = [0, None]
                records.append((pos, vc, vc[0], a, -1))
                break
        else:
            for i, o in enumerate(outs):
                if o.array is s:
                    vc = getattr(o, "_vc", None)
                    if vc is None:
                        vc = o._vc = [0, None]
                    records.append((pos, vc, vc[0], None, i))
                    break
    if records:
        ctx._versions = records


def check_versions(ctx):
    """Raise PyTorch's error if a tensor this node saved was modified in place since."""
    for pos, vc, version, tensor, out_index in ctx._versions:
        if vc[0] != version:
            s = ctx.saved[pos]
            kind = _TYPE_NAMES.get(str(s.dtype), "Tensor")
            what = f"[torch.{kind} [{', '.join(str(n) for n in s.shape)}]]"
            if tensor is None:
                what += f", which is output {out_index} of {ctx.name()},"
            elif tensor._ctx is not None:
                what += f", which is output {tensor._output_index} of {tensor._ctx.name()},"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {what} is at version {vc[0]}; expected version {version} "
                f"instead. It was saved for the backward of {ctx.name()}. Hint: enable anomaly "
                "detection to find the operation that failed to compute its gradient, with "
                "torch.autograd.set_detect_anomaly(True)."
            )


def named(result, name: str):
    """Give ``result``'s graph node PyTorch's name for this call (``grad_fn=<AddmmBackward0>``
    when a tensor prints), where PyTorch's name depends on the entry point or the arguments
    rather than on soma's Function. A tensor without a node is returned as it is."""
    node = getattr(result, "_ctx", None)
    if node is not None:
        node.backward_name = name
    return result
