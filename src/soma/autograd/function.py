"""``Function``: one differentiable operation, with its forward and backward on raw arrays.

A subclass writes ``forward(ctx, *arrays, **options)`` and, right under it,
``backward(ctx, *output_grads)``; ``apply`` wraps tensors in and out and records the operation
in the graph when any input needs a gradient. ``ctx`` is the graph node: it keeps what the
backward pass needs (``ctx.save(...)``, plain attributes) and the parent tensors.
"""

from soma.autograd import grad_mode
from soma.autograd.errors import as_pytorch_error
from soma.autograd.tensor import Tensor


class Context:
    """A node of the autograd graph: one recorded call of a ``Function``."""

    # NOTE: engine state is underscored so kernels can store any plain name on ctx
    __slots__ = (
        "_fn",
        "_parents",
        "_options",
        "_released",
        "_output_hooks",
        "_grads",
        "needs_input_grad",
        "saved",
        "n_outputs",
        "non_differentiable",
        "__dict__",
    )

    def __init__(self, fn, parents, needs_input_grad):
        self._fn = fn
        self._parents = parents
        self._options = None
        self.needs_input_grad = needs_input_grad
        self.saved = ()
        self._released = False
        self.n_outputs = 1
        self.non_differentiable = ()
        self._output_hooks = None
        self._grads = None

    def save(self, *arrays):
        """Keep arrays for the backward pass (freed after it unless ``retain_graph``)."""
        self.saved = arrays

    def mark_non_differentiable(self, *output_indices):
        """Outputs at these positions (e.g. argmax indices) never carry a gradient."""
        self.non_differentiable = output_indices

    def name(self) -> str:
        return f"{self._fn.__name__}Backward"

    def __repr__(self):
        return f"<{self.name()}>"


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
        arrays = [a.array if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = True in needs and grad_mode.is_grad_enabled()
        ctx = Context(cls, args if record else None, needs)
        if record:
            ctx._options = kwargs  # read by graph walkers (ONNX export), never by backward
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except (ValueError, TypeError) as error:  # PyTorch code catches RuntimeError
            converted = as_pytorch_error(error)
            if converted is error:
                raise
            raise converted from None
        if not isinstance(out, tuple):
            return Tensor._from_op(out, ctx if record else None, 0)
        ctx.n_outputs = len(out)
        return tuple(
            Tensor._from_op(o, ctx if record and i not in ctx.non_differentiable else None, i)
            for i, o in enumerate(out)
        )
