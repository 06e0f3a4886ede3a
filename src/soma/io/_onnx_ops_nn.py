"""ONNX converters: convolutions, pooling, normalization, resampling, embeddings, attention.

Layers in evaluation mode: batch norm uses its running statistics (its buffers become
initializers under their state-dict names); dropout is the identity and leaves no node. Ops
that are random or that update state while training are refused with a hint to call
``model.eval()``.
"""

import math

from soma.backend import get_xp
from soma.functional import attention, resample
from soma.functional.conv import convolution as conv
from soma.functional.dropout import AffineNoise, Dropout
from soma.functional.embedding import Embedding
from soma.functional.normalization import batch as batchnorm
from soma.functional.normalization import layer as normalization
from soma.functional.normalization.local_response import LocalResponseNorm
from soma.functional.pooling import adaptive as adaptive_pooling
from soma.functional.pooling import max_avg as pooling
from soma.functional.pooling.max_avg import _window_counts
from soma.io._onnx_graph import registry
from soma.io._onnx_trace import ExportError

_xp = get_xp()
CONVERTERS, converts = registry()
REFUSED = {Dropout, AffineNoise, batchnorm.BatchNormTrain}  # converters that explain a refusal


def _k(g, value, dtype):
    return g.const(value, dtype=dtype, hint="k")


# ---------------------------------------------------------------------- convolutions
def _conv_attrs(node):
    geometry = node.options["geometry"]
    return dict(
        kernel_shape=list(geometry.kernel),
        strides=list(geometry.stride),
        dilations=list(geometry.dilation),
        group=int(geometry.groups),
        pads=[p for p, _ in geometry.pads] + [p for _, p in geometry.pads],
    )


def _conv_inputs(g, n):
    x, w, b = n.args
    return [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])


@converts(conv.ConvNd, dynamic=True)
def _conv(g, n):
    return g.op("Conv", _conv_inputs(g, n), outputs=[g.output_name(0)], **g.agreed(_conv_attrs))


def _transpose_attrs(node):
    """A transposed convolution is the adjoint of the convolution ``geometry`` describes: its
    output is that convolution's input; output_padding is what the size formula leaves over."""
    geo = node.options["geometry"]
    extra = [
        o - ((i - 1) * s - lo - hi + d * (k - 1) + 1)
        for o, i, s, (lo, hi), d, k in zip(
            geo.in_size, geo.out_size, geo.stride, geo.pads, geo.dilation, geo.kernel
        )
    ]
    return dict(_conv_attrs(node), output_padding=extra)


@converts(conv.ConvTransposeNd, dynamic=True)
def _conv_transpose(g, n):
    return g.op(
        "ConvTranspose",
        _conv_inputs(g, n),
        outputs=[g.output_name(0)],
        **g.agreed(_transpose_attrs),
    )


# ---------------------------------------------------------------------- pooling
def _window_attrs(win):
    """Kernel, strides, symmetric pads and ceil_mode: the same windows at any input size
    (onnxruntime's ceil mode drops a last window that starts in the padding, as PyTorch's)."""
    return dict(
        kernel_shape=list(win.kernel),
        strides=list(win.stride),
        pads=list(win.padding) * 2,
        ceil_mode=int(win.ceil_mode),
    )


def _max_pool_attrs(node):
    win = node.options["win"]
    return dict(_window_attrs(win), dilations=list(win.dilation))


def _check_rank(n, g, x, win, op):
    if len(g.shape(x)) != len(win.spatial) + 2:
        raise ExportError(f"onnx export: {n.describe()}: {op} needs a batched (N, C, ...) input")


@converts(pooling.MaxPool, dynamic=True)
def _max_pool(g, n):
    x = n.args[0]
    _check_rank(n, g, x, n.options["win"], "MaxPool")
    return g.op("MaxPool", [g.value(x)], outputs=[g.output_name(0)], **g.agreed(_max_pool_attrs))


def _same_counts(divisor, counts) -> bool:
    if isinstance(divisor, (int, float)) or isinstance(counts, int):
        return _xp.ndim(divisor) == 0 and _xp.ndim(counts) == 0 and divisor == counts
    return divisor.shape == counts.shape and bool(_xp.array_equal(divisor, counts))


def _avg_pool_attrs(node):
    """AveragePool attributes, and the factor its result still needs (None if none)."""
    win, divisor = node.options["win"], node.options["divisor"]
    for include in (1, 0):
        if _same_counts(divisor, _window_counts(win, count_include_pad=bool(include))):
            return dict(_window_attrs(win), count_include_pad=include), None
    # another divisor: average over soma's padded frame (every window whole), then rescale
    frame = list(win.padding) + [
        P - p - n for P, p, n in zip(win.padded, win.padding, win.spatial)
    ]
    attrs = dict(
        kernel_shape=list(win.kernel), strides=list(win.stride), pads=frame, count_include_pad=1
    )
    factor = win.size / (
        divisor if isinstance(divisor, (int, float)) else divisor.astype("float64")
    )
    return attrs, _xp.asarray(factor).tolist()


