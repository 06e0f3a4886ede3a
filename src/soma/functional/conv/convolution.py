"""Convolutions in 1, 2 and 3 spatial dimensions, and their transposes.

As in PyTorch (and in the lectures' neural networks) a "convolution" is a cross-correlation: the
kernel is not flipped,

    y[n, o, p] = b[o] + Σ_{c, t} w[o, c, t] · x[n, g·C/G + c, p·s + t·d − pad]

for output position p, kernel tap t, stride s and dilation d, over the input channels c of
o's group g.

The work is done by one of seven kernel sets, picked per call by ``_kernels``: im2col and BLAS
matrix products over strided views, channels-last (``_im2col.py``) or, for inputs with few
channels, channel-major (``_im2col_narrow.py``); one product per kernel tap over only the
positions where the tap reads the input, for small inputs read mostly as padding
(``_taps.py``); Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions whose products stay large
in 4×4 tiles (``_winograd4.py``), else F(2×2, 3×3) where there are enough channels and tiles
(``_winograd.py``); plain products for 1×1 convolutions (``_pointwise.py``); vectorised tap
loops or per-channel dense maps for depthwise ones (``_depthwise.py``, compiled in
``_depthwise_kernels.py``). Each set provides prepare/forward (y), prepare_grad/grad_input
(∂x) and grad_weight (∂W), and prepare_weight: what forward and grad_input read from the
kernel, made once in the forward pass and kept for the backward one (im2col's weight matrix
and Winograd's transformed kernel, a copy of the whole kernel each; VGG-11's step, one process
alternating with making them twice: 124.8 → 117.1 ms median, 91.6 → 87.4 ms best). A transposed convolution is the adjoint (the input gradient) of a
convolution, so it runs the same kernels in the other order.
"""

from soma.autograd.function import Function
from soma.autograd.memory_format import channels_to_end
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.conv import _depthwise as _depthwise
from soma.functional.conv import _depthwise_kernels as _depthwise_kernels
from soma.functional.conv import _im2col as _im2col
from soma.functional.conv import _im2col_narrow as _im2col_narrow
from soma.functional.conv import _pointwise as _pointwise
from soma.functional.conv import _taps as _taps
from soma.functional.conv import _winograd as _winograd
from soma.functional.conv import _winograd4
from soma.functional.conv._args import (
    check_bias,
    check_dtype_support,
    check_input,
    conv_geometry,
    transpose_geometry,
)
from soma.functional.conv._geometry import same_weight
from soma.functional.linalg import column_sums
from soma.functional.shape import squeeze, unsqueeze

_xp = get_xp()

# Below this many input channels per group, im2col copies faster channel-major.
_NARROW = 16


class _EmptyBatch:
    """Kernels for a batch of zero items: empty outputs, zero weight gradients."""

    @staticmethod
    def prepare(x, g):
        return x

    prepare_grad = prepare
    prepare_weight = staticmethod(same_weight)

    @staticmethod
    def forward(x, w, b, g):
        return _xp.zeros((0, w.shape[0]) + g.out_size, dtype=w.dtype)

    @staticmethod
    def grad_input(q, w, g, n):
        return _xp.zeros((0, w.shape[1] * g.groups) + g.in_size, dtype=w.dtype)

    @staticmethod
    def grad_weight(q, p, g, w_shape):
        return _xp.zeros(w_shape, dtype=q.dtype)


def _kernels(g, in_per_group, batch, dtype=None, out_channels=None):
    """The kernel set for this call: depthwise, pointwise, tap by tap, Winograd or im2col + BLAS
    (or an empty batch). Winograd only for float32 and float64: its transforms' rounding was
    measured there, not in float16."""
    if batch == 0:
        return _EmptyBatch
    if dtype is not None and _xp.dtype(dtype).kind in "iu":  # exact integer products (no BLAS)
        return _im2col
    if in_per_group == 1 and g.groups > 1:
        if _depthwise_kernels.applies(g, dtype):
            if _depthwise_kernels.dense_is_faster(g):
                return _depthwise.Dense
            return _depthwise_kernels.Compiled
        return _depthwise.Dense if _depthwise.use_dense(g) else _depthwise.Taps
    if g.groups == 1 and g.taps == 1 and not g.padded and all(s == 1 for s in g.stride):
        return _pointwise
    if in_per_group < _NARROW:
        return _im2col_narrow
    if out_channels is not None and _taps.worth_it(g, in_per_group, out_channels, batch):
        return _taps
    wide_float = dtype in (_xp.float32, _xp.float64)
    if wide_float and _winograd.applies(g) and _winograd.worth_it(g, batch):
        # among the convolutions Winograd pays for, 4×4 tiles where their products stay large
        if _winograd4.worth_it(g, in_per_group, batch, out_channels):
            return _winograd4
        return _winograd
    return _im2col


