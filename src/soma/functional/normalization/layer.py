"""Layer, group and instance normalization (one fused kernel), and local response normalization.

All three normalise *rows* of a view of the input with their own mean and biased variance, then
apply a per-element (layer norm) or per-channel (group, instance norm) scale and shift:

* layer norm: rows = everything before ``normalized_shape``;
* group norm: rows = (sample, group of channels);
* instance norm: rows = (sample, channel).

The backward pass is the closed form per row of S values (g = dL/dx̂ = dL/dy · γ)::

    dL/dx = (g − Σ g / S − x̂ · Σ g·x̂ / S) / σ
"""

import math

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional.normalization import _group_kernels
from soma.functional.normalization.batch import BatchNormEval, normalized_nothing

_xp = get_xp()


class RowNorm(Function):
    """y = (x − mean_row) / √(var_row + ε), then · w + b broadcast as ``wshape`` over ``view``."""

    _backward_name = "NativeLayerNormBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, w, b, *, rows, view, wshape, spec, eps, on_stats=None):
        xr = x.reshape(rows)
        t = x.dtype.type
        mean = xr.sum(axis=1, keepdims=True) / t(rows[1])
        xhat = xr - mean
        var = _xp.einsum("rs,rs->r", xhat, xhat)[:, None] / t(rows[1])
        invstd = 1.0 / _xp.sqrt(var + t(eps))
        xhat *= invstd
        if on_stats is not None:
            on_stats(mean[:, 0], var[:, 0], rows[1])
        ctx.save(xhat, invstd, w)
        ctx.b_shape = None if b is None else b.shape
        ctx.view, ctx.wshape, ctx.spec = view, wshape, spec
        y = xhat.reshape(view)
        if w is not None:
            y = y * w.reshape(wshape)
            if b is not None:
                y += b.reshape(wshape)
        elif b is not None:
            y = y + b.reshape(wshape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xhat, invstd, w = ctx.saved
        g = gy.reshape(ctx.view)
        need_x, need_w, need_b = ctx.needs_input_grad
        gw = gb = None
        if need_w:
            gw = _xp.einsum(ctx.spec, g, xhat.reshape(ctx.view)).reshape(w.shape)
        if need_b:
            gb = g.sum(axis=(0,) if len(ctx.view) == 2 else (0, 2)).reshape(ctx.b_shape)
        if not need_x:
            return None, gw, gb
        gh = (g if w is None else g * w.reshape(ctx.wshape)).reshape(xhat.shape)
        t = gy.dtype.type
        mean_g = gh.sum(axis=1, keepdims=True) / t(xhat.shape[1])
        mean_gx = _xp.einsum("rs,rs->r", gh, xhat)[:, None] / t(xhat.shape[1])
        # dL/dx = (g − mean(g) − x̂·mean(g·x̂)) / σ
        gx = xhat * -mean_gx
        gx += gh
        gx -= mean_g
        gx *= invstd
        return gx.reshape(gy.shape), gw, gb


def _check_param(op, name, t, shape):
    if t is not None and tuple(t.shape) != tuple(shape):
        raise ShapeError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(t.shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last dimensions (each sample separately), then scale and shift.

    Args:
        input: (*, *normalized_shape) tensor.
        normalized_shape: the trailing shape the statistics are taken over (int or tuple).
        weight, bias: optional tensors of ``normalized_shape`` (element-wise γ and β).
        eps: added to the variance.

    Example:
        >>> import soma
        >>> layer_norm(soma.tensor([[1.0, 3.0], [5.0, 5.0]]), (2,))
        tensor([[-1.0000,  1.0000],
                [ 0.0000,  0.0000]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape) :]) != shape or len(shape) > input.ndim:
        raise ShapeError(
            f"layer_norm: input of shape {tuple(input.shape)} does not end with "
            f"normalized_shape {shape}"
        )
    _check_param("layer_norm", "weight", weight, shape)
    _check_param("layer_norm", "bias", bias, shape)
    s = math.prod(shape)
    rows = (input.numel() // s if s else 0, s)
    return RowNorm.apply(
        input, weight, bias, rows=rows, view=rows, wshape=(s,), spec="rs,rs->s", eps=eps
    )


class GroupNormKernels(Function):
    """GroupNorm on the compiled kernels of ``_group_kernels`` (same formulas as ``RowNorm``):
    channels-last rows, or the planes of NCHW and channel-major memory; the output and the
    input gradient keep the input's layout."""

    _backward_name = "NativeGroupNormBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, w, b, *, groups, eps):
        ctx.layout = _group_kernels.planes_layout(x)
        if ctx.layout is None:
            y, xhat, invstd = _group_kernels.forward(x, w, b, groups, eps)
        else:
            y, xhat, invstd = _group_kernels.forward_planes(x, w, b, groups, eps)
        ctx.save(xhat, invstd, w)
        return y

    @staticmethod
    def backward(ctx, gy):
        xhat, invstd, w = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.layout is None:
            gx, gw, gb = _group_kernels.backward(gy, xhat, w, invstd)
        else:
            cm = ctx.layout == "cm"
            gx, gw, gb = _group_kernels.backward_planes(gy, xhat, w, invstd, cm)
        return gx if need_x else None, gw if need_w else None, gb if need_b else None


def _grouped(op, x, groups, weight, bias, eps, on_stats=None):
    n, c = x.shape[:2]
    _check_param(op, "weight", weight, (c,))
    _check_param(op, "bias", bias, (c,))
    if on_stats is None and (
        _group_kernels.applies(x.array) or _group_kernels.planes_layout(x.array)
    ):
        return GroupNormKernels.apply(x, weight, bias, groups=groups, eps=eps)
    per_group = x.numel() // (n * groups) if n * groups else 0
    return RowNorm.apply(
        x,
        weight,
        bias,
        rows=(n * groups, per_group),
        view=(n, c, x.numel() // (n * c) if n * c else 0),
        wshape=(c, 1),
        spec="ncl,ncl->c",
        eps=eps,
        on_stats=on_stats,
    )


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of channels of each sample, then scale and shift per channel.

    Args:
        input: (N, C, *) tensor; C must be divisible by ``num_groups``.
        num_groups: number of channel groups (1: layer norm over (C, *); C: instance norm).
        weight, bias: optional (C,) tensors.
        eps: added to the variance.

    Example:
        >>> import soma
        >>> group_norm(soma.tensor([[[1.0], [3.0], [0.0], [4.0]]]), 2, eps=0.0).flatten().tolist()
        [-1.0, 1.0, -1.0, 1.0]
    """
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ShapeError(
            f"group_norm: expected input of shape (N, C, *) with C divisible by "
            f"num_groups={num_groups}, got {tuple(input.shape)}"
        )
    return _grouped("group_norm", input, num_groups, weight, bias, eps)


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Normalise each channel of each sample over its spatial positions.

    Args:
        input: (N, C, *) tensor.
        running_mean, running_var: optional (C,) statistics; updated in place (averaged over
            the batch, variance unbiased) when ``use_input_stats``, else used to normalise.
        weight, bias: optional (C,) tensors.
        use_input_stats: normalise with each instance's own statistics.
        momentum, eps: as in ``batch_norm``.

    Example:
        >>> import soma
        >>> instance_norm(soma.tensor([[[1.0, 3.0], [0.0, 4.0]]]), eps=0.0)
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    if input.ndim < 3:
        raise ShapeError(
            f"instance_norm: expected input of shape (N, C, *spatial), got {tuple(input.shape)}"
        )
    if input.numel() == 0:  # NOTE: PyTorch turns running statistics to NaN here; kept as is
        return normalized_nothing(input, weight, bias)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ShapeError(
                "instance_norm: running statistics are needed without use_input_stats"
            )
        return BatchNormEval.apply(
            input, weight, bias, mean=running_mean.array, var=running_var.array, eps=eps
        )
    if input.numel() // max(1, input.shape[0] * input.shape[1]) <= 1:
        raise ShapeError(
            f"Expected more than 1 spatial element when training, got input size "
            f"{list(input.shape)}"
        )
    on_stats = None
    if running_mean is not None or running_var is not None:
        on_stats = _running_updater(running_mean, running_var, momentum, input.shape[:2])
    return _grouped("instance_norm", input, input.shape[1], weight, bias, eps, on_stats)


def _running_updater(running_mean, running_var, momentum, nc):
    def update(mean, var, count):
        # the batch's contribution: per-instance statistics averaged over the samples
        if running_mean is not None:
            a = running_mean.array
            a *= 1 - momentum
            a += momentum * mean.reshape(nc).mean(axis=0).astype(a.dtype)
        if running_var is not None:
            a = running_var.array
            a *= 1 - momentum
            unbiased = var.reshape(nc).mean(axis=0) * (count / max(count - 1, 1))
            a += momentum * unbiased.astype(a.dtype)

    return update
