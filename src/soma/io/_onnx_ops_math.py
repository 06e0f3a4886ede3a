"""ONNX converters: element-wise arithmetic, activations, softmax, reductions, matrix products.

Each converter gets the graph ``g`` and the recorded node ``n`` (``n.args``: the op's positional
arguments; ``n.options``: its keyword options) and returns the ONNX name of each output.
"""

import math

from soma.backend import get_xp
from soma.functional import elementwise as ew
from soma.functional import linalg, reduction
from soma.functional import unary as un
from soma.functional.activation import piecewise as act
from soma.functional.activation import smooth as smooth
from soma.functional.activation import softmax as sm
from soma.io._onnx_graph import Sym, onnx_type, operand, registry
from soma.io._onnx_trace import ExportError

_xp = get_xp()
CONVERTERS, converts = registry()

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _dtype(g):
    return g.out_info(0)[1]


def _x(g, n, i=0):
    return g.value(n.args[i])


def _k(g, value):
    """A scalar constant of the output's dtype."""
    return g.const(value, dtype=_dtype(g), hint="k")


# ---------------------------------------------------------------------- arithmetic
_BINARY = {
    ew.Add: "Add",
    ew.Sub: "Sub",
    ew.Mul: "Mul",
    ew.Div: "Div",
    ew.Pow: "Pow",
    ew.Maximum: "Max",
    ew.Minimum: "Min",
}
_UNARY = {
    un.Neg: "Neg",
    un.Exp: "Exp",
    un.Log: "Log",
    un.Sqrt: "Sqrt",
    un.Abs: "Abs",
    un.Sin: "Sin",
    un.Cos: "Cos",
    un.Tanh: "Tanh",
    un.Sigmoid: "Sigmoid",
    un.Floor: "Floor",
    un.Ceil: "Ceil",
    un.Sign: "Sign",
    ew.Clone: "Identity",
    act.ReLU: "Relu",
    act.Hardswish: "HardSwish",
    smooth.Softsign: "Softsign",
}


@converts(*_BINARY)
def _binary(g, n):
    a, b = (operand(g, arg, _dtype(g)) for arg in n.args)
    return g.op(_BINARY[n.fn], [a, b], outputs=[g.output_name(0)])


@converts(*_UNARY)
def _unary(g, n):
    return g.op(_UNARY[n.fn], [_x(g, n)], outputs=[g.output_name(0)])


@converts(ew.Remainder)
def _remainder(g, n):
    a, b = (operand(g, arg, _dtype(g)) for arg in n.args)
    if _dtype(g).kind != "f":
        return g.op("Mod", [a, b], outputs=[g.output_name(0)])
    # Python's sign convention: a - floor(a / b)·b
    q = g.op("Floor", [g.op("Div", [a, b])])
    return g.op("Sub", [a, g.op("Mul", [q, b])], outputs=[g.output_name(0)])


@converts(un.Expm1)
def _expm1(g, n):
    return g.op("Sub", [g.op("Exp", [_x(g, n)]), _k(g, 1)], outputs=[g.output_name(0)])


@converts(un.Log1p)
def _log1p(g, n):
    return g.op("Log", [g.op("Add", [_x(g, n), _k(g, 1)])], outputs=[g.output_name(0)])


@converts(un.Round)
def _round(g, n):
    decimals = n.args[1] if len(n.args) > 1 else 0
    if decimals == 0:
        return g.op("Round", [_x(g, n)], outputs=[g.output_name(0)])
    scale = _k(g, 10.0**decimals)
    return g.op(
        "Div", [g.op("Round", [g.op("Mul", [_x(g, n), scale])]), scale], outputs=[g.output_name(0)]
    )


@converts(ew.Clamp)
def _clamp(g, n):
    y = _x(g, n)
    lo, hi = n.args[1], n.args[2]
    ops = [("Max", lo), ("Min", hi)]
    for i, (op_type, bound) in enumerate(ops):
        if bound is None:
            continue
        last = all(b is None for _, b in ops[i + 1 :])
        y = g.op(
            op_type,
            [y, operand(g, bound, _dtype(g))],
            outputs=[g.output_name(0)] if last else None,
        )
    return y