@converts(pooling.SumPool, dynamic=True)
def _sum_pool(g, n):
    x, win = n.args[0], n.options["win"]
    _check_rank(n, g, x, win, "AveragePool")
    if any(d != 1 for d in win.dilation):
        raise ExportError(f"onnx export: {n.describe()}: dilated average pooling")
    attrs, factor = g.agreed(_avg_pool_attrs)
    out = [g.output_name(0)]
    if factor is None and _avg_pool_attrs(n.alt)[1] is None:
        n.problem = None  # the divisor array is PyTorch's count rule, which AveragePool applies
        return g.op("AveragePool", [g.value(x)], outputs=out, **attrs)
    mean = g.op("AveragePool", [g.value(x)], **attrs)
    return g.op("Mul", [mean, g.const(factor, dtype=g.dtype(x), hint="pool_scale")], outputs=out)


@converts(adaptive_pooling.GlobalAvg)
def _global_avg(g, n):
    x, d = n.args[0], n.options["d"]
    ndim = len(g.shape(x))
    if ndim == d + 2:
        return g.op("GlobalAveragePool", [g.value(x)], outputs=[g.output_name(0)])
    return g.reduce(
        "ReduceMean", g.value(x), list(range(ndim - d, ndim)), True, outputs=[g.output_name(0)]
    )


@converts(adaptive_pooling.Separable)
def _separable(g, n):
    """One matrix per trailing axis (adaptive averaging, linear/cubic interpolation)."""
    x, matrices = n.args[0], n.options["matrices"]
    ndim, d = len(g.shape(x)), len(matrices)
    y, dtype = g.value(x), g.dtype(x)
    for i, a in enumerate(matrices):
        if a is None:
            continue
        axis = ndim - d + i
        if axis == ndim - 1:  # x · Aᵀ
            y = g.op("MatMul", [y, g.const(a.T.astype(dtype), hint="resample")])
            continue
        perm = [j for j in range(ndim) if j != axis] + [axis]
        back = [perm.index(j) for j in range(ndim)]
        moved = g.op("Transpose", [y], perm=perm)
        y = g.op("MatMul", [moved, g.const(a.T.astype(dtype), hint="resample")])
        y = g.op("Transpose", [y], perm=back)
    return g.op("Identity", [y], outputs=[g.output_name(0)])


@converts(resample.Nearest)
def _nearest(g, n):
    x, indices = n.args[0], n.options["indices"]
    ndim, d = len(g.shape(x)), len(indices)
    y = g.value(x)
    for i, idx in enumerate(indices):
        if idx is not None:
            y = g.op("Gather", [y, g.ints(idx)], axis=ndim - d + i)
    return g.op("Identity", [y], outputs=[g.output_name(0)])


# ---------------------------------------------------------------------- normalization
@converts(batchnorm.BatchNormEval)
def _batch_norm(g, n):
    x, w, b = n.args
    mean, var, eps = n.options["mean"], n.options["var"], n.options["eps"]
    dtype, c = g.dtype(x), g.shape(x)[1]
    scale = g.value(w) if w is not None else g.const([1.0] * c, dtype=dtype, hint="ones")
    shift = g.value(b) if b is not None else g.const([0.0] * c, dtype=dtype, hint="zeros")
    inputs = [g.value(x), scale, shift, g.value(mean, dtype), g.value(var, dtype)]
    return g.op("BatchNormalization", inputs, epsilon=float(eps), outputs=[g.output_name(0)])


@converts(batchnorm.BatchNormTrain)
def _batch_norm_train(g, n):
    raise ExportError(
        f"onnx export: {n.describe()} runs batch norm with batch statistics "
        "(training mode); call model.eval() before exporting, or pass "
        "training=False to batch_norm"
    )


