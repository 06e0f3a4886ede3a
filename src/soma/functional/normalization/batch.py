"""Batch normalization with fused forward and backward kernels.

Training: each channel is normalised with the mean and *biased* variance of the batch (over the
batch and every spatial position), then scaled and shifted: ``y = (x − μ)/√(σ² + ε)·γ + β``.
The running statistics are updated in place with the *unbiased* variance:
``running = (1 − momentum)·running + momentum·batch``. Evaluation uses the running statistics.

The backward pass is the closed form (M values per channel, x̂ the normalised input)::

    dL/dβ = Σ g        dL/dγ = Σ g·x̂        dL/dx = γ/σ · (g − Σ g / M − x̂ · Σ g·x̂ / M)

computed in three passes over the data instead of a graph of a dozen small ops. The
elementwise passes (``x·scale + shift``, ``g·k1 + x·k2 + k3``) run on blocks of samples across
soma's threads (``backend.parallel``); the per-channel sums stay single calls.

With Numba (``backend.compiled``), channels-last and contiguous NCHW inputs take the compiled
kernels of ``_batch_kernels.py`` instead: one pass for the statistics, one for y, two for the
gradients, the output in the input's memory layout.
"""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function
from soma.backend import compiled, get_xp, parallel
from soma.functional.normalization import _batch_kernels as _fast

_xp = get_xp()


def channel_view(x):
    """(x as (N, C) or (N, C, L) for reductions, the per-channel broadcast shape, einsum spec)."""
    if x.ndim == 2:
        return x, (x.shape[1],), "nc,nc->c"
    n, c = x.shape[:2]
    return x.reshape(n, c, -1), (c,) + (1,) * (x.ndim - 2), "ncl,ncl->c"


def _sums(g3, other3, spec):
    """Per channel: Σ g and Σ g·other (both given in their reduction view).

    NOTE: one call each, not blocks of channels on soma's threads: NumPy sums a block of one
    channel in another order than the same channel inside the whole array (measured), so the
    split would change the last bits.
    """
    axes = (0,) if g3.ndim == 2 else (0, 2)
    return g3.sum(axis=axes), _xp.einsum(spec, g3, other3)


def _batch_stats(x3, spec, m):
    """Per-channel mean and biased variance of x viewed as (N, C[, L]).

    One pass for Σx and one for Σx² (var = E[x²] − mean²) when that is accurate, i.e. when
    the mean is not large against the spread; otherwise the two-pass Σ(x − mean)², and the
    centred x − mean is returned too (else None).
    """
    t = x3.dtype.type
    mean = x3.sum(axis=(0,) if x3.ndim == 2 else (0, 2)) / t(m)
    sq = _xp.einsum(spec, x3, x3) / t(m)
    mean2 = mean * mean
    var = sq - mean2
    # NOTE: E[x²] − mean² loses about log10(E[x²]/var) digits: with |mean| ≤ 2·std at most
    # 0.7 of float32's 7; larger means take the two-pass route (one more pass over x)
    if _xp.all(mean2 <= 4 * var):
        return mean, var, None
    xc = x3 - mean.reshape(mean.shape + (1,) * (x3.ndim - 2))
    return mean, _xp.einsum(spec, xc, xc) / t(m), xc


class BatchNormTrain(Function):
    """y = (x − mean_batch) / √(var_batch + ε) · w + b, per channel."""

    _backward_name = "NativeBatchNormBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, w, b, *, eps, running):
        ctx.kind = _fast.layout(x) if compiled.enabled() else None
        if ctx.kind is not None:
            return _train_compiled(ctx, x, w, b, eps, running)
        x3, bshape, spec = channel_view(x)
        m = x3.size // x3.shape[1]
        mean, var, xc = _batch_stats(x3, spec, m)
        if running is not None:
            _update_running(running, mean, var, m)
        if xc is not None:  # large mean: work with the centred values from here on
            x, mean = xc.reshape(x.shape), _xp.zeros_like(mean)
        invstd = 1.0 / _xp.sqrt(var + x.dtype.type(eps))
        scale = invstd if w is None else invstd * w
        shift = -mean * scale if b is None else b - mean * scale
        y = _scale_shift(x, scale.reshape(bshape), shift.reshape(bshape))
        ctx.save(x, mean, invstd, w)
        ctx.bshape, ctx.spec = bshape, spec
        return y

    @staticmethod
    def backward(ctx, gy):
        if ctx.kind is not None:
            return _train_compiled_backward(ctx, gy)
        x, mean, invstd, w = ctx.saved
        bshape = ctx.bshape
        x3, _, spec = channel_view(x)
        m = x.size // x.shape[1]
        sum_g, sum_gx = _sums(gy.reshape(x3.shape), x3, spec)
        sum_gxc = sum_gx - mean * sum_g  # Σ g·(x − mean)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = None
        if need_x:
            k1 = invstd if w is None else invstd * w
            # dL/dx = k1·(g − Σg/M − x̂·Σg·x̂/M),  x̂ = (x − mean)·invstd:
            #       = k1·g + k2·x + k3
            k2 = -k1 * invstd * invstd * sum_gxc / m
            k3 = -k1 * sum_g / m - k2 * mean
            gx = _xp.empty(gy.shape, _xp.result_type(gy, k1))
            parallel.elementwise(
                _grad_input,
                gy,
                x,
                k1.reshape(bshape),
                k2.reshape(bshape),
                k3.reshape(bshape),
                out=gx,
                work=2,
            )
        gw = sum_gxc * invstd if need_w else None
        return gx, gw, sum_g if need_b else None


