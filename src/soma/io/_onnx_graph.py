"""Building the ONNX graph: names, initializers, constants, nodes and dynamic dimensions.

Converters (``_onnx_ops_*.py``) see a ``Graph`` and one recorded node at a time. ``g.value(arg)``
gives the ONNX name of any argument (a node's output, a graph input, a parameter or buffer as
an initializer named by its state-dict name, or a constant), ``g.op(...)`` appends a node, and
``g.dims(arg)`` gives a value's sizes, with ``Sym`` for the dimensions that change with the
dynamic axes (``g.shape_tensor`` turns such sizes into a runtime shape).
"""

import itertools
import math

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.io._onnx_trace import ExportError, key_of

_xp = get_xp()


class Sym:
    """A dimension whose size differs between the two runs (``a`` in the first, ``b`` in the
    second): it follows a dynamic axis."""

    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self):
        return f"Sym({self.a}, {self.b})"


class Graph:
    """The ONNX graph under construction (see module docstring)."""

    def __init__(self, onnx, opset, trace, alt_shapes, params, inputs):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.trace, self.alt_shapes = trace, alt_shapes
        self.nodes, self.initializers = [], []
        self.names, self.reserved, self.taken = {}, {}, set()
        self.params = params  # id(tensor) or id(array) -> state-dict name
        self.inputs = inputs  # id(tensor) or id(array) -> input name
        self.dyn_axes = {}  # (size, size in the second run) -> (input, axis, dim name)
        self.consts, self.cache = {}, {}
        self.node = None  # the node being converted
        self._count = itertools.count()

    # ---------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        name = f"{hint}_{next(self._count)}"
        self.taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        if name in self.taken:
            raise ExportError(f"onnx export: the name '{name}' is used twice")
        self.taken.add(name)

    def output_name(self, index: int) -> str:
        """The name for output ``index`` of the current node (a graph output keeps its name)."""
        key = (id(self.node.ctx), index)
        reserved = self.reserved.pop(key, None)
        return reserved if reserved is not None else self.fresh(self.node.name)

    # ---------------------------------------------------------------- nodes
    def op(self, op_type: str, inputs, n_out: int = 1, outputs=None, **attrs):
        """Append a node; returns its output name (or list of names when ``n_out > 1``)."""
        if outputs is None:
            outputs = [self.fresh(op_type) for _ in range(n_out)]
        names = ["" if i is None else i for i in inputs]
        label = f"{self.node.name}_{self.node.index}/{op_type}" if self.node else op_type
        self.nodes.append(
            self.helper.make_node(
                op_type, names, list(outputs), name=f"{label}_{len(self.nodes)}", **attrs
            )
        )
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def const(self, value, dtype=None, hint: str = "const") -> str:
        """A constant initializer (deduplicated)."""
        array = _xp.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.consts:
            name = self.fresh(hint)
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
            self.consts[key] = name
        return self.consts[key]

    def ints(self, values) -> str:
        return self.const(_xp.asarray(values, dtype=_xp.int64), hint="ints")

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, outputs=None) -> str:
        """A Reduce* node over ``axes`` (an input from opset 18, ReduceSum from 13)."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(
                op_type, [x, self.ints(list(axes))], keepdims=int(keepdims), outputs=outputs
            )
        return self.op(op_type, [x], axes=list(axes), keepdims=int(keepdims), outputs=outputs)

    # ---------------------------------------------------------------- values
    def value(self, arg, dtype=None) -> str:
        """The ONNX name of a node argument (Tensor, array or number)."""
        if isinstance(arg, Tensor) and arg._ctx is not None:
            name = self.names.get(key_of(arg))
            if name is None:
                raise ExportError(
                    f"onnx export: {self.node.describe()} uses output "
                    f"{arg._output_index} of {arg._ctx.name()}, which its "
                    "converter does not produce"
                )
            return name
        array = arg.array if isinstance(arg, Tensor) else arg
        for key in (id(arg), id(array)):
            if key in self.inputs:
                return self.inputs[key]
            if key in self.params:
                return self._param(self.params[key], array)
        if isinstance(array, _xp.ndarray):
            return self.const(array if dtype is None else array.astype(dtype), hint="const")
        if dtype is None:
            raise ExportError(
                f"onnx export: {self.node.describe()}: no dtype for the constant {arg!r}"
            )
        return self.const(array, dtype=dtype, hint="scalar")

    def _param(self, name: str, array) -> str:
        if name not in self.cache:
            self.initializers.append(
                self.onnx.numpy_helper.from_array(_xp.ascontiguousarray(array), name)
            )
            self.cache[name] = name
            self.taken.add(name)
        return name

    def shape(self, arg) -> tuple:
        return tuple(arg.shape) if not isinstance(arg, Tensor) else tuple(arg.array.shape)

    def dtype(self, arg):
        return arg.array.dtype if isinstance(arg, Tensor) else _xp.asarray(arg).dtype

    def out_info(self, index: int = 0):
        """(shape, dtype) of output ``index`` of the current node, or None if unused."""
        return self.trace.shapes.get((id(self.node.ctx), index))

    def dims(self, arg=None, index: int = 0) -> list:
        """Sizes of ``arg`` (or of the current node's output ``index``): ints, or ``Sym``."""
        if arg is None:
            key, shape = (id(self.node.ctx), index), self.out_info(index)[0]
        else:
            key, shape = key_of(arg), self.shape(arg)
        other = self.alt_shapes.get(key, shape)
        return [a if a == b else Sym(a, b) for a, b in zip(shape, other)]

    def static(self, arg, what: str) -> tuple:
        """The sizes of ``arg``, refusing dynamic ones (for attributes fixed in the file)."""
        dims = self.dims(arg)
        if any(isinstance(d, Sym) for d in dims):
            raise ExportError(
                f"onnx export: {self.node.describe()}: {what} depends on the size "
                "of a dynamic axis; export this model with static shapes"
            )
        return tuple(dims)

    # ---------------------------------------------------------------- runtime shapes
    def dim_tensor(self, dim) -> str:
        """A 1-element int64 tensor holding ``dim`` at run time."""
        if not isinstance(dim, Sym):
            return self.ints([dim])
        for (a, b), (name, axis, _) in self.dyn_axes.items():
            if dim.a % a == 0 and dim.b % b == 0 and dim.a // a == dim.b // b:
                key = ("dim", name, axis, dim.a // a)
                if key not in self.cache:
                    shape = self.op("Shape", [name], start=axis, end=axis + 1)
                    factor = dim.a // a
                    self.cache[key] = (
                        shape if factor == 1 else self.op("Mul", [shape, self.ints([factor])])
                    )
                return self.cache[key]
        raise ExportError(
            f"onnx export: {self.node.describe()}: a size ({dim.a}, then {dim.b}) "
            "follows the dynamic axes in a way export cannot express"
        )

    def shape_tensor(self, dims) -> str:
        """An int64 shape tensor for ``dims`` (ints and ``Sym``), computed at run time if
        needed."""
        if not any(isinstance(d, Sym) for d in dims):
            return self.ints(list(dims))
        parts, run = [], []
        for d in dims:
            if isinstance(d, Sym):
                if run:
                    parts.append(self.ints(run))
                    run = []
                parts.append(self.dim_tensor(d))
            else:
                run.append(d)
        if run:
            parts.append(self.ints(run))
        return self.op("Concat", parts, axis=0)

    def agreed(self, build):
        """``build(node)`` for the current node, checked to be the same in the second run
        (for attributes of converters that accept changing sizes)."""
        value = build(self.node)
        if self.node.varies and build(self.node.alt) != value:
            raise ExportError(
                f"onnx export: {self.node.describe()}: its ONNX attributes "
                "would change with the dynamic axes; export with static shapes"
            )
        return value

    def size(self, dims) -> int:
        if any(isinstance(d, Sym) for d in dims):
            raise ExportError(
                f"onnx export: {self.node.describe()}: an element count depends on "
                "a dynamic axis; export this model with static shapes"
            )
        return math.prod(dims)


def registry():
    """A converter table and the decorator that fills it: ``@converts(Relu, dynamic=False)``.

    ``dynamic``: the converter reads sizes through ``g.dims`` and copes with options that
    change with the dynamic axes (reshape targets, row counts); other converters refuse them.
    """
    table = {}

    def converts(*fns, dynamic: bool = False):
        def register(f):
            for fn in fns:
                table[fn] = (f, dynamic)
            return f

        return register

    return table, converts


def onnx_type(g, dtype) -> int:
    return g.helper.np_dtype_to_tensor_dtype(_xp.dtype(dtype))


def operand(g, arg, dtype) -> str:
    """``arg`` as an ONNX value of ``dtype`` (numbers become constants, tensors are cast)."""
    if isinstance(arg, (Tensor, _xp.ndarray)) and g.dtype(arg) != dtype:
        return g.op("Cast", [g.value(arg)], to=onnx_type(g, dtype))
    return g.value(arg, dtype=dtype)