def _bias_grad(gy):
    """∂b = Σ gy over the batch and every position. A channels-last gy (as Winograd's and
    im2col's outputs are) is one (positions, O) matrix summed down its columns: NumPy's sum
    over the strided axes took 0.67 ms for (8, 16, 64, 64) float32, ``column_sums`` 0.13."""
    rows = channels_to_end(gy)
    if gy.ndim > 2 and rows.flags.c_contiguous:
        return column_sums(rows.reshape(-1, gy.shape[1]))
    return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))


class ConvNd(Function):
    """y = W ⋆ x + b, cross-correlation over any number of spatial dimensions."""

    _backward_name = "ConvolutionBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, w, b, *, geometry):
        kernels = _kernels(geometry, w.shape[1], x.shape[0], x.dtype, w.shape[0])
        prepared = kernels.prepare(x, geometry)
        weight = kernels.prepare_weight(w, geometry)
        need_x, need_w, _ = ctx.needs_input_grad
        # NOTE: w and x themselves are saved beside their prepared forms: their version
        # counters are what catch an in-place change of the kernel or the input between this
        # pass and the backward one (as PyTorch raises), also where the prepared form is a copy
        ctx.save(
            *((prepared, x) if need_w else (None, None)),
            *((w, weight) if need_x else (None, None)),
        )
        ctx.geometry, ctx.kernels, ctx.n, ctx.w_shape = geometry, kernels, x.shape[0], w.shape
        ctx.kept = _kept_list(kernels, need_w)
        return kernels.forward(prepared, weight, b, geometry, *ctx.kept)

    @staticmethod
    def backward(ctx, gy):
        prepared, _, _, weight = ctx.saved
        g, kernels = ctx.geometry, ctx.kernels
        need_x, need_w, need_b = ctx.needs_input_grad
        q = kernels.prepare_grad(gy, g) if need_x or need_w else None
        # ∂x = Wᵀ ⋆ᵀ gy (a transposed convolution),  ∂W = gy ⋆ x,  ∂b = Σ_{n, p} gy
        gx = kernels.grad_input(q, weight, g, ctx.n) if need_x else None
        gw = kernels.grad_weight(q, prepared, g, ctx.w_shape, *ctx.kept) if need_w else None
        gb = _bias_grad(gy) if need_b else None
        return gx, gw, gb


def _kept_list(kernels, need_w):
    """Arguments for a kernel set that can keep what its forward made of the input for the
    weight gradient (Winograd's V): ``[list]`` to fill, or none."""
    return ([],) if need_w and getattr(kernels, "KEEPS_INPUT_TRANSFORM", False) else ()


class ConvTransposeNd(Function):
    """y = Wᵀ ⋆ᵀ x + b: the adjoint of the convolution described by ``geometry``."""

    @staticmethod
    def forward(ctx, x, w, b, *, geometry):
        kernels = _kernels(geometry, w.shape[1], x.shape[0], x.dtype, w.shape[0])
        q = kernels.prepare_grad(x, geometry)
        weight = kernels.prepare_weight(w, geometry)
        y = kernels.grad_input(q, weight, geometry, x.shape[0])
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save(  # NOTE: x and w for their version counters, as in ConvNd
            *((q, x) if need_w else (None, None)),
            *((w, weight) if need_x else (None, None)),
        )
        ctx.geometry, ctx.kernels, ctx.w_shape = geometry, kernels, w.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        q, _, _, weight = ctx.saved
        g, kernels = ctx.geometry, ctx.kernels
        need_x, need_w, need_b = ctx.needs_input_grad
        # the adjoint of the adjoint is the convolution: ∂x = W ⋆ gy,  ∂W = x ⋆ gy
        prepared = kernels.prepare(gy, g) if need_x or need_w else None
        kept = _kept_list(kernels, need_w and need_x)
        gx = kernels.forward(prepared, weight, None, g, *kept) if need_x else None
        gw = kernels.grad_weight(q, prepared, g, ctx.w_shape, *kept) if need_w else None
        gb = _bias_grad(gy) if need_b else None
        return gx, gw, gb


def _batched(x, nd, run):
    """Run ``run`` on a batched input; an unbatched one gets a batch of one and loses it again."""
    if x.ndim == nd + 1:
        return squeeze(run(unsqueeze(x, 0)), 0)
    return run(x)