@converts(ew.Where)
def _where(g, n):
    cond, a, b = n.args
    names = [g.value(cond), operand(g, a, _dtype(g)), operand(g, b, _dtype(g))]
    return g.op("Where", names, outputs=[g.output_name(0)])


@converts(ew.Cast)
def _cast(g, n):
    return g.op("Cast", [_x(g, n)], to=onnx_type(g, n.args[1]), outputs=[g.output_name(0)])


# ---------------------------------------------------------------------- activations
@converts(act.LeakyReLU)
def _leaky_relu(g, n):
    return g.op(
        "LeakyRelu", [_x(g, n)], alpha=float(n.options["slope"]), outputs=[g.output_name(0)]
    )


@converts(act.PReLU)
def _prelu(g, n):
    x, w = n.args
    ndim = len(g.shape(x))
    size = int(math.prod(g.shape(w)))
    shape = [] if size == 1 else [size] + [1] * (ndim - 2)
    slope = g.op("Reshape", [g.value(w), g.ints(shape)])
    return g.op("PRelu", [g.value(x), slope], outputs=[g.output_name(0)])


@converts(act.Hardtanh)
def _hardtanh(g, n):
    lo, hi = n.options["lo"], n.options["hi"]
    return g.op("Clip", [_x(g, n), _k(g, lo), _k(g, hi)], outputs=[g.output_name(0)])


@converts(act.Threshold)
def _threshold(g, n):
    x = _x(g, n)
    above = g.op("Greater", [x, _k(g, n.options["threshold"])])
    return g.op("Where", [above, x, _k(g, n.options["value"])], outputs=[g.output_name(0)])


@converts(act.Hardsigmoid)
def _hardsigmoid(g, n):
    return g.op("HardSigmoid", [_x(g, n)], alpha=1.0 / 6.0, beta=0.5, outputs=[g.output_name(0)])


@converts(act.Hardshrink, act.Softshrink)
def _shrink(g, n):
    lambd = float(n.options["lambd"])
    bias = lambd if n.fn is act.Softshrink else 0.0
    return g.op("Shrink", [_x(g, n)], lambd=lambd, bias=bias, outputs=[g.output_name(0)])


@converts(act.Step)
def _step(g, n):
    x = _x(g, n)
    hit = g.op("GreaterOrEqual", [x, _k(g, n.options["threshold"])])
    return g.op("Cast", [hit], to=onnx_type(g, _dtype(g)), outputs=[g.output_name(0)])


@converts(smooth.ELU)
def _elu(g, n):
    alpha, scale, s = (n.options[k] for k in ("alpha", "scale", "input_scale"))
    x, out = _x(g, n), [g.output_name(0)]
    if scale == 1 and s == 1:
        return g.op("Elu", [x], alpha=float(alpha), outputs=out)
    if math.isclose(alpha, _SELU_ALPHA) and math.isclose(scale, _SELU_SCALE) and s == 1:
        return g.op("Selu", [x], alpha=float(alpha), gamma=float(scale), outputs=out)
    if scale == 1 and math.isclose(s * alpha, 1.0):
        return g.op("Celu", [x], alpha=float(alpha), outputs=out)
    # scale · (max(x, 0) + α (exp(min(x, 0)·s) − 1))
    neg = g.op("Mul", [g.op("Min", [x, _k(g, 0)]), _k(g, s)])
    e = g.op("Mul", [g.op("Sub", [g.op("Exp", [neg]), _k(g, 1)]), _k(g, alpha)])
    return g.op("Mul", [g.op("Add", [g.op("Max", [x, _k(g, 0)]), e]), _k(g, scale)], outputs=out)


