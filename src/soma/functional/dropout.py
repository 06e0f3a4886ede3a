"""Dropout: zero random elements (or whole channels) while training, scaling the rest.

Inverted dropout: kept values are multiplied by 1/(1 − p) during training, so that evaluation
is the identity. The mask is drawn from the generator given (or soma's global one) exactly as
PyTorch draws it (``backend/mersenne.py``: a float64 uniform per element, kept when below
1 − p), so the same seed drops the same elements.

Alpha dropout (for SELU networks) sets dropped values to SELU's negative saturation value and
applies an affine correction so that inputs with zero mean and unit variance keep them.
"""

import math
import warnings
from functools import partial

from soma.autograd.function import Function
from soma.autograd.memory_format import differ_in_layout, empty_like
from soma.backend import get_xp
from soma.backend import random as _random

_xp = get_xp()

# SELU's negative saturation value −λα (the value a dropped unit takes in alpha dropout)
_SELU_SATURATION = 1.7580993408473766


def keep_mask(shape, p, generator=None, like=None):
    """A boolean array of ``shape``: True (keep) with probability 1 − p, drawn as PyTorch's
    ``bernoulli_(1 − p)`` draws its mask (one float64 uniform per element), so a seeded script
    drops the same elements.

    PyTorch fills the mask in the memory order of the tensor dropped. Given ``like`` (that
    tensor, when the mask has its shape), a view (a transpose, as attention's and the LSTM's
    batch-first outputs are in both frameworks) is filled in its memory order; anything else in
    row-major order, as PyTorch's contiguous results are (soma's kernels choose their own
    layouts, which PyTorch does not share)."""
    stream = _random.stream(generator)
    draw = partial(stream.bernoulli, p=1.0 - p)
    if like is not None and like.is_view:
        return _random.filled(like.array, draw)
    return _xp.asarray(draw(math.prod(shape)).reshape(shape))


def keep_scale(dtype, p):
    """1/(1 − p) in ``dtype``, as PyTorch's ``noise.div_(1 − p)`` rounds it."""
    return dtype.type(1) / dtype.type(1.0 - p)


class Dropout(Function):
    """y = x · keep / (1 − p), ``keep`` a 0/1 mask (possibly one value per channel)."""

    _backward_name = "MulBackward0"  # PyTorch's node name

    @staticmethod
    def forward(ctx, x, *, keep, scale):
        keep = _in_layout_of(keep, x)
        y = _xp.multiply(x, keep)
        y *= x.dtype.type(scale)
        ctx.save(keep)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, gy):
        (keep,) = ctx.saved
        # dy/dx = keep / (1 − p)
        gx = _xp.multiply(gy, keep)
        gx *= gy.dtype.type(ctx.scale)
        return gx


def _in_layout_of(keep, x):
    """The mask laid out in memory as x is (a copy when x is a channels-last or other
    permuted array: the mask is drawn in row-major order, see ``keep_mask``), so that the
    product keeps x's layout. NumPy gives a product of two layouts C order: a convolution's
    channels-last output came out of dropout row-major, and the pooling and convolution after
    it, and every backward pass before it, then worked across two layouts (the SimpleCNN step
    with its first layer channels-last: ReLU's backward 5.2 → 11.5 ms)."""
    if not differ_in_layout(keep, x):
        return keep
    laid_out = empty_like(x, dtype=keep.dtype)
    laid_out[...] = keep
    return laid_out


class AffineNoise(Function):
    """y = x · coef + shift (alpha dropout's noise, drawn outside)."""

    @staticmethod
    def forward(ctx, x, *, coef, shift):
        ctx.save(coef.astype(x.dtype, copy=False))
        y = x * coef.astype(x.dtype, copy=False)
        y += shift.astype(x.dtype, copy=False)
        return y

    @staticmethod
    def backward(ctx, gy):
        (coef,) = ctx.saved
        return gy * coef


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(x, p, training, mask_shape, generator):
    _check_p(p)
    if not training or p == 0 or x.numel() == 0:
        return x
    if p == 1:
        return x * 0.0
    like = x if tuple(mask_shape) == tuple(x.shape) else None
    keep = keep_mask(mask_shape, p, generator, like)
    return Dropout.apply(x, keep=keep, scale=keep_scale(x.array.dtype, p))


