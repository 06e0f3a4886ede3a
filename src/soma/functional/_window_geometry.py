"""Sliding-window geometry shared by convolution (``conv/``) and pooling (``pooling/``).

A window op over ``d`` spatial dimensions is described per dimension by its kernel size ``k``,
stride ``s``, dilation ``dil`` and zero padding (``before``, ``after``). Both families compute
the same things from it: how many windows fit (the output size), and for each kernel offset the
strided slice of the padded input that holds that offset of every window. The kernels combine
one such view per offset instead of copying every window. The family modules keep what is
their own: ``conv/_geometry.py`` the buffers the convolution kernels slide over,
``pooling/_windows.py`` the pooling layouts and padding values.
"""

import itertools

from soma.autograd.errors import ShapeError


def output_length(size, k, s, dil, before, after, ceil_mode=False) -> int:
    """Windows along one dimension: ⌊(size + before + after − dil·(k − 1) − 1) / s⌋ + 1.

    ``ceil_mode`` (pooling) rounds the count up, but the last window must start inside the
    input or the left padding: one starting in the right padding is dropped, as in PyTorch.
    """
    span = size + before + after - dil * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + before:
        out -= 1
    return out


def output_size(in_size, kernel, stride, dilation, pads, ceil_mode=False) -> tuple:
    """``output_length`` per spatial dimension; ``pads`` holds (before, after) pairs."""
    return tuple(
        output_length(n, k, s, dil, lo, hi, ceil_mode)
        for n, k, s, dil, (lo, hi) in zip(in_size, kernel, stride, dilation, pads)
    )


def kernel_offsets(kernel):
    """Each kernel offset as a tuple of per-dimension indices, in row-major order."""
    return itertools.product(*(range(k) for k in kernel))


def offset_slices(kernel, dilation, stride, out_size):
    """For each kernel offset (row-major), the slices of the padded spatial axes that hold
    that offset of every window: start ``i·dil``, step ``s``, ``out`` elements."""
    return [
        tuple(
            slice(i * dil, i * dil + s * (o - 1) + 1, s)
            for i, dil, s, o in zip(offset, dilation, stride, out_size)
        )
        for offset in kernel_offsets(kernel)
    ]


def interior_slices(in_size, before) -> tuple:
    """The slices of the unpadded input inside a padded frame, per spatial axis."""
    return tuple(slice(lo, lo + n) for n, lo in zip(in_size, before))


def check_at_least(op, name, values, minimum=1) -> None:
    """``{op}: {name} must be positive`` (or non-negative, for ``minimum=0``)."""
    if any(v < minimum for v in values):
        bound = "positive" if minimum == 1 else "non-negative"
        raise ShapeError(f"{op}: {name} must be {bound}, got {tuple(values)}")
