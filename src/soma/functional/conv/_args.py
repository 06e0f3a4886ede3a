"""Checking a convolution's arguments and turning them into a ``Geometry``.

Every check names the op and the sizes involved, e.g. ``conv2d: expected input with 3 channels
(in_channels), got 4 channels in input of shape (8, 4, 32, 32)``.
"""

import numbers

from soma.autograd.errors import ShapeError
from soma.functional._utils import ntuple, shape_str
from soma.functional._window_geometry import check_at_least, output_size
from soma.functional.conv._geometry import Geometry

_LAYOUTS = {1: "L", 2: "H, W", 3: "D, H, W"}
_KERNELS = {1: "k", 2: "kH, kW", 3: "kD, kH, kW"}


def check_input(x, weight, nd: int, op: str) -> None:
    """Input rank (batched or unbatched), weight rank, and matching float dtypes."""
    layout = _LAYOUTS[nd]
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(
            f"{op}: expected a {nd + 1}-D unbatched input (C, {layout}) or a {nd + 2}-D batched "
            f"input (N, C, {layout}), got a {x.ndim}-D input of shape {shape_str(x.shape)}"
        )
    if weight.ndim != nd + 2:
        raise ShapeError(
            f"{op}: expected a {nd + 2}-D weight (out_channels, in_channels / groups, "
            f"{_KERNELS[nd]}), "
            f"got a {weight.ndim}-D weight of shape {shape_str(weight.shape)}"
        )
    if x.dtype != weight.dtype or x.dtype.kind not in "fiub":
        raise TypeError(
            f"{op}: input ({x.dtype}) and weight ({weight.dtype}) must have the same floating "
            f"or integer dtype; convert the input (x.to({weight.dtype})) or the model "
            f"(model.to(...))"
        )


def check_dtype_support(dtype, g, op: str, transposed: bool = False) -> None:
    """The dtypes PyTorch convolves on the CPU: floats; int64 in every convolution; int8, int16,
    int32 and uint8 in the plain, undilated one only; no bool. Elsewhere it raises
    NotImplementedError, and so does soma."""
    if dtype.kind == "f" or dtype == "int64":
        return
    if dtype.kind == "b":
        problem = "bool tensors"
    elif transposed or any(d != 1 for d in g.dilation):
        problem = f"{dtype} tensors in a {'transposed' if transposed else 'dilated'} convolution"
    else:
        return
    raise NotImplementedError(
        f"{op}: no convolution of {problem}, as in PyTorch; use int64 or a floating dtype"
    )


def check_bias(bias, channels: int, op: str) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ShapeError(
            f"{op}: expected a bias of shape ({channels},) (one per output channel), got shape "
            f"{shape_str(bias.shape)}"
        )


def check_groups(groups, weight_channels: int, role: str, op: str) -> int:
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise ShapeError(f"{op}: groups must be a positive integer, got {groups!r}")
    if weight_channels % groups:
        raise ShapeError(
            f"{op}: the weight's {weight_channels} {role} channels (dimension 0) are not "
            f"divisible by groups={groups}"
        )
    return int(groups)


def check_channels(x_shape, expected: int, per_group: int, groups: int, name: str, op: str):
    got = x_shape[1]
    if got != expected:
        detail = "" if groups == 1 else f" = {per_group} per group × groups {groups}"
        raise ShapeError(
            f"{op}: expected input with {expected} channels ({name}{detail}), got {got} channels "
            f"in input of shape {shape_str(x_shape)}"
        )


def resolve_padding(padding, kernel, stride, dilation, nd, op) -> tuple:
    """(before, after) per dimension from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ShapeError(
                f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}"
            )
        if any(s != 1 for s in stride):
            raise ShapeError(
                f"{op}: padding='same' is not supported for strided convolutions (stride={stride})"
            )
        # PyTorch's rule: total D·(k − 1), the odd one out goes after (right/bottom)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pads = ntuple(padding, nd, op, "padding")
    check_at_least(op, "padding", pads, 0)
    return tuple((p, p) for p in pads)


def check_fits(in_size, kernel, dilation, pads, op):
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(in_size, pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(sp > p for sp, p in zip(span, padded)):
        dilated = "" if span == tuple(kernel) else f" (spanning {span} with dilation)"
        symmetric = all(lo == hi for lo, hi in pads)
        shown = tuple(lo for lo, _ in pads) if symmetric else tuple(pads)
        raise ShapeError(
            f"{op}: kernel size {tuple(kernel)}{dilated} is larger than the padded input "
            f"{padded} (input {tuple(in_size)} with padding {shown})"
        )


def conv_geometry(x_shape, w_shape, stride, padding, dilation, groups, nd, op) -> Geometry:
    """Validate a convolution's arguments (input shape batched) and describe it."""
    kernel = tuple(w_shape[2:])
    stride = ntuple(stride, nd, op, "stride")
    dilation = ntuple(dilation, nd, op, "dilation")
    check_at_least(op, "stride", stride)
    check_at_least(op, "dilation", dilation)
    groups = check_groups(groups, w_shape[0], "output", op)
    check_channels(x_shape, w_shape[1] * groups, w_shape[1], groups, "in_channels", op)
    pads = resolve_padding(padding, kernel, stride, dilation, nd, op)
    in_size = tuple(x_shape[2:])
    check_fits(in_size, kernel, dilation, pads, op)
    out = output_size(in_size, kernel, stride, dilation, pads)
    return Geometry(kernel, stride, dilation, pads, groups, in_size, out)


def transpose_geometry(
    x_shape, w_shape, stride, padding, output_padding, groups, dilation, nd, op
) -> Geometry:
    """Geometry of the convolution whose adjoint this transposed convolution is.

    The transposed convolution's output is that convolution's input, of size
    (S − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1 per dimension.
    """
    kernel = tuple(w_shape[2:])
    stride = ntuple(stride, nd, op, "stride")
    dilation = ntuple(dilation, nd, op, "dilation")
    if isinstance(padding, str):
        raise ShapeError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    pads = ntuple(padding, nd, op, "padding")
    extra = ntuple(output_padding, nd, op, "output_padding")
    check_at_least(op, "stride", stride)
    check_at_least(op, "dilation", dilation)
    check_at_least(op, "padding", pads, 0)
    check_at_least(op, "output_padding", extra, 0)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise ShapeError(
            f"{op}: output_padding {extra} must be smaller than either stride {stride} or "
            f"dilation {dilation} in each dimension"
        )
    groups = check_groups(groups, w_shape[0], "input", op)
    check_channels(x_shape, w_shape[0], w_shape[0] // groups, groups, "in_channels", op)
    in_size = tuple(x_shape[2:])
    out = tuple(
        (s - 1) * st - 2 * p + d * (k - 1) + e + 1
        for s, st, p, d, k, e in zip(in_size, stride, pads, dilation, kernel, extra)
    )
    if any(o <= 0 for o in out):
        raise ShapeError(
            f"{op}: the output size {out} is not positive (input {in_size}, stride {stride}, "
            f"padding {pads}, dilation {dilation}, kernel {kernel}, output_padding {extra})"
        )
    return Geometry(kernel, stride, dilation, tuple((p, p) for p in pads), groups, out, in_size)