def _inplace(x, y, inplace):
    if inplace and y is not x:
        return x._assign(y)
    return y


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability ``p`` while training; scale the rest by 1/(1 − p).

    Args:
        input: any tensor.
        p: probability of an element being zeroed (0 ≤ p ≤ 1).
        training: apply dropout (else return ``input`` unchanged).
        inplace: write the result into ``input``.
        generator: a ``soma.Generator`` for the mask (soma's addition; default: the global one).

    Example:
        >>> import soma
        >>> y = dropout(soma.ones(1000), 0.5, generator=soma.Generator().manual_seed(0))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    return _inplace(input, _masked(input, p, training, tuple(input.shape), generator), inplace)


def _feature_shape(x):
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _feature(op, x, p, training, inplace, generator, unbatched):
    """Drop whole channels of (N, C, *) input, or of (C, *) input when ``unbatched``."""
    if x.ndim < 2:
        raise ValueError(
            f"{op}: expected an input with a channel dimension, got shape {tuple(x.shape)}"
        )
    if unbatched:
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    else:
        shape = _feature_shape(x)
    return _inplace(x, _masked(x, p, training, shape, generator), inplace)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``; see ``dropout``.

    Example:
        >>> import soma
        >>> y = dropout1d(soma.ones(1, 6, 3), 0.5, generator=soma.Generator().manual_seed(1))
        >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())
        True
    """
    if input.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected a 2D (C, L) or 3D (N, C, L) input, got shape "
            f"{tuple(input.shape)}"
        )
    return _feature("dropout1d", input, p, training, inplace, generator, input.ndim == 2)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels (feature maps) of (N, C, H, W) input with probability ``p``.

    As in PyTorch, 3D input is treated as (N, C, L) with a warning (channel-wise 1D dropout), and
    other ranks are accepted with a deprecation warning, masking dimensions 0 and 1.

    Example:
        >>> import soma
        >>> y = dropout2d(soma.ones(2, 4, 3, 3), 0.5, generator=soma.Generator().manual_seed(1))
        >>> bool(((y == 0).all((2, 3)) | (y == 2).all((2, 3))).all())
        True
    """
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: received a {input.ndim}-D input; dropout2d expects 4D "
            f"(N, C, H, W) input; use dropout for element-wise masks",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3D input and assuming channel-wise 1D dropout "
            "(input as (N, C, L)); use dropout1d for that, or pass 4D input",
            stacklevel=2,
        )
    return _feature("dropout2d", input, p, training, inplace, generator, False)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Other ranks are accepted with a deprecation warning, as in PyTorch (treated as unbatched).

    Example:
        >>> import soma
        >>> y = dropout3d(soma.ones(2, 4, 2, 2, 2), 0.5, generator=soma.Generator().manual_seed(1))
        >>> bool(((y == 0).all((2, 3, 4)) | (y == 2).all((2, 3, 4))).all())
        True
    """
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: received a {input.ndim}-D input; dropout3d expects 5D "
            f"(N, C, D, H, W) or 4D (C, D, H, W) input",
            stacklevel=2,
        )
    return _feature("dropout3d", input, p, training, inplace, generator, input.ndim != 5)


def _alpha(x, p, training, mask_shape, generator):
    _check_p(p)
    if not training or p == 0 or x.numel() == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = keep_mask(mask_shape, p, generator, x if tuple(mask_shape) == tuple(x.shape) else None)
    a = 1.0 / math.sqrt((_SELU_SATURATION**2 * p + 1) * (1 - p))
    # kept: a·x + a·s·p;  dropped: a·(−s) + a·s·p   (s = SELU's saturation magnitude)
    coef = keep * a
    shift = (keep - 1.0) * (_SELU_SATURATION * a) + _SELU_SATURATION * a * p
    return AffineNoise.apply(x, coef=coef, shift=shift)


def alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Dropout for SELU networks: keeps zero mean and unit variance of its input.

    Dropped values are set to SELU's negative saturation value (−1.7581), then everything is
    transformed by ``a·x + b`` chosen so that the mean and variance are preserved. Note the
    default ``training=False``, as in PyTorch.

    Example:
        >>> import soma
        >>> x = soma.randn(100000, generator=soma.Generator().manual_seed(0))
        >>> y = alpha_dropout(x, 0.2, training=True, generator=soma.Generator().manual_seed(1))
        >>> abs(float(y.mean())) < 0.02, abs(float(y.std()) - 1) < 0.02
        (True, True)
    """
    return _inplace(input, _alpha(input, p, training, tuple(input.shape), generator), inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Alpha dropout of whole channels of (N, C, *) input; see ``alpha_dropout``.

    Example:
        >>> import soma
        >>> y = feature_alpha_dropout(soma.zeros(2, 8, 4), 0.5, training=True)
        >>> bool((y == y[:, :, :1]).all())
        True
    """
    shape = _feature_shape(input)
    return _inplace(input, _alpha(input, p, training, shape, generator), inplace)
