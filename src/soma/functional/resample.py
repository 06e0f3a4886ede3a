"""Resampling: ``interpolate`` (nearest, linear family, bicubic, area) and pixel (un)shuffle.

Interpolation is separable: along each spatial dimension, output position ``i`` reads a few input
positions with fixed weights, i.e. it multiplies by an (out × in) matrix. The linear and cubic
modes apply one such small matrix per dimension (two matrix products for an image), forward and,
transposed, backward. Nearest modes gather rows (``take``) forward and use the transposed 0/1
matrix backward, or a reshape and a sum when the factor is an integer.

Source positions follow PyTorch exactly, including its float32 arithmetic for float32 inputs:

* ``nearest`` (legacy): ``⌊i · in/out⌋`` (or ``⌊i / scale_factor⌋``), clamped to in − 1;
* ``nearest-exact``: ``⌊(i + ½) · in/out⌋``;
* linear family: ``(i + ½) · in/out − ½`` (clamped at 0), or ``i · (in − 1)/(out − 1)`` with
  ``align_corners=True``.

NOTE: the backward pass is the exact gradient of the forward pass. PyTorch's differs in corner
cases where a ``scale_factor`` disagrees with the rounded size: its legacy-nearest backward
always uses the ×1/×2 shortcuts above (its 1D/3D forward does not), and its bicubic backward
copies when the sizes are equal (its forward does not).
"""

import math

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function, named
from soma.backend import get_xp
from soma.functional.pooling.adaptive import Separable, _adaptive_avg, along

_xp = get_xp()

_MODE_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}


# ---------------------------------------------------------------------------- source positions
def _scale(n_in, n_out, scale_factor, align_corners, dtype):
    """PyTorch's area_pixel_compute_scale: distance in the input between adjacent outputs."""
    t = dtype.type
    if align_corners:
        return t(n_in - 1) / t(n_out - 1) if n_out > 1 else t(0)
    if scale_factor is not None and scale_factor > 0:
        return t(1.0 / scale_factor)
    return t(n_in) / t(n_out)


def nearest_index(n_in, n_out, scale_factor, exact=False, shortcuts=False):
    """Input position read by each output position in the nearest modes.

    ``shortcuts``: PyTorch's 2D legacy-nearest kernel copies when the sizes are equal and
    halves the index when the output is twice the input, whatever the scale factor.
    """
    if shortcuts and n_out in (n_in, 2 * n_in):
        return _xp.arange(n_out) // (n_out // n_in)
    dtype = _xp.dtype(_xp.float32)
    scale = _scale(n_in, n_out, scale_factor, False, dtype)
    if exact:  # (i + ½)·scale is computed in double, then rounded to float
        src = ((_xp.arange(n_out) + 0.5) * float(scale)).astype(_xp.float32)
    else:
        src = _xp.arange(n_out, dtype=_xp.float32) * scale
    return _xp.minimum(_xp.floor(src).astype(_xp.int64), n_in - 1)


def linear_matrix(n_in, n_out, scale_factor, align_corners, dtype):
    """The (out × in) matrix of linear interpolation along one dimension."""
    scale = _scale(n_in, n_out, scale_factor, align_corners, dtype)
    dst = _xp.arange(n_out, dtype=dtype)
    if align_corners:
        src = dst * scale
    else:
        src = _xp.maximum((dst + dtype.type(0.5)) * scale - dtype.type(0.5), dtype.type(0))
    i0 = _xp.minimum(_xp.floor(src).astype(_xp.int64), n_in - 1)
    lam = _xp.clip(src - i0, 0, 1)
    i1 = _xp.minimum(i0 + 1, n_in - 1)
    a = _xp.zeros((n_out, n_in), dtype=dtype)
    rows = _xp.arange(n_out)
    _xp.add.at(a, (rows, i0), 1 - lam)
    _xp.add.at(a, (rows, i1), lam)
    return a


def _cubic_weights(t, a=-0.75):
    """Keys' cubic convolution weights for the 4 taps at offsets −1, 0, 1, 2 (A = −0.75)."""

    def near(s):  # |s| ≤ 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def cubic_matrix(n_in, n_out, scale_factor, align_corners, dtype):
    """The (out × in) matrix of bicubic interpolation along one dimension (edges clamped)."""
    scale = _scale(n_in, n_out, scale_factor, align_corners, dtype)
    dst = _xp.arange(n_out, dtype=dtype)
    src = dst * scale if align_corners else (dst + dtype.type(0.5)) * scale - dtype.type(0.5)
    i0 = _xp.floor(src).astype(_xp.int64)
    t = src - i0
    a = _xp.zeros((n_out, n_in), dtype=dtype)
    rows = _xp.arange(n_out)
    for tap, w in zip(range(-1, 3), _cubic_weights(t)):
        _xp.add.at(a, (rows, _xp.clip(i0 + tap, 0, n_in - 1)), w)
    return a


