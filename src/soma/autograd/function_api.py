"""PyTorch's custom ``torch.autograd.Function``: forward and backward written with Tensors.

    class Exp(soma.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    y = Exp.apply(x)

``forward`` runs with gradient recording off, on the Tensors given to ``apply``; ``backward``
receives one gradient Tensor per output and returns one per input (``None`` for inputs that
need none; non-tensor inputs must get ``None``). This is the API for users; soma's own ops use
the raw-array ``soma.autograd.function.Function`` (exported as ``soma.autograd.Kernel``), which
skips the Tensor wrapping (see docs/AUTOGRAD.md for when to use which).
"""

import functools

from soma.autograd import grad_mode
from soma.autograd.function import Context, mark_viewed
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


class FunctionCtx:
    """The ``ctx`` of a custom Function: what forward leaves for backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved = ()
        self._saved_versions = ()
        self._non_differentiable = ()
        self._dirty = ()
        self._node = None

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or None) for backward; read them via ``saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors (or None), got {type(t).__name__}; "
                    "store other values as attributes of ctx"
                )
        self._saved = tensors

    save_for_forward = save_for_backward

    @property
    def saved_tensors(self):
        """The saved tensors; raises if one was modified in place since it was saved."""
        if self._node is not None and self._node._released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Specify retain_graph=True."
            )
        for t, version in zip(self._saved, self._saved_versions):
            if t is not None and t._version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [torch.{t.dtype} {list(t.shape)}] is at version "
                    f"{t._version}; expected version {version} instead. It was saved for the "
                    f"backward of {self._node.name() if self._node else 'a custom Function'}."
                )
        return self._saved

    @property
    def saved_variables(self):
        return self.saved_tensors

    def mark_non_differentiable(self, *tensors):
        """These outputs carry no gradient (backward gets zeros for them)."""
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors):
        """These inputs were modified in place by forward (and are returned as outputs)."""
        self._dirty = tensors

    def set_materialize_grads(self, value: bool):
        """False: backward may receive None for outputs that got no gradient (default: zeros)."""
        self.materialize_grads = bool(value)


class _Node(Context):
    """The graph node of one custom Function call."""

    __slots__ = ()


def _make_kernel(cls):
    """The raw-array adapter the engine calls: arrays in, Tensors to the user's backward."""

    class _Bridge:
        __name__ = cls.__name__
        _backward_name = f"{cls.__name__}Backward"

        @staticmethod
        def backward(node, *grads):
            fctx = node.fctx
            shapes = node.out_meta
            tensors = []
            for g, (shape, dtype) in zip(grads, shapes):
                if g is None and fctx.materialize_grads:
                    g = _xp.zeros(shape, dtype=dtype)
                tensors.append(None if g is None else Tensor._wrap(g))
            with grad_mode.no_grad():
                out = cls.backward(fctx, *tensors)
            out = out if isinstance(out, tuple) else (out,)
            n = len(node._parents)
            if len(out) != n:
                if len(out) > n and all(g is None for g in out[n:]):
                    out = out[:n]
                else:
                    raise RuntimeError(
                        f"function {cls.__name__}Backward returned an incorrect number of "
                        f"gradients (expected {n}, got {len(out)})"
                    )
            arrays = []
            for i, (g, arg) in enumerate(zip(out, node._parents)):
                if g is not None and not isinstance(arg, Tensor):
                    raise RuntimeError(
                        f"function {cls.__name__}Backward returned a gradient different than "
                        f"None at position {i + 1}, but the corresponding forward input was not "
                        "a Variable"
                    )
                arrays.append(g.array if isinstance(g, Tensor) else g)
            return tuple(arrays)

    return _Bridge


class Function:
    """Base class of custom differentiable operations written with Tensors (PyTorch's API)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a custom Function must define forward(ctx, *args)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "a custom Function must define backward(ctx, *grads) to be differentiated"
        )

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("soma's autograd is reverse-mode only: jvp is not supported")

    @classmethod
    def apply(cls, *args, **kwargs):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = True in needs and grad_mode.is_grad_enabled()
        fctx = FunctionCtx(needs)
        separate = cls.setup_context is not Function.setup_context
        with grad_mode.no_grad():
            if separate:  # PyTorch 2's style: forward(*args) then setup_context(ctx, ...)
                out = cls.forward(*args, **kwargs)
                cls.setup_context(fctx, args, out)
            else:
                out = cls.forward(fctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        dirty = fctx._dirty
        for t in dirty:
            t._bump_version()
        if not record:
            return out
        kernel = cls.__dict__.get("_soma_kernel")
        if kernel is None:
            kernel = _make_kernel(cls)
            cls._soma_kernel = kernel
        node = _Node(kernel, args, needs)
        node._edges = tuple((a._ctx, a._output_index) if n else None for a, n in zip(args, needs))
        node.fctx = fctx
        node.n_outputs = len(outs)
        node.out_meta = [
            (o.array.shape, o.array.dtype) if isinstance(o, Tensor) else ((), _xp.float32)
            for o in outs
        ]
        fctx._node = node
        result = []
        non_diff = fctx._non_differentiable
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                result.append(o)
                continue
            if any(o is d for d in dirty):
                if o._ctx is None and o.requires_grad:
                    raise RuntimeError(
                        "a leaf Variable that requires grad has been used in an in-place "
                        f"operation ({cls.__name__}.forward marked it dirty)"
                    )
                t = o
            elif any(o is a for a in args):  # an input returned as is: a new tensor on it
                t = Tensor._wrap(o.array)
                mark_viewed(o)
                t._vc = o._vc
            else:
                t = o
            if any(o is n for n in non_diff) or o.array.dtype.kind not in "fc":
                if t is not o:
                    t.requires_grad = False
                result.append(t)
                continue
            t._ctx = node
            t._output_index = i
            t.requires_grad = True
            result.append(t)
        fctx._saved_versions = tuple(0 if t is None else t._version for t in fctx._saved)
        return result[0] if single else tuple(result)


def once_differentiable(fn):
    """Mark a backward as not differentiable itself (soma's backward never is: a no-op wrap)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)

    return wrapper


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        self.inplace = inplace


class NestedIOFunction(Function):
    pass