def _train_compiled(ctx, x, w, b, eps, running):
    """The training forward on the compiled kernels (statistics in float64)."""
    kind = ctx.kind
    xv = _fast.view(x, kind)
    mean, var = _fast.stats(kind, xv)
    if running is not None:
        _update_running(running, mean, var, xv.size // xv.shape[1])
    invstd = 1.0 / _xp.sqrt(var + eps)
    scale = invstd if w is None else invstd * w
    bias = _xp.zeros_like(mean) if b is None else b
    ctx.save(x, mean, invstd, w)
    return _fast.affine(kind, xv, mean, scale, bias, x.shape)


def _train_compiled_backward(ctx, gy):
    """dL/dx, dL/dγ, dL/dβ on the compiled kernels (the sums in float64)."""
    x, mean, invstd, w = ctx.saved
    kind = ctx.kind
    xv, gv = _fast.view(x, kind), _fast.view(gy.astype(x.dtype, copy=False), kind)
    m = xv.size // xv.shape[1]
    sum_g, sum_gxc = _fast.grad_sums(kind, gv, xv, mean)
    need_x, need_w, need_b = ctx.needs_input_grad
    gx = None
    if need_x:
        k = invstd if w is None else invstd * w
        a = -k * invstd * invstd * sum_gxc / m
        gx = _fast.grad_input(kind, gv, xv, mean, k, a, -k * sum_g / m, x.shape)
    gw = (sum_gxc * invstd).astype(w.dtype) if need_w else None
    gb = sum_g.astype(w.dtype if w is not None else x.dtype) if need_b else None
    return gx, gw, gb


def _scale_shift(x, scale, shift):
    """x·scale + shift (per-channel scale and shift in their broadcast shape), in blocks."""
    y = _xp.empty(x.shape, _xp.result_type(x, scale))
    return parallel.elementwise(_multiply_add, x, scale, shift, out=y, work=2)


def _multiply_add(x, scale, shift, out):
    _xp.multiply(x, scale, out=out)
    return _xp.add(out, shift, out=out)


def _grad_input(gy, x, k1, k2, k3, out):
    """out ← gy·k1 + x·k2 + k3 (the closed-form dL/dx)."""
    _xp.multiply(gy, k1, out=out)
    out += x * k2
    return _xp.add(out, k3, out=out)


def _update_running(running, mean, var, m):
    """In place: running ← (1 − momentum)·running + momentum·batch (unbiased variance)."""
    running_mean, running_var, momentum = running
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mean.astype(running_mean.dtype)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += (momentum * m / max(m - 1, 1)) * var.astype(running_var.dtype)


class BatchNormEval(Function):
    """y = (x − running_mean) / √(running_var + ε) · w + b = x·scale + shift."""

    _backward_name = "NativeBatchNormBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, w, b, *, mean, var, eps):
        _, bshape, spec = channel_view(x)
        invstd = (1.0 / _xp.sqrt(var + eps)).astype(x.dtype)
        scale = invstd if w is None else invstd * w
        ctx.kind = kind = _fast.layout(x) if compiled.enabled() else None
        if kind is not None:  # one compiled pass, in x's memory layout
            bias = _xp.zeros_like(scale) if b is None else b
            y = _fast.affine(kind, _fast.view(x, kind), mean, scale, bias, x.shape)
            ctx.save(x, invstd, w, mean.astype(x.dtype))
            ctx.bshape, ctx.spec = bshape, spec
            return y
        shift = -mean.astype(x.dtype) * scale
        if b is not None:
            shift = shift + b
        y = _scale_shift(x, scale.reshape(bshape), shift.reshape(bshape))
        ctx.save(x, invstd, w, mean.astype(x.dtype))
        ctx.bshape, ctx.spec = bshape, spec
        return y

    @staticmethod
    def backward(ctx, gy):
        if ctx.kind is not None:
            return _eval_compiled_backward(ctx, gy)
        x, invstd, w, mean = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = None
        if need_x:
            # dL/dx = g·w/σ (the statistics are constants)
            k = invstd if w is None else invstd * w
            gx = gy * k.reshape(ctx.bshape)
        if not (need_w or need_b):
            return gx, None, None
        x3 = channel_view(x)[0]
        sum_g, sum_gx = _sums(gy.reshape(x3.shape), x3, ctx.spec)
        # dL/dw = Σ g·x̂ = (Σ g·x − mean·Σ g)/σ
        gw = (sum_gx - mean * sum_g) * invstd if need_w else None
        return gx, gw, sum_g if need_b else None


def _eval_compiled_backward(ctx, gy):
    """dL/dx = g·γ·invstd, dL/dγ = invstd·Σ g·(x − mean), dL/dβ = Σ g, on the kernels."""
    x, invstd, w, mean = ctx.saved
    kind = ctx.kind
    need_x, need_w, need_b = ctx.needs_input_grad
    xv, gv = _fast.view(x, kind), _fast.view(gy.astype(x.dtype, copy=False), kind)
    gx = None
    if need_x:
        k = invstd if w is None else invstd * w
        zero = _xp.zeros_like(k)
        gx = _fast.grad_input(kind, gv, xv, zero, k, zero, zero, x.shape)
    if not (need_w or need_b):
        return gx, None, None
    sum_g, sum_gxc = _fast.grad_sums(kind, gv, xv, mean.astype(_xp.float64))
    gw = (sum_gxc * invstd).astype(w.dtype) if need_w else None
    gb = sum_g.astype(w.dtype if w is not None else x.dtype) if need_b else None
    return gx, gw, gb


def _check_channels(op, x, arrays):
    c = x.shape[1] if x.ndim > 1 else None
    for name, t in arrays:
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise ShapeError(
                f"{op}: {name} has shape {tuple(t.shape)} but the input of shape "
                f"{tuple(x.shape)} has {c} channels (dimension 1)"
            )


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    """Normalise each channel over the batch (and spatial positions), then scale and shift.

    Args:
        input: (N, C) or (N, C, *) tensor.
        running_mean, running_var: (C,) tensors or None. With ``training`` they are updated in
            place (variance unbiased); otherwise they are the statistics used.
        weight, bias: optional (C,) scale γ and shift β.
        training: use (and track) the batch statistics; else the running ones.
        momentum: weight of the new batch in the running update.
        eps: added to the variance for stability.

    Shape:
        input (N, C, *) → output of the same shape.

    Example:
        >>> import soma
        >>> x = soma.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> batch_norm(x, None, None, training=True, eps=0.0)
        tensor([[-1., -1.],
                [ 1.,  1.]])
    """
    if input.ndim < 2:
        raise ShapeError(
            f"batch_norm: expected input of shape (N, C, *), got {tuple(input.shape)}"
        )
    _check_channels(
        "batch_norm",
        input,
        [
            ("running_mean", running_mean),
            ("running_var", running_var),
            ("weight", weight),
            ("bias", bias),
        ],
    )
    if input.numel() == 0:
        return normalized_nothing(input, weight, bias)
    if training:
        if input.numel() // input.shape[1] <= 1:
            raise ShapeError(
                f"Expected more than 1 value per channel when training, got input "
                f"size {list(input.shape)}"
            )
        running = None
        if running_mean is not None or running_var is not None:
            running = (_array(running_mean), _array(running_var), momentum)
        return BatchNormTrain.apply(input, weight, bias, eps=eps, running=running)
    if running_mean is None or running_var is None:
        raise ShapeError("batch_norm: running_mean and running_var are needed when not training")
    return BatchNormEval.apply(
        input, weight, bias, mean=_array(running_mean), var=_array(running_var), eps=eps
    )


def _array(t):
    return None if t is None else t.array


def normalized_nothing(input, weight, bias):
    """Normalisation of an empty batch, as PyTorch: an empty output, the running statistics
    untouched, still joined to input, weight and bias in the graph (their gradients are 0)."""
    channels = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    y = input * 0.0
    if weight is not None:
        y = y * weight.reshape(channels)
    if bias is not None:
        y = y + bias.reshape(channels)
    return y