# ---------------------------------------------------------------------------- nearest
class Nearest(Function):
    """y = x gathered at one index table per trailing dimension."""

    @staticmethod
    def forward(ctx, x, *, indices):
        d = len(indices)
        y = x
        for i, idx in enumerate(indices):
            if idx is not None:
                y = y.take(idx, axis=x.ndim - d + i)
        ctx.indices = indices
        ctx.in_sizes = x.shape[x.ndim - d :]
        return y

    @staticmethod
    def backward(ctx, gy):
        d = len(ctx.indices)
        g = gy
        # dL/dx_j = Σ of dL/dy over the outputs that read j, one dimension at a time
        for i, (idx, n_in) in enumerate(zip(ctx.indices, ctx.in_sizes)):
            if idx is not None:
                g = _scatter_axis(g, idx, n_in, gy.ndim - d + i)
        return g


def _scatter_axis(g, idx, n_in, axis):
    n_out = idx.shape[0]
    k = n_out // n_in
    if n_out % n_in == 0 and _xp.array_equal(idx, _xp.arange(n_out) // k):
        # integer factor: output r, r + k, r + 2k … read input r, r + 1, …: sum k strided views
        lead = (slice(None),) * axis
        total = g[lead + (slice(0, None, k),)].copy()
        for r in range(1, k):
            total += g[lead + (slice(r, None, k),)]
        return total
    onehot = (idx[None, :] == _xp.arange(n_in)[:, None]).astype(g.dtype)  # (in, out)
    return along(g, onehot, axis)


# ---------------------------------------------------------------------------- interpolate
def _output_geometry(x, d, size, scale_factor, recompute_scale_factor, mode):
    spatial = tuple(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(
                "interpolate: recompute_scale_factor is not meaningful with an explicit size"
            )
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,) * d
        if len(size) != d:
            raise ValueError(
                f"interpolate: input with spatial size {spatial} needs a size of "
                f"{d} elements, got {size}"
            )
        return tuple(int(s) for s in size), (None,) * d
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if isinstance(scale_factor, (tuple, list)):
        scales = tuple(scale_factor)
    else:
        scales = (scale_factor,) * d
    if len(scales) != d:
        raise ValueError(
            f"interpolate: input with spatial size {spatial} needs a scale_factor "
            f"of {d} elements, got {scales}"
        )
    out = tuple(int(math.floor(n * float(s))) for n, s in zip(spatial, scales))
    if recompute_scale_factor or mode == "area":
        scales = (None,) * d
    return out, tuple(None if s is None else float(s) for s in scales)


def _check_mode(x, mode, align_corners):
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(
                "interpolate: align_corners can only be set with the interpolating "
                "modes linear | bilinear | bicubic | trilinear"
            )
    elif mode not in _MODE_DIMS:
        raise ValueError(
            f"interpolate: unknown mode '{mode}' (nearest | nearest-exact | area | "
            f"linear | bilinear | bicubic | trilinear)"
        )
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"interpolate: expected 3D, 4D or 5D input (N, C, *spatial), got shape "
            f"{tuple(x.shape)}"
        )
    if mode not in ("nearest", "nearest-exact") and x.dtype.kind != "f":
        raise TypeError(f"interpolate: mode '{mode}' needs a floating-point input, got {x.dtype}")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != x.ndim - 2:
        raise ValueError(
            f"interpolate: mode '{mode}' needs {_MODE_DIMS[mode] + 2}D input, got "
            f"shape {tuple(x.shape)}"
        )


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Resize the spatial dimensions of a batch (up- or down-sampling).

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: output spatial size (int or tuple), or
        scale_factor: multiplier(s) of the spatial size (output size rounded down).
        mode: 'nearest' (PyTorch's legacy rule ⌊i·in/out⌋), 'nearest-exact' (pixel centres),
            'linear' (3D), 'bilinear' or 'bicubic' (4D), 'trilinear' (5D), or 'area'
            (adaptive average pooling).
        align_corners: linear/cubic modes only: map the corner pixels' centres onto each other
            (default False: pixel areas are aligned).
        recompute_scale_factor: with ``scale_factor``, compute the source positions from the
            rounded output size instead of the given factor.
        antialias: not supported (must be False).

    Shape:
        (N, C, *in) → (N, C, *out).

    Example:
        >>> import soma
        >>> interpolate(soma.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    _check_mode(input, mode, align_corners)
    d = input.ndim - 2
    out, scales = _output_geometry(input, d, size, scale_factor, recompute_scale_factor, mode)
    if any(o < 1 for o in out):
        raise ValueError(f"interpolate: output size {out} must be positive")
    spatial = tuple(input.shape[2:])
    if mode == "area":
        return _adaptive_avg("interpolate", d, input, out)
    if mode in ("nearest", "nearest-exact"):
        shortcuts = mode == "nearest" and d == 2
        indices = tuple(
            None
            if n == o and (shortcuts or s in (None, 1.0)) and mode == "nearest"
            else nearest_index(n, o, s, mode == "nearest-exact", shortcuts)
            for n, o, s in zip(spatial, out, scales)
        )
        return named(Nearest.apply(input, indices=indices), _upsample_name(mode, d))
    build = cubic_matrix if mode == "bicubic" else linear_matrix
    dtype = _xp.dtype(input.dtype)
    # NOTE: like PyTorch, equal sizes copy the input whatever the scale factor says
    matrices = tuple(
        None if n == o and mode != "bicubic" else build(n, o, s, bool(align_corners), dtype)
        for n, o, s in zip(spatial, out, scales)
    )
    return named(Separable.apply(input, matrices=matrices), _upsample_name(mode, d))


def _upsample_name(mode, d):
    """PyTorch's node name: ``UpsampleBilinear2DBackward0`` and the like."""
    kind = {"nearest-exact": "UpsampleNearestExact", "linear": "UpsampleLinear"}.get(
        mode, "Upsample" + mode.title()
    )
    return f"{kind}{d}DBackward0"


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its older name (PyTorch's deprecated ``F.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode='bilinear', align_corners=True)`` (the old default)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------- pixel shuffle
def pixel_shuffle(input, upscale_factor):
    """Rearrange (*, C·r², H, W) into (*, C, H·r, W·r): channels become sub-pixel positions.

    Output pixel (h·r + i, w·r + j) of channel c is input channel c·r² + i·r + j at (h, w).

    Example:
        >>> import soma
        >>> pixel_shuffle(soma.arange(4.0).reshape(1, 4, 1, 1), 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
    """
    r = int(upscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ShapeError(
            f"pixel_shuffle: expected input of shape (*, C·r², H, W) with r = "
            f"{upscale_factor}, got {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    lead = tuple(lead)
    x = input.reshape(lead + (c // (r * r), r, r, h, w))
    n = len(lead)
    x = x.permute(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return x.reshape(lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """Rearrange (*, C, H·r, W·r) into (*, C·r², H, W): the inverse of ``pixel_shuffle``.

    Example:
        >>> import soma
        >>> pixel_unshuffle(soma.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    r = int(downscale_factor)
    if input.ndim < 3 or r < 1 or input.shape[-1] % r or input.shape[-2] % r:
        raise ShapeError(
            f"pixel_unshuffle: expected input of shape (*, C, H·r, W·r) with r = "
            f"{downscale_factor}, got {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    lead = tuple(lead)
    x = input.reshape(lead + (c, h // r, r, w // r, r))
    n = len(lead)
    x = x.permute(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return x.reshape(lead + (c * r * r, h // r, w // r))


# ---------------------------------------------------------------------------- channel shuffle
def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups (ShuffleNet): (N, g·k, *) viewed as
    (N, g, k, *), transposed to (N, k, g, *) and flattened back.

    Example:
        >>> import soma
        >>> channel_shuffle(soma.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
        [0.0, 2.0, 1.0, 3.0]
    """
    g = int(groups)
    if input.ndim < 3 or g < 1 or input.shape[1] % g:
        raise ValueError(
            f"channel_shuffle: expected input (N, C, *) with C divisible by groups = {groups}, "
            f"got {tuple(input.shape)}"
        )
    n, c, *rest = input.shape
    x = input.reshape((n, g, c // g, *rest))
    return x.transpose(1, 2).reshape((n, c, *rest))
