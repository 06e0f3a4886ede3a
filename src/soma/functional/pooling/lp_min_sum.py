"""Pooling built from max and average pooling: power-average (LP), min and sum pooling.

The lectures list max, min, average and sum pooling. PyTorch has no min or sum pooling layer:
sum pooling is its ``lp_pool`` with ``norm_type=1`` (up to ceil-mode edge windows, which
``lp_pool`` scales as full windows). soma adds ``min_pool*`` (−max_pool(−x)) and ``sum_pool*``
(an average pool without the division) as small documented additions.
"""

from soma.functional._utils import ntuple
from soma.functional.pooling._windows import Windows, check_input
from soma.functional.pooling.max_avg import (
    SumPool,
    _max_pool,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from soma.functional.unary import abs as _abs
from soma.functional.unary import neg

_AVG = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}
_MAX = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}


# ---------------------------------------------------------------------------- LP pooling
def _lp_pool(op, d, x, norm_type, kernel_size, stride, ceil_mode):
    check_input(op, x, d)
    kernel = ntuple(kernel_size, d, op, "kernel_size")
    if norm_type == float("inf"):
        return _MAX[d](_abs(x), kernel, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return neg(_MAX[d](neg(_abs(x)), kernel, stride, 0, 1, ceil_mode))
    size = 1
    for k in kernel:
        size *= k
    # (Σ_window x^p)^(1/p), with the sum written as PyTorch does: the window mean × window size
    mean = _AVG[d](x.pow(norm_type), kernel, stride, 0, ceil_mode)
    return (mean * size).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1D power-average pooling; see ``lp_pool2d``.

    Example:
        >>> import soma
        >>> lp_pool1d(soma.tensor([[[3.0, 4.0]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2D power-average pooling: ``(Σ_window x^p)^(1/p)`` (p = ``norm_type``).

    ``p = 1`` is sum pooling; ``p = ∞`` is max pooling of ``|x|``. No padding.

    Args:
        input: (N, C, H, W) or (C, H, W).
        norm_type: the power p.
        kernel_size, stride, ceil_mode: as in ``max_pool2d``.

    Example:
        >>> import soma
        >>> lp_pool2d(soma.ones(1, 1, 2, 2), 1, 2).flatten().tolist()
        [4.0]
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3D power-average pooling; see ``lp_pool2d``.

    Example:
        >>> import soma
        >>> lp_pool3d(soma.ones(1, 1, 2, 2, 2), 1, 2).flatten().tolist()
        [8.0]
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------------- min pooling
def _min_pool(op, d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    out = _max_pool(
        op, d, neg(x), kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )
    if return_indices:
        return neg(out[0]), out[1]
    return neg(out)


def min_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """1D min pooling (soma's addition): ``−max_pool1d(−x)``; see ``min_pool2d``.

    Example:
        >>> import soma
        >>> min_pool1d(soma.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[1., 0.]]])
    """
    return _min_pool(
        "min_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def min_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2D min pooling (soma's addition, named by the lectures): the smallest value of each window.

    Computed as ``−max_pool2d(−x)``, so the arguments, output size, padding (with +∞ here)
    and tie rule (first minimum wins) are those of ``max_pool2d``.

    Example:
        >>> import soma
        >>> min_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 0.,  2.],
                  [ 8., 10.]]]])
    """
    return _min_pool(
        "min_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def min_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """3D min pooling (soma's addition); see ``min_pool2d``.

    Example:
        >>> import soma
        >>> min_pool3d(soma.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
        [0.0]
    """
    return _min_pool(
        "min_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


# ---------------------------------------------------------------------------- sum pooling
def _sum_pool(op, d, x, kernel_size, stride, padding, ceil_mode):
    check_input(op, x, d)
    win = Windows(op, x.shape[-d:], kernel_size, stride, padding, 1, ceil_mode)
    return SumPool.apply(x, win=win, divisor=1)


def sum_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False):
    """1D sum pooling (soma's addition); see ``sum_pool2d``.

    Example:
        >>> import soma
        >>> sum_pool1d(soma.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[4., 2.]]])
    """
    return _sum_pool("sum_pool1d", 1, input, kernel_size, stride, padding, ceil_mode)


def sum_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False):
    """2D sum pooling (soma's addition, named by the lectures): the sum of each window.

    The same windows as ``avg_pool2d`` (zero padding), without the division: PyTorch's
    ``avg_pool2d(..., divisor_override=1)``, and without padding ``lp_pool2d(x, 1, ...)``.

    Example:
        >>> import soma
        >>> sum_pool2d(soma.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """
    return _sum_pool("sum_pool2d", 2, input, kernel_size, stride, padding, ceil_mode)


def sum_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False):
    """3D sum pooling (soma's addition); see ``sum_pool2d``.

    Example:
        >>> import soma
        >>> sum_pool3d(soma.ones(1, 1, 2, 2, 2), 2).flatten().tolist()
        [8.0]
    """
    return _sum_pool("sum_pool3d", 3, input, kernel_size, stride, padding, ceil_mode)
