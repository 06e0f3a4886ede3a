"""Max unpooling: the partial inverse of max pooling (maxima back in place, zeros elsewhere)."""

import math

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional._utils import ntuple
from soma.functional.pooling._windows import check_input

_xp = get_xp()


class MaxUnpool(Function):
    """y[plane, idx] = x; every other element of y is 0."""

    @staticmethod
    def forward(ctx, x, idx, *, out_shape, d, op):
        rows = math.prod(x.shape[: x.ndim - d])
        plane = math.prod(out_shape[len(out_shape) - d :])
        flat_idx = idx.reshape(rows, math.prod(x.shape[x.ndim - d :]))
        if flat_idx.size and (flat_idx.min() < 0 or flat_idx.max() >= plane):
            bad = int(flat_idx.min()) if flat_idx.min() < 0 else int(flat_idx.max())
            size = "x".join(str(s) for s in out_shape[len(out_shape) - d :])
            raise ValueError(
                f"{op}: found an invalid max index {bad} (output planes are of size {size})"
            )
        y = _xp.zeros((rows, plane), dtype=x.dtype)
        _xp.put_along_axis(y, flat_idx, x.reshape(flat_idx.shape), axis=1)
        ctx.save(flat_idx)
        ctx.x_shape = x.shape
        return y.reshape(out_shape)

    @staticmethod
    def backward(ctx, gy):
        (flat_idx,) = ctx.saved
        # dL/dx = dL/dy read back at the positions x was written to
        gx = _xp.take_along_axis(gy.reshape(flat_idx.shape[0], -1), flat_idx, axis=1)
        return gx.reshape(ctx.x_shape), None


def _output_size(op, x, d, kernel, stride, padding, output_size):
    default = [
        (n - 1) * s + k - 2 * p
        for n, k, s, p in zip(x.shape[x.ndim - d :], kernel, stride, padding)
    ]
    if output_size is None:
        return tuple(default)
    output_size = tuple(int(s) for s in output_size)
    if len(output_size) == d + 2 or (len(output_size) == d + 1 and x.ndim == d + 1):
        output_size = output_size[len(output_size) - d :]
    if len(output_size) != d:
        raise ValueError(f"{op}: output_size must have {d} or {d + 2} elements, got {output_size}")
    for i, (size, base, s) in enumerate(zip(output_size, default, stride)):
        if not base - s < size < base + s:
            raise ValueError(
                f"{op}: invalid output_size {output_size}: dimension {i} must be "
                f"between {base - s} and {base + s} (exclusive)"
            )
    return output_size


def _max_unpool(op, d, x, indices, kernel_size, stride, padding, output_size):
    check_input(op, x, d)
    if tuple(indices.shape) != tuple(x.shape):
        raise ValueError(
            f"{op}: indices of shape {tuple(indices.shape)} do not match the input "
            f"of shape {tuple(x.shape)}"
        )
    kernel = ntuple(kernel_size, d, op, "kernel_size")
    stride = ntuple(kernel if stride is None else stride, d, op, "stride")
    padding = ntuple(padding, d, op, "padding")
    size = _output_size(op, x, d, kernel, stride, padding, output_size)
    out_shape = tuple(x.shape[: x.ndim - d]) + tuple(size)
    return MaxUnpool.apply(x, indices, out_shape=out_shape, d=d, op=op)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """1D max unpooling; see ``max_unpool2d``.

    Example:
        >>> import soma
        >>> from soma.functional.pooling.max_avg import max_pool1d
        >>> y, i = max_pool1d(soma.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2, return_indices=True)
        >>> max_unpool1d(y, i, 2)
        tensor([[[0., 3., 2., 0.]]])
    """
    return _max_unpool(
        "max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size
    )


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back at the position ``max_pool2d(..., return_indices=True)`` took it from.

    Every other output element is zero.

    Args:
        input: the pooled values, (N, C, H, W) or (C, H, W).
        indices: their flat indices in the output's H_out·W_out planes (same shape as input).
        kernel_size, stride, padding: those of the max pooling being undone.
        output_size: the size to produce (default ``(H − 1)·stride − 2·padding + kernel``);
            needed when the pooled input had sizes the pooling rounded down.

    Example:
        >>> import soma
        >>> from soma.functional.pooling.max_avg import max_pool2d
        >>> y, i = max_pool2d(soma.arange(4.0).reshape(1, 1, 2, 2), 2, return_indices=True)
        >>> max_unpool2d(y, i, 2)
        tensor([[[[0., 0.],
                  [0., 3.]]]])
    """
    return _max_unpool(
        "max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size
    )


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """3D max unpooling; see ``max_unpool2d``.

    Example:
        >>> import soma
        >>> from soma.functional.pooling.max_avg import max_pool3d
        >>> y, i = max_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 2, return_indices=True)
        >>> max_unpool3d(y, i, 2).flatten().tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    """
    return _max_unpool(
        "max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size
    )
