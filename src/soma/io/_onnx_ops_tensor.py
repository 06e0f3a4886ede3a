"""ONNX converters for the tensor operations added for PyTorch parity (issue 11 §3): the
trigonometric and hyperbolic functions, erf / erfc / exp2, tril / triu and GLU.

The other new ops (cumulative, sorting, scatter, sampling …) have no converter yet: export names
the op and refuses, as for any op without one.
"""

from soma.functional import matrix, special
from soma.functional import trigonometric as trig
from soma.functional.activation import gated
from soma.io._onnx_graph import registry

CONVERTERS, converts = registry()

_UNARY = {
    trig.Tan: "Tan",
    trig.Asin: "Asin",
    trig.Acos: "Acos",
    trig.Atan: "Atan",
    trig.Sinh: "Sinh",
    trig.Cosh: "Cosh",
    trig.Asinh: "Asinh",
    trig.Acosh: "Acosh",
    trig.Atanh: "Atanh",
    special.Erf: "Erf",
}


def _k(g, value):
    return g.const(value, dtype=g.out_info(0)[1], hint="k")


@converts(*_UNARY)
def _unary(g, n):
    return g.op(_UNARY[n.fn], [g.value(n.args[0])], outputs=[g.output_name(0)])


@converts(special.Erfc)
def _erfc(g, n):
    erf = g.op("Erf", [g.value(n.args[0])])
    return g.op("Sub", [_k(g, 1.0), erf], outputs=[g.output_name(0)])


@converts(special.Exp2)
def _exp2(g, n):
    return g.op("Pow", [_k(g, 2.0), g.value(n.args[0])], outputs=[g.output_name(0)])


@converts(matrix.TriangleMask)
def _triangle(g, n):
    # the mask covers the last two dimensions and broadcasts over the leading (dynamic) ones
    keep = g.const(n.args[1], hint="triangle")
    zero = _k(g, 0.0)
    return g.op("Where", [keep, g.value(n.args[0]), zero], outputs=[g.output_name(0)])


@converts(gated.GLU)
def _glu(g, n):
    attrs = {"num_outputs": 2} if g.opset >= 18 else {}  # equal halves
    a, b = g.op("Split", [g.value(n.args[0])], n_out=2, axis=int(n.args[1]), **attrs)
    return g.op("Mul", [a, g.op("Sigmoid", [b])], outputs=[g.output_name(0)])