@converts(smooth.GELU, smooth.GELUTanh)
def _gelu(g, n):
    x, out = _x(g, n), [g.output_name(0)]
    tanh = n.fn is smooth.GELUTanh
    if g.opset >= 20:
        return g.op("Gelu", [x], approximate="tanh" if tanh else "none", outputs=out)
    if tanh:  # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, _k(g, 0.044715)])])
        t = g.op("Tanh", [g.op("Mul", [inner, _k(g, math.sqrt(2 / math.pi))])])
    else:  # 0.5·x·(1 + erf(x/√2))
        t = g.op("Erf", [g.op("Mul", [x, _k(g, 1 / math.sqrt(2))])])
    half_x = g.op("Mul", [x, _k(g, 0.5)])
    return g.op("Mul", [half_x, g.op("Add", [t, _k(g, 1)])], outputs=out)


@converts(smooth.SiLU)
def _silu(g, n):
    x = _x(g, n)
    return g.op("Mul", [x, g.op("Sigmoid", [x])], outputs=[g.output_name(0)])


@converts(smooth.Mish)
def _mish(g, n):
    x = _x(g, n)
    t = g.op("Tanh", [g.op("Softplus", [x])])
    return g.op("Mul", [x, t], outputs=[g.output_name(0)])


@converts(smooth.Softplus)
def _softplus(g, n):
    beta, threshold = n.options["beta"], n.options["threshold"]
    x = _x(g, n)
    bx = x if beta == 1 else g.op("Mul", [x, _k(g, beta)])
    sp = g.op("Softplus", [bx])
    if beta != 1:
        sp = g.op("Div", [sp, _k(g, beta)])
    linear = g.op("Greater", [bx, _k(g, threshold)])  # PyTorch: linear above the threshold
    return g.op("Where", [linear, x, sp], outputs=[g.output_name(0)])


@converts(smooth.LogSigmoid)
def _logsigmoid(g, n):
    sp = g.op("Softplus", [g.op("Neg", [_x(g, n)])])
    return g.op("Neg", [sp], outputs=[g.output_name(0)])


@converts(smooth.Tanhshrink)
def _tanhshrink(g, n):
    x = _x(g, n)
    return g.op("Sub", [x, g.op("Tanh", [x])], outputs=[g.output_name(0)])


@converts(sm.Softmax, sm.LogSoftmax)
def _softmax(g, n):
    op_type = "Softmax" if n.fn is sm.Softmax else "LogSoftmax"
    return g.op(op_type, [_x(g, n)], axis=int(n.args[1]), outputs=[g.output_name(0)])


# ---------------------------------------------------------------------- reductions
def _axes(n, ndim):
    axes = n.args[1]
    if axes is None:
        return tuple(range(ndim))
    return (axes,) if isinstance(axes, int) else tuple(axes)


def _reduce(g, n, op_type, outputs):
    x = n.args[0]
    axes, keepdim = _axes(n, len(g.shape(x))), bool(n.args[2])
    if not axes:
        return g.op("Identity", [g.value(x)], outputs=outputs)
    return g.reduce(op_type, g.value(x), axes, keepdim, outputs=outputs)


@converts(reduction.Sum)
def _sum(g, n):
    if g.dtype(n.args[0]) != _dtype(g):
        y = _reduce(g, n, "ReduceSum", None)
        return g.op("Cast", [y], to=onnx_type(g, _dtype(g)), outputs=[g.output_name(0)])
    return _reduce(g, n, "ReduceSum", [g.output_name(0)])


@converts(reduction.Mean, reduction.Prod, reduction.LogSumExp, reduction.Norm2)
def _simple_reduce(g, n):
    op_type = {
        reduction.Mean: "ReduceMean",
        reduction.Prod: "ReduceProd",
        reduction.LogSumExp: "ReduceLogSumExp",
        reduction.Norm2: "ReduceL2",
    }[n.fn]
    return _reduce(g, n, op_type, [g.output_name(0)])


@converts(reduction.Extreme)
def _extreme(g, n):
    return _reduce(g, n, "ReduceMax" if n.args[3] else "ReduceMin", [g.output_name(0)])


