"""``export``: a soma model as an ONNX file, read from soma's own autograd graph.

The model runs on the example input with every op recorded (``_onnx_trace``); each recorded
node is turned into ONNX nodes by a small converter for its ``Function`` class
(``_onnx_ops_math``, ``_onnx_ops_shape``, ``_onnx_ops_nn``). Parameters and buffers become
initializers named by their state-dict names, the example inputs become graph inputs, and any
other array is a constant. A second run with changed inputs guards against constants computed
from the input outside the graph and tells which sizes follow the dynamic axes.

The ``onnx`` package is imported only here, when exporting (``pip install soma[onnx]``).
"""

import os

from soma._version import __version__
from soma.backend import get_xp
from soma.io import _onnx_ops_math, _onnx_ops_nn, _onnx_ops_shape
from soma.io import _onnx_trace as tracing
from soma.io._onnx_graph import Graph, Sym, onnx_type
from soma.io._onnx_trace import ExportError, key_of
from soma.io.serialization import write_atomic

_xp = get_xp()

CONVERTERS = {**_onnx_ops_math.CONVERTERS, **_onnx_ops_shape.CONVERTERS, **_onnx_ops_nn.CONVERTERS}
OPSETS = range(17, 22)


def _onnx():
    try:
        import onnx  # optional dependency (soma[onnx])
    except ImportError:
        raise ImportError("ONNX export needs the 'onnx' package: pip install soma[onnx]") from None
    return onnx


def supported_ops() -> list:
    """The names of the soma ops (``Function`` classes) that export to ONNX."""
    return sorted(fn.__name__ for fn in CONVERTERS if fn not in _onnx_ops_nn.REFUSED)


def export(
    model, args, f, input_names=None, output_names=None, dynamic_axes=None, opset_version: int = 17
) -> None:
    """Export ``model`` to an ONNX file, as ``torch.onnx.export`` does.

    The model is run (in evaluation mode; its modes are restored afterwards) on ``args``, and
    every recorded op is converted. Unsupported ops raise ``ExportError`` naming the op and the
    module it ran in.

    Args:
        model: a ``soma.nn.Module`` (or any callable on Tensors built from soma ops).
        args: the example input: a Tensor, or a tuple of Tensors for several inputs.
        f: the file path (written atomically: temporary file, then rename) or a binary file.
        input_names, output_names: names of the graph's inputs and outputs (default
            ``input``/``output``, numbered when there are several).
        dynamic_axes: ``{name: {axis: "dim_name"}}`` or ``{name: [axis, ...]}`` for inputs and
            outputs whose sizes may change (e.g. ``{"input": {0: "batch"}}``).
        opset_version: the ONNX opset, 17 to 21.

    Example:
        >>> import io, onnx, soma
        >>> model = soma.nn.Sequential(soma.nn.Linear(3, 2), soma.nn.ReLU())
        >>> buf = io.BytesIO()
        >>> soma.onnx.export(model, soma.randn(1, 3), buf, dynamic_axes={"input": {0: "batch"}})
        >>> [node.op_type for node in onnx.load_from_string(buf.getvalue()).graph.node]
        ['Gemm', 'Relu']
    """
    onnx = _onnx()
    if opset_version not in OPSETS:
        raise ValueError(
            f"onnx export: opset_version must be {OPSETS[0]} to {OPSETS[-1]}, got {opset_version}"
        )
    args = args if isinstance(args, tuple) else (args,)
    input_names = _names(input_names, len(args), "input")
    dynamic = _dynamic(dynamic_axes, input_names, args)
    trace_a, trace_b = _run_twice(model, args, dynamic)
    output_names = _names(output_names, len(trace_a.outputs), "output")
    _check_dynamic_names(dynamic_axes, input_names, output_names)
    proto = _build(
        onnx, model, trace_a, trace_b, input_names, output_names, dynamic_axes or {}, opset_version
    )
    onnx.checker.check_model(proto)
    blob = proto.SerializeToString(deterministic=True)
    if hasattr(f, "write"):
        f.write(blob)
    else:
        write_atomic(os.fspath(f), blob)


