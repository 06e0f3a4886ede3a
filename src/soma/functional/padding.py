"""Padding: ``pad(input, pad, mode, value)`` exactly as ``torch.nn.functional.pad``.

``pad`` lists (before, after) amounts starting from the last dimension: ``(left, right)`` pads
the last one, ``(left, right, top, bottom)`` the last two, and so on. A negative amount crops.
Modes: ``'constant'`` (fill with ``value``), ``'reflect'`` (mirror without repeating the edge),
``'replicate'`` (repeat the edge) and ``'circular'`` (wrap around).

Every non-constant mode is a gather along each padded dimension with an index array, and its
gradient sums each output entry back onto the input entry it was copied from.
"""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str

_xp = get_xp()

_MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Function):
    """y = x surrounded by ``value`` (and cropped where a pad is negative)."""

    _backward_name = "ConstantPadNdBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, *, pads, value):
        lead = x.ndim - len(pads)
        out_shape = x.shape[:lead] + tuple(
            s + lo + hi for s, (lo, hi) in zip(x.shape[lead:], pads)
        )
        src = (slice(None),) * lead + tuple(
            slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(x.shape[lead:], pads)
        )
        dst = (slice(None),) * lead + tuple(
            slice(max(lo, 0), o - max(hi, 0)) for o, (lo, hi) in zip(out_shape[lead:], pads)
        )
        y = _xp.full(out_shape, value, dtype=x.dtype)
        y[dst] = x[src]
        ctx.src, ctx.dst, ctx.x_shape = src, dst, x.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        # ∂x = gy at the copied positions; cropped entries get no gradient
        if all(
            s.start == 0 and s.stop == n
            for s, n in zip(ctx.src, ctx.x_shape)
            if s.start is not None
        ):
            return gy[ctx.dst]
        gx = _xp.zeros(ctx.x_shape, dtype=gy.dtype)
        gx[ctx.src] = gy[ctx.dst]
        return gx


def _sum_back(g, index, axis, size):
    """Adjoint of ``take(x, index, axis)``: add each slice of ``g`` onto the slice it came from."""
    moved = _xp.moveaxis(g, axis, 0)
    out = _xp.zeros((size,) + moved.shape[1:], dtype=g.dtype)
    _xp.add.at(out, index, moved)
    return _xp.moveaxis(out, 0, axis)


class GatherPad(Function):
    """y = x gathered along each padded dimension with an index array (reflect, replicate…)."""

    @staticmethod
    def forward(ctx, x, *, indices):
        lead = x.ndim - len(indices)
        y = x
        for axis, index in enumerate(indices, start=lead):
            y = _xp.take(y, index, axis=axis)
        ctx.indices, ctx.x_shape = indices, x.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        lead = len(ctx.x_shape) - len(ctx.indices)
        g = gy
        for axis, index in reversed(list(enumerate(ctx.indices, start=lead))):
            g = _sum_back(g, index, axis, ctx.x_shape[axis])
        return g


def _index(mode, n, lo, hi):
    """Input position of every output position along one dimension of size n."""
    if mode == "circular":
        # PyTorch crops first (negative pads), then wraps around what is left
        start, stop = max(-lo, 0), n - max(-hi, 0)
        return start + _xp.arange(-max(lo, 0), stop - start + max(hi, 0)) % (stop - start)
    i = _xp.arange(-lo, n + hi)
    if mode == "replicate":
        return _xp.clip(i, 0, n - 1)
    return (n - 1) - _xp.abs((n - 1) - _xp.abs(i))  # reflect: mirror at 0 and at n − 1


def _check_mode_amounts(mode, shape, pads):
    lead = len(shape) - len(pads)
    for dim, (n, (lo, hi)) in enumerate(zip(shape[lead:], pads), start=lead):
        kept = n - max(-lo, 0) - max(-hi, 0)
        too_big = {
            "reflect": max(lo, hi) >= n,
            "replicate": n == 0 and (lo > 0 or hi > 0),
            "circular": max(lo, hi) > kept,
        }[mode]
        if too_big:
            rule = {
                "reflect": "smaller than",
                "replicate": "used with a non-empty",
                "circular": "at most",
            }[mode]
            raise ShapeError(
                f"pad: {mode} padding ({lo}, {hi}) of dimension {dim} must be {rule} that "
                f"dimension's size {n} (input of shape {shape_str(shape)})"
            )


def _pairs(x, pad, mode):
    """(before, after) per padded dimension, first padded dimension first."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ShapeError(
            f"pad: the padding must have an even length (pairs of before, after), got {pad}"
        )
    if len(pad) // 2 > x.ndim:
        raise ShapeError(
            f"pad: {len(pad)} padding values pad {len(pad) // 2} dimensions, but "
            f"the input has shape {shape_str(x.shape)}"
        )
    if mode != "constant" and (
        len(pad) not in (2, 4, 6) or x.ndim not in (len(pad) // 2 + 1, len(pad) // 2 + 2)
    ):
        k = len(pad) // 2
        raise ShapeError(
            f"pad: {mode} padding of the last {k} dimension(s) needs a {k + 1}-D or {k + 2}-D "
            f"input ((C, …) or (N, C, …)), got shape {shape_str(x.shape)}; only the last 1, 2 "
            f"or 3 dimensions can be padded in this mode"
        )
    pairs = tuple((pad[i], pad[i + 1]) for i in range(0, len(pad), 2))
    return pairs[::-1]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or crop, with negative amounts) the last dimensions of ``input``.

    Args:
        input: a tensor.
        pad: (before, after) amounts from the last dimension backwards, e.g.
            ``(left, right, top, bottom)`` for the last two dimensions.
        mode: ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. The last
            three pad the last 1, 2 or 3 dimensions of a (C, …) or (N, C, …) input.
        value: the fill value of ``'constant'`` mode (default 0).

    Shape:
        each padded dimension grows from S to S + before + after.

    Example:
        >>> import soma
        >>> pad(soma.tensor([[1., 2., 3.]]), (2, 1), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    if value is not None and mode != "constant":
        raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' does)")
    pairs = _pairs(input, pad, mode)
    lead = input.ndim - len(pairs)
    out = tuple(s + lo + hi for s, (lo, hi) in zip(input.shape[lead:], pairs))
    if any(o < 0 for o in out):
        raise ShapeError(
            f"pad: padding {tuple(pad)} leaves a negative size {out} for input of "
            f"shape {shape_str(input.shape)}"
        )
    if mode == "constant":
        return ConstantPad.apply(input, pads=pairs, value=0 if value is None else value)
    _check_mode_amounts(mode, tuple(input.shape), pairs)
    indices = tuple(_index(mode, n, lo, hi) for n, (lo, hi) in zip(input.shape[lead:], pairs))
    return GatherPad.apply(input, indices=indices)