def _conv(x, weight, bias, stride, padding, dilation, groups, nd):
    op = f"conv{nd}d"
    check_input(x, weight, nd, op)
    check_bias(bias, weight.shape[0], op)

    def run(xb):
        g = conv_geometry(
            tuple(xb.shape), tuple(weight.shape), stride, padding, dilation, groups, nd, op
        )
        check_dtype_support(xb.dtype, g, op)
        return ConvNd.apply(xb, weight, bias, geometry=g)

    return _batched(x, nd, run)


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    op = f"conv_transpose{nd}d"
    check_input(x, weight, nd, op)

    def run(xb):
        g = transpose_geometry(
            tuple(xb.shape),
            tuple(weight.shape),
            stride,
            padding,
            output_padding,
            groups,
            dilation,
            nd,
            op,
        )
        check_bias(bias, weight.shape[1] * g.groups, op)
        check_dtype_support(xb.dtype, g, op, transposed=True)
        return ConvTransposeNd.apply(xb, weight, bias, geometry=g)

    return _batched(x, nd, run)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation) over a signal of several channels.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias: optional (C_out,).
        stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, ``'valid'`` (none) or ``'same'`` (output as long as the input;
            stride 1 only).
        groups: split the channels into this many independent convolutions.

    Shape:
        (N, C_in, L) → (N, C_out, ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1)

    Example:
        >>> import soma
        >>> x = soma.tensor([[[0., 1, 2, 1, 2, 0, 1, 2, 0]]])
        >>> conv1d(x, soma.tensor([[[-1., 2, -1]]])).tolist()
        [[[0.0, 2.0, -2.0, 3.0, -3.0, 0.0, 3.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) over an image of several channels.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: optional (C_out,).
        stride, dilation: int or (sH, sW).
        padding: int, (pH, pW), ``'valid'`` or ``'same'`` (stride 1 only; an odd total padding
            puts the extra row/column at the bottom/right, as PyTorch does).
        groups: independent convolutions over channel groups (``groups == C_in``: depthwise).

    Shape:
        (N, C_in, H, W) → (N, C_out, H_out, W_out) with
        H_out = ⌊(H + 2·pH − dH·(kH − 1) − 1) / sH⌋ + 1, and likewise W_out.

    Example:
        >>> import soma
        >>> x = soma.ones(1, 1, 4, 4)
        >>> conv2d(x, soma.ones(2, 1, 3, 3), padding=1).shape
        soma.Size([1, 2, 4, 4])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution (cross-correlation) over a volume of several channels.

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_out, C_in / groups, kD, kH, kW).
        bias: optional (C_out,).
        stride, padding, dilation, groups: as in ``conv2d``, with three sizes.

    Shape:
        (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), each as in ``conv2d``.

    Example:
        >>> import soma
        >>> conv3d(soma.ones(1, 2, 3, 4, 5), soma.ones(6, 2, 3, 3, 3)).shape
        soma.Size([1, 6, 1, 2, 3])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """1-D transposed convolution: the adjoint of ``conv1d``, which up-samples by ``stride``.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_in, C_out / groups, k) (note: in_channels first).
        bias: optional (C_out,).
        stride, padding, dilation: those of the convolution this is the transpose of.
        output_padding: extra size on one side of the output (smaller than stride or
            dilation), to pick among the input sizes that convolution maps to the same size.
        groups: independent transposed convolutions over channel groups.

    Shape:
        (N, C_in, L) → (N, C_out, (L − 1)·stride − 2·padding + dilation·(k − 1)
        + output_padding + 1)

    Example:
        >>> import soma
        >>> conv_transpose1d(soma.tensor([[[1., 2.]]]), soma.tensor([[[1., 10., 100.]]]),
        ...                  stride=2).tolist()
        [[[1.0, 10.0, 102.0, 20.0, 200.0]]]
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """2-D transposed convolution (the adjoint of ``conv2d``), e.g. to up-sample feature maps.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: optional (C_out,).
        stride, padding, output_padding, groups, dilation: as in ``conv_transpose1d``.

    Shape:
        (N, C_in, H, W) → (N, C_out, H_out, W_out) with
        H_out = (H − 1)·sH − 2·pH + dH·(kH − 1) + output_padding + 1, and likewise W_out.

    Example:
        >>> import soma
        >>> conv_transpose2d(soma.ones(1, 1, 3, 3), soma.ones(1, 1, 2, 2), stride=2,
        ...                  padding=1).shape
        soma.Size([1, 1, 4, 4])
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """3-D transposed convolution (the adjoint of ``conv3d``).

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_in, C_out / groups, kD, kH, kW).
        bias, stride, padding, output_padding, groups, dilation: as in ``conv_transpose2d``.

    Shape:
        (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), each as in ``conv_transpose2d``.

    Example:
        >>> import soma
        >>> conv_transpose3d(soma.ones(1, 2, 2, 2, 2), soma.ones(2, 3, 2, 2, 2), stride=2).shape
        soma.Size([1, 3, 4, 4, 4])
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 3
    )