def _names(names, count, stem):
    if names is None:
        return [stem] if count == 1 else [f"{stem}{i}" for i in range(count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"onnx export: {count} distinct {stem} names needed, got {names}")
    return names


def _dynamic(dynamic_axes, input_names, args) -> dict:
    """Input index -> {axis: dim name} from ``dynamic_axes``."""
    out = {}
    for i, name in enumerate(input_names):
        axes = (dynamic_axes or {}).get(name)
        if axes is None:
            continue
        ndim = len(args[i].shape)
        if not isinstance(axes, dict):
            axes = {a: f"{name}_dim{a % ndim}" for a in axes}
        bad = [a for a in axes if not -ndim <= a < ndim]
        if bad:
            raise ValueError(
                f"onnx export: dynamic axes {bad} of '{name}' are out of range for "
                f"an input of {ndim} dimensions"
            )
        out[i] = {a % ndim: str(d) for a, d in axes.items()}
    return out


def _check_dynamic_names(dynamic_axes, input_names, output_names):
    unknown = [k for k in (dynamic_axes or {}) if k not in input_names + output_names]
    if unknown:
        raise ValueError(
            f"onnx export: dynamic_axes names {unknown} are neither inputs "
            f"{input_names} nor outputs {output_names}"
        )


def _run_twice(model, args, dynamic):
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [m.training for m in modules]
    if modules:
        model.eval()
    try:
        first = tracing.run(model, tracing.example_inputs(args, dynamic, changed=False))
        changed = tracing.example_inputs(args, dynamic, changed=True)
        try:
            second = tracing.run(model, changed)
        except Exception as error:
            sizes = [tuple(t.shape) for t in changed]
            raise ExportError(
                f"onnx export: checking the export runs the model a second time, on other "
                f"values (and inputs of shapes {sizes} for the dynamic axes), and that run "
                f"failed: {type(error).__name__}: {error}"
            ) from error
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode
    first.dynamic = dynamic
    return first, second


# ---------------------------------------------------------------------- building the graph
def _build(onnx, model, trace, other, input_names, output_names, dynamic_axes, opset):
    params = _parameter_names(model)
    inputs = {}
    for t, name in zip(trace.inputs, input_names):
        inputs[id(t)] = inputs[id(t.array)] = name
    known = (
        set(params)
        | set(inputs)
        | {id(t) for t in other.inputs}
        | {id(t.array) for t in other.inputs}
    )
    alt = tracing.align(trace, other, known)
    g = Graph(onnx, opset, trace, alt, params, inputs)
    for i, axes in trace.dynamic.items():
        t = trace.inputs[i]
        for axis, dim_name in axes.items():
            g.dyn_axes.setdefault(
                (t.shape[axis], alt[id(t)][axis]), (input_names[i], axis, dim_name)
            )
    for name in input_names + output_names:
        g.reserve(name)
    late = _reserve_outputs(g, trace, output_names)
    for node in trace.nodes:
        _convert(g, node)
    g.node = None
    for out, name in late:
        g.op("Identity", [g.value(out)], outputs=[name])
    graph = onnx.helper.make_graph(
        g.nodes,
        "soma_" + type(model).__name__,
        [
            _value_info(g, t, name, trace.dynamic.get(i, {}))
            for i, (t, name) in enumerate(zip(trace.inputs, input_names))
        ],
        [
            _output_info(g, t, name, dynamic_axes.get(name))
            for t, name in zip(trace.outputs, output_names)
        ],
        g.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    return onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="soma",
        producer_version=__version__,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )


def _parameter_names(model) -> dict:
    """id of each parameter/buffer Tensor and of its array -> its (first) state-dict name."""
    names = {}
    if not hasattr(model, "state_dict"):
        return names
    for name, t in model.state_dict(keep_vars=True).items():
        for key in (id(t), id(t.array)):
            names.setdefault(key, name)
    return names


def _reserve_outputs(g, trace, output_names):
    """Graph outputs made by a node take their names directly; others get an Identity."""
    late = []
    for out, name in zip(trace.outputs, output_names):
        key = key_of(out)
        if out._ctx is not None and key not in g.reserved:
            g.reserved[key] = name
        else:
            late.append((out, name))
    return late


def _convert(g, node):
    entry = CONVERTERS.get(node.fn)
    if entry is None:
        raise ExportError(
            f"onnx export: the op {node.name} (in {node.where}) has no ONNX "
            "converter yet (soma.onnx.supported_ops() lists those that do)"
        )
    convert, dynamic = entry
    g.node = node
    outs = convert(g, node)  # converters of training-only ops refuse here, with their reason
    if node.problem is not None:
        raise ExportError(node.problem)
    if node.varies and not dynamic:
        raise ExportError(
            f"onnx export: {node.describe()}: its attributes change with the "
            "input's size or values (e.g. they follow a dynamic axis); export "
            "with static shapes"
        )
    outs = outs if isinstance(outs, list) else [outs]
    for i, name in enumerate(outs):
        if name is not None:
            g.names[(id(node.ctx), i)] = name
    for key in [k for k in g.reserved if k[0] == id(node.ctx)]:
        g.op("Identity", [g.names[key]], outputs=[g.reserved.pop(key)])


def _value_info(g, t, name, axes):
    dims = [axes.get(i, size) for i, size in enumerate(t.shape)]
    return g.helper.make_tensor_value_info(name, onnx_type(g, t.dtype), dims)


def _output_info(g, t, name, axes):
    if isinstance(axes, (list, tuple)):
        axes = {a: f"{name}_dim{a}" for a in axes}
    axes = axes or {}
    dims = []
    for i, d in enumerate(g.dims(t)):
        if i in axes:
            dims.append(str(axes[i]))
        elif isinstance(d, Sym):
            found = g.dyn_axes.get((d.a, d.b))  # the size of a dynamic input axis: its name
            dims.append(found[2] if found else f"{name}_dim{i}")
        else:
            dims.append(d)
    return g.helper.make_tensor_value_info(name, onnx_type(g, t.array.dtype), dims)