@converts(normalization.RowNorm, dynamic=True)
def _row_norm(g, n):
    x, w, b = n.args
    o = n.options
    if tuple(o["wshape"]) == (o["rows"][1],) and o["view"] == o["rows"]:
        return _layer_norm(g, n, x, w, b)
    return _group_norm(g, n, x, w, b, o["rows"][0] // o["view"][0])


@converts(normalization.GroupNormKernels, dynamic=True)
def _group_norm_kernels(g, n):
    x, w, b = n.args
    return _group_norm(g, n, x, w, b, n.options["groups"])


def _layer_norm(g, n, x, w, b):
    """LayerNormalization over the fewest trailing axes holding ``s`` elements."""
    shape, s, dtype = g.shape(x), n.options["rows"][1], g.dtype(x)
    k = next(k for k in range(1, len(shape) + 1) if math.prod(shape[-k:]) == s)
    trailing = list(shape[-k:])

    def param(t, fill):
        if t is None:
            return g.const(_xp.full(trailing, fill, dtype=dtype), hint="norm_default")
        if list(g.shape(t)) == trailing:
            return g.value(t)
        return g.op("Reshape", [g.value(t), g.ints(trailing)])

    return g.op(
        "LayerNormalization",
        [g.value(x), param(w, 1.0), param(b, 0.0)],
        axis=-k,
        epsilon=float(n.options["eps"]),
        outputs=[g.output_name(0)],
    )


def _group_norm(g, n, x, w, b, groups):
    """(N, C, *) normalised per (sample, group): InstanceNormalization on (N, G, rest)."""
    o = n.options
    ndim, dtype = len(g.shape(x)), g.dtype(x)
    xv = g.value(x)
    grouped = g.op("Reshape", [xv, g.ints([0, groups, -1])])
    normed = g.op(
        "InstanceNormalization",
        [grouped, g.const([1.0] * groups, dtype=dtype), g.const([0.0] * groups, dtype=dtype)],
        epsilon=float(o["eps"]),
    )
    y = g.op("Reshape", [normed, g.op("Shape", [xv])])
    channel = [-1] + [1] * (ndim - 2)
    if w is not None:
        y = g.op("Mul", [y, g.op("Reshape", [g.value(w), g.ints(channel)])])
    if b is not None:
        y = g.op("Add", [y, g.op("Reshape", [g.value(b), g.ints(channel)])])
    return g.op("Identity", [y], outputs=[g.output_name(0)])


@converts(LocalResponseNorm)
def _lrn(g, n):
    x, o = n.args[0], n.options
    size, ndim, dtype = int(o["size"]), len(g.shape(x)), g.dtype(x)
    if size % 2 == 1 and ndim == 4:
        return g.op(
            "LRN",
            [g.value(x)],
            size=size,
            alpha=float(o["alpha"]),
            beta=float(o["beta"]),
            bias=float(o["k"]),
            outputs=[g.output_name(0)],
        )
    # PyTorch's definition: x / (k + α · mean of x² over a window of channels)^β, the window
    # padded by size // 2 channels before and (size − 1) // 2 after
    xv = g.value(x)
    squares = g.op("Unsqueeze", [g.op("Mul", [xv, xv]), g.ints([1])])
    pads = [0, 0, size // 2] + [0] * (ndim - 2) + [0, 0, (size - 1) // 2] + [0] * (ndim - 2)
    padded = g.op("Pad", [squares, g.ints(pads)], mode="constant")
    mean = g.op("AveragePool", [padded], kernel_shape=[size] + [1] * (ndim - 2))
    mean = g.op("Squeeze", [mean, g.ints([1])])
    div = g.op("Add", [g.op("Mul", [mean, _k(g, o["alpha"], dtype)]), _k(g, o["k"], dtype)])
    div = g.op("Pow", [div, _k(g, o["beta"], dtype)])
    return g.op("Div", [xv, div], outputs=[g.output_name(0)])


# ---------------------------------------------------------------------- random ops
@converts(Dropout, AffineNoise)
def _random(g, n):
    raise ExportError(
        f"onnx export: {n.describe()} draws random numbers (dropout in training "
        "mode); call model.eval() before exporting"
    )


# ---------------------------------------------------------------------- embeddings, attention
@converts(Embedding)
def _embedding(g, n):
    weight, ids = n.args
    return g.op("Gather", [g.value(weight), g.value(ids)], axis=0, outputs=[g.output_name(0)])


@converts(attention.Attention)
def _attention(g, n):
    q, k, v, mask = n.args
    o = n.options
    if o["dropout_p"] > 0:
        raise ExportError(
            f"onnx export: {n.describe()} uses attention dropout (training "
            "mode); call model.eval() before exporting"
        )
    dtype = g.dtype(q)
    ndim = len(g.shape(k))
    perm = list(range(ndim - 2)) + [ndim - 1, ndim - 2]
    kt = g.op("Transpose", [g.value(k)], perm=perm)
    scores = g.op("Mul", [g.op("MatMul", [g.value(q), kt]), _k(g, o["scale"], dtype)])
    if mask is not None:
        scores = g.op("Add", [scores, g.value(mask, dtype)])
    weights = g.op("Softmax", [scores], axis=-1, outputs=[g.output_name(1)])
    y = g.op("MatMul", [weights, g.value(v)], outputs=[g.output_name(0)])
    return [y, weights]