@converts(reduction.Var, dynamic=True)
def _var(g, n):
    x, axes, keepdim, correction = n.args
    xv = g.value(x)
    centred = g.op("Sub", [xv, g.reduce("ReduceMean", xv, axes, True)])
    total = g.reduce("ReduceSum", g.op("Mul", [centred, centred]), axes, bool(keepdim))
    dims = [g.dims(x)[a] for a in axes]
    if any(isinstance(d, Sym) for d in dims):  # the element count, at run time
        picked = g.op("Gather", [g.op("Shape", [xv]), g.ints(list(axes))], axis=0)
        count = g.op(
            "Cast", [g.reduce("ReduceProd", picked, [0], False)], to=onnx_type(g, _dtype(g))
        )
        denominator = g.op("Sub", [count, _k(g, correction)])
    else:
        denominator = _k(g, max(math.prod(dims) - correction, 0))
    return g.op("Div", [total, denominator], outputs=[g.output_name(0)])


@converts(reduction.CumSum)
def _cumsum(g, n):
    return g.op(
        "CumSum", [_x(g, n), g.const(int(n.args[1]), dtype="int64")], outputs=[g.output_name(0)]
    )


# ---------------------------------------------------------------------- products
@converts(linalg.MatMul)
def _matmul(g, n):
    return g.op("MatMul", [_x(g, n, 0), _x(g, n, 1)], outputs=[g.output_name(0)])


@converts(linalg.Linear)
def _linear(g, n):
    x, w, b = n.args
    out = [g.output_name(0)]
    if len(g.shape(x)) == 2:
        inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        return g.op("Gemm", inputs, transB=1, outputs=out)
    wt = g.op("Transpose", [g.value(w)], perm=[1, 0])
    if b is None:
        return g.op("MatMul", [g.value(x), wt], outputs=out)
    return g.op("Add", [g.op("MatMul", [g.value(x), wt]), g.value(b)], outputs=out)


@converts(linalg.Einsum)
def _einsum(g, n):
    equation = ",".join(n.options["inputs"]) + "->" + n.options["output"]
    return g.op(
        "Einsum", [g.value(a) for a in n.args], equation=equation, outputs=[g.output_name(0)]
    )


# ---------------------------------------------------------------------- max/min/topk/sort values
def _selection(node):
    """What picked ``index`` (computed outside the graph from ``x``): ("max"|"min", k) when it
    is the (stable) arg-max/min or the sorted top k of ``x`` along the axis, else None."""
    x, index, axis = node.args[0].array, node.args[1], node.args[2]
    k = index.shape[axis]
    for kind, key in (("max", -x), ("min", x)):
        order = _xp.argsort(key, axis=axis, kind="stable")
        top = _xp.take(order, _xp.arange(k), axis=axis)
        if _xp.array_equal(_xp.take_along_axis(x, top, axis), _xp.take_along_axis(x, index, axis)):
            return kind, k
    return None


@converts(reduction.SelectAlongAxis, dynamic=True)
def _select(g, n):
    """The values of max/min with ``dim``, topk and sort: ReduceMax/ReduceMin or TopK.

    The indices were computed outside the graph; here they are recomputed by the ONNX op, so
    nothing data-dependent is frozen (checked on both runs)."""
    found = _selection(n)
    if found is None or _selection(n.alt) != found:
        raise ExportError(
            f"onnx export: {n.describe()}: values picked by indices that are not "
            "an arg-max/min or a sorted top-k cannot be exported"
        )
    n.problem = None
    (kind, k), axis, keepdim, x = found, int(n.args[2]), bool(n.args[3]), _x(g, n)
    if k == 1:
        op_type = "ReduceMax" if kind == "max" else "ReduceMin"
        return g.reduce(op_type, x, [axis], keepdim, outputs=[g.output_name(0)])
    values, _ = g.op(
        "TopK", [x, g.ints([k])], n_out=2, axis=axis, largest=int(kind == "max"), sorted=1
    )
    if keepdim:
        return g.op("Identity", [values], outputs=[g.output_name(0)])
    return g.op("Squeeze", [values, g.ints([axis])], outputs=[g.output_name(0)])
