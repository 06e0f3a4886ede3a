"""``soma.summary(model, input_size)``: a layer-by-layer table like torchinfo's.

For each layer call in forward order: its path and type, input and output shapes, parameters
(trainable and not) and multiply-accumulate operations (mult-adds), then totals and the memory
taken by parameters and activations. The model runs once, under ``no_grad``, on zeros.

Mult-adds count the multiplications of the layers that do them: a convolution producing an
output of ``n`` elements from ``c_in/groups`` channels with a ``k``-element kernel does
``n · c_in/groups · k``; a linear layer ``n · in_features``; a normalisation with an affine
scale one per output element; recurrent and attention layers their matrix products. Bias
additions, activations and pooling count zero, as in the lectures' operation counts.
A module can override its count by defining ``mult_adds(self, inputs, output) -> int``.
"""

from dataclasses import dataclass, field
from math import prod

from soma.autograd.factory import zeros
from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.inspection import mult_adds as rules


@dataclass
class LayerCall:
    """One call of one module during the summary's forward pass."""

    name: str
    kind: str
    depth: int
    module: object
    input_shape: tuple = ()
    output_shape: tuple = ()
    own_mult_adds: int = 0
    total_mult_adds: int = 0  # this call and every call nested inside it
    children: list = field(default_factory=list)


def _shape_of(value):
    if isinstance(value, Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Tensor):
        return tuple(value[0].shape)
    return ()


def _first_tensor(value):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((v for v in value if isinstance(v, Tensor)), None)
    return None


def _count(params):
    return sum(p.numel() for p in params)


class ModelSummary:
    """The result of ``summary``: rows, totals, and a printable table (``str(summary)``)."""

    def __init__(self, model, calls, input_shapes, depth):
        self.model = model
        self.calls = calls
        self.input_shapes = input_shapes
        self.depth = depth
        params = list(model.parameters())
        self.total_params = _count(params)
        self.trainable_params = _count(p for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.buffer_elements = _count(model.buffers())
        self.total_mult_adds = sum(c.own_mult_adds for c in calls)
        itemsize = params[0].array.itemsize if params else 4
        self.params_bytes = sum(p.numel() * p.array.itemsize for p in params)
        self.activation_bytes = sum(
            prod(c.output_shape) * itemsize for c in calls if not c.children and c.output_shape
        )
        self.input_bytes = sum(prod(s) * itemsize for s in input_shapes)

    @property
    def layers(self):
        """The calls shown in the table (those no deeper than ``depth``)."""
        return [c for c in self.calls if c.depth <= self.depth]

    def _params_cell(self, call):
        module = call.module
        if call.depth == self.depth or not call.children:
            n = _count(module.parameters())  # everything below is folded into this row
        else:
            n = _count(module.parameters(recurse=False))
        return f"{n:,}" if n else "--"

    def _mult_adds_cell(self, call):
        n = (
            call.total_mult_adds
            if (call.depth == self.depth or not call.children)
            else call.own_mult_adds
        )
        return f"{n:,}" if n else "--"

    def rows(self):
        """Table rows as tuples of strings: name (type), input, output, params, mult-adds."""
        out = []
        for call in self.layers:
            indent = "" if call.depth == 0 else "  " * (call.depth - 1) + "└─"
            label = f"{indent}{call.name} ({call.kind})" if call.depth else call.kind
            out.append(
                (
                    label,
                    _fmt_shape(call.input_shape),
                    _fmt_shape(call.output_shape),
                    self._params_cell(call),
                    self._mult_adds_cell(call),
                )
            )
        return out

    def __str__(self):
        header = ("Layer (type)", "Input shape", "Output shape", "Param #", "Mult-adds")
        rows = self.rows()
        widths = [max(len(r[i]) for r in rows + [header]) + 2 for i in range(5)]
        line = "=" * sum(widths)

        def fmt(r):
            return (
                r[0].ljust(widths[0])
                + r[1].ljust(widths[1])
                + r[2].ljust(widths[2])
                + r[3].rjust(widths[3])
                + r[4].rjust(widths[4])
            )

        mb = 1024 * 1024
        lines = [line, fmt(header), line] + [fmt(r) for r in rows] + [line]
        lines += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Buffers (e.g. running statistics): {self.buffer_elements:,} values",
            f"Total mult-adds: {self.total_mult_adds:,} ({_si(self.total_mult_adds)})",
            line,
            f"Input size (MB): {self.input_bytes / mb:.2f}",
            f"Forward activations (MB): {self.activation_bytes / mb:.2f}",
            f"Params size (MB): {self.params_bytes / mb:.2f}",
            f"Estimated total size (MB): "
            f"{(self.input_bytes + self.activation_bytes + self.params_bytes) / mb:.2f}",
            line,
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _fmt_shape(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]" if shape else "--"


def _si(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def summary(model, input_size=None, input_data=None, depth=3, dtype=None, batch_dim=None):
    """Run ``model`` once and tabulate every layer: shapes, parameters and mult-adds.

    Args:
        model: a ``soma.nn.Module``.
        input_size: the input's shape including the batch dimension, e.g. ``(1, 3, 32, 32)``,
            or a list of shapes for several inputs.
        input_data: tensors to run instead of zeros of ``input_size``.
        depth: how many levels of nested modules get their own row.
        dtype: dtype of the generated inputs (default: the model's parameter dtype).
        batch_dim: if given, ``input_size`` excludes the batch and a batch of 1 is inserted here.

    Returns:
        ``ModelSummary``; print it for the table.

    Example:
        >>> import soma
        >>> s = summary(soma.nn.Linear(192, 16, bias=False), (1, 28, 28, 192))
        >>> s.total_params, s.total_mult_adds
        (3072, 2408448)
    """
    inputs = _make_inputs(model, input_size, input_data, dtype, batch_dim)
    names = {id(m): name for name, m in model.named_modules()}
    calls, stack, handles = [], [], []

    def name_in_caller(module):
        # a module shared by two parents is named after the parent that is calling it now
        if stack:
            parent = stack[-1]
            for attr, child in parent.module._modules.items():
                if child is module:
                    return f"{parent.name}.{attr}" if parent.name else attr
        return names.get(id(module), "?")

    def pre_hook(module, args):
        call = LayerCall(
            name_in_caller(module),
            type(module).__name__,
            len(stack),
            module,
            input_shape=_shape_of(args),
        )
        if stack:
            stack[-1].children.append(call)
        calls.append(call)
        stack.append(call)

    def post_hook(module, args, output):
        call = stack.pop()
        call.output_shape = _shape_of(output)
        call.own_mult_adds = rules.mult_adds(module, args, _first_tensor(output))
        call.total_mult_adds += call.own_mult_adds
        if stack:
            stack[-1].total_mult_adds += call.total_mult_adds

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return ModelSummary(model, calls, [tuple(t.shape) for t in inputs], depth)


def _make_inputs(model, input_size, input_data, dtype, batch_dim):
    if input_data is not None:
        return list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
    if input_size is None:
        raise ValueError("summary: pass input_size=(batch, ...) or input_data=")
    sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
    if batch_dim is not None:
        sizes = [tuple(s[:batch_dim]) + (1,) + tuple(s[batch_dim:]) for s in sizes]
    if dtype is None:
        first = next(model.parameters(), None)
        dtype = first.dtype if first is not None else None
    return [zeros(*s, dtype=dtype) for s in sizes]
