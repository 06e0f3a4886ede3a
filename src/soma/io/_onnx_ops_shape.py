"""ONNX converters: reshaping, transposing, joining, splitting, indexing and padding.

Reshape, expand and indexing keep dynamic axes dynamic: a size that follows a dynamic axis
becomes ``-1`` or ``0`` (copy) in a Reshape target, or is computed from the graph input's
``Shape`` at run time.
"""

import numbers

from soma.backend import get_xp
from soma.functional import indexing, padding, shape
from soma.io._onnx_graph import Sym, registry
from soma.io._onnx_trace import ExportError

_xp = get_xp()
CONVERTERS, converts = registry()
_BIG = 2**63 - 1


def _same(a, b) -> bool:
    return isinstance(a, Sym) and isinstance(b, Sym) and (a.a, a.b) == (b.a, b.b)


def _reshape_target(g, in_dims, out_dims) -> str:
    """A Reshape target: static sizes, ``0`` to copy an unchanged dynamic size, one ``-1``."""
    target = list(out_dims)
    free = [i for i, d in enumerate(out_dims) if isinstance(d, Sym)]
    if len(free) > 1:
        for i in list(free):
            if i < len(in_dims) and _same(in_dims[i], out_dims[i]):
                target[i] = 0
                free.remove(i)
    if len(free) > 1:
        return g.shape_tensor(out_dims)
    if free:
        target[free[0]] = -1
    return g.ints(target)


@converts(shape.Reshape, dynamic=True)
def _reshape(g, n):
    x = n.args[0]
    target = _reshape_target(g, g.dims(x), g.dims(index=0))
    return g.op("Reshape", [g.value(x), target], outputs=[g.output_name(0)])


@converts(shape.Expand, dynamic=True)
def _expand(g, n):
    x = n.args[0]
    in_dims, out_dims = g.dims(x), g.dims(index=0)
    lead = len(out_dims) - len(in_dims)
    target = []
    for i, d in enumerate(out_dims):
        kept = i >= lead and (in_dims[i - lead] == d or _same(in_dims[i - lead], d))
        target.append(1 if kept else d)  # 1: Expand keeps the input's size there
    return g.op("Expand", [g.value(x), g.shape_tensor(target)], outputs=[g.output_name(0)])


@converts(shape.Permute)
def _permute(g, n):
    return g.op(
        "Transpose",
        [g.value(n.args[0])],
        perm=[int(a) for a in n.args[1]],
        outputs=[g.output_name(0)],
    )


@converts(shape.Repeat)
def _repeat(g, n):
    x, reps = n.args
    y, extra = g.value(x), len(reps) - len(g.shape(x))
    if extra > 0:
        y = g.op("Unsqueeze", [y, g.ints(list(range(extra)))])
    return g.op("Tile", [y, g.ints(list(reps))], outputs=[g.output_name(0)])


@converts(shape.Flip)
def _flip(g, n):
    axes = [int(a) for a in n.args[1]]
    k = len(axes)
    inputs = [
        g.value(n.args[0]),
        g.ints([-1] * k),
        g.ints([-_BIG - 1] * k),
        g.ints(axes),
        g.ints([-1] * k),
    ]
    return g.op("Slice", inputs, outputs=[g.output_name(0)])


def _slice(g, y, axis, start, end):
    return g.op("Slice", [y, g.ints([start]), g.ints([end]), g.ints([axis])])


@converts(shape.Roll)
def _roll(g, n):
    x, shifts, axes = n.args
    if axes is None:
        raise ExportError(f"onnx export: {n.describe()}: roll without dims is not supported")
    shifts = shifts if isinstance(shifts, tuple) else (shifts,)
    axes = axes if isinstance(axes, tuple) else (axes,)
    dims, y = g.dims(x), g.value(x)
    for s, a in zip(shifts, axes):
        size = g.size([dims[a]])
        s %= size
        if s:
            y = g.op(
                "Concat",
                [_slice(g, y, a, size - s, size), _slice(g, y, a, 0, size - s)],
                axis=int(a),
            )
    return g.op("Identity", [y], outputs=[g.output_name(0)])


@converts(shape.Cat)
def _cat(g, n):
    return g.op(
        "Concat",
        [g.value(a) for a in n.args],
        axis=int(n.options["axis"]),
        outputs=[g.output_name(0)],
    )


@converts(shape.Split)
def _split(g, n):
    x, bounds, axis = n.args
    size = g.size([g.dims(x)[axis]])
    edges = [0] + [int(b) for b in bounds] + [size]
    sizes = [b - a for a, b in zip(edges, edges[1:])]
    outputs = [g.output_name(i) for i in range(len(sizes))]
    g.op("Split", [g.value(x), g.ints(sizes)], axis=int(axis), outputs=outputs)
    return outputs


@converts(indexing.Gather)
def _gather(g, n):
    x, index, axis = n.args
    return g.op(
        "GatherElements", [g.value(x), g.value(index)], axis=int(axis), outputs=[g.output_name(0)]
    )


# ---------------------------------------------------------------------- indexing
def _parse(n, index, ndim):
    """(slices, (axis, int) pairs, one advanced (axis, indices) or None, new axes) of a
    NumPy-style index."""
    slices, ints, news, advanced = [], [], [], None
    axis = position = 0
    entries = list(index)
    at = next((i for i, e in enumerate(entries) if e is Ellipsis), None)
    if at is not None:
        used = sum(1 for e in entries if e is not None and e is not Ellipsis)
        entries[at : at + 1] = [slice(None)] * (ndim - used)
    for e in entries:
        if e is None:
            news.append(position)
            position += 1
        elif isinstance(e, slice):
            if e != slice(None):
                slices.append((axis, e))
            axis, position = axis + 1, position + 1
        elif isinstance(e, numbers.Integral):
            ints.append((axis, int(e)))
            axis += 1
        elif isinstance(e, _xp.ndarray) and advanced is None:
            if e.dtype == bool:
                if e.ndim != 1:
                    raise ExportError(
                        f"onnx export: {n.describe()}: indexing with a boolean "
                        f"mask of {e.ndim} dimensions is not supported"
                    )
                e = _xp.nonzero(e)[0]
            advanced = (axis, e.astype(_xp.int64))
            axis, position = axis + 1, position + e.ndim
        else:
            raise ExportError(
                f"onnx export: {n.describe()}: index {e!r} is not supported "
                "(slices, ints, None and one integer array are)"
            )
    if advanced is not None and (ints or news):
        raise ExportError(
            f"onnx export: {n.describe()}: an index array together with integers "
            "or None is not supported"
        )
    return slices, ints, advanced, news


def _bounds(s):
    step = 1 if s.step is None else int(s.step)
    if step > 0:
        return (
            0 if s.start is None else int(s.start),
            _BIG if s.stop is None else int(s.stop),
            step,
        )
    return (
        _BIG if s.start is None else int(s.start),
        -_BIG - 1 if s.stop is None else int(s.stop),
        step,
    )


@converts(indexing.GetItem, dynamic=True)
def _getitem(g, n):
    x, index = n.args[0], n.args[1]
    index = index if isinstance(index, tuple) else (index,)
    slices, ints, advanced, news = _parse(n, index, len(g.shape(x)))
    y = g.value(x)
    if slices:
        parts = list(zip(*[(a,) + _bounds(s) for a, s in slices]))
        axes, starts, ends, steps = (list(p) for p in parts)
        y = g.op("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if advanced is not None:
        y = g.op("Gather", [y, g.ints(advanced[1])], axis=advanced[0])
    for axis, value in sorted(ints, reverse=True):  # the last first: earlier axes stay put
        y = g.op("Gather", [y, g.const(value, dtype="int64")], axis=axis)
    if news:
        y = g.op("Unsqueeze", [y, g.ints(news)])
    return g.op("Identity", [y], outputs=[g.output_name(0)])


# ---------------------------------------------------------------------- padding
@converts(padding.ConstantPad)
def _constant_pad(g, n):
    x = n.args[0]
    pads, value = n.options["pads"], n.options["value"]
    lead = len(g.shape(x)) - len(pads)
    begins = [0] * lead + [int(lo) for lo, _ in pads]
    ends = [0] * lead + [int(hi) for _, hi in pads]
    fill = g.const(value, dtype=g.dtype(x), hint="pad_value")
    return g.op(
        "Pad",
        [g.value(x), g.ints(begins + ends), fill],
        mode="constant",
        outputs=[g.output_name(0)],
    )


@converts(padding.GatherPad)
def _gather_pad(g, n):
    x = n.args[0]
    indices = n.options["indices"]
    lead = len(g.shape(x)) - len(indices)
    y = g.value(x)
    for axis, index in enumerate(indices, start=lead):
        y = g.op("Gather", [y, g.ints(_xp.asarray(index))], axis=axis)
    return g.op("Identity", [y], outputs=[g.output_name(0)])
