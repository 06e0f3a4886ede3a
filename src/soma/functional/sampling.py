"""Sampling an image at arbitrary points: ``affine_grid`` builds the sampling points of an affine
transform, ``grid_sample`` reads an image (or a 3-D volume) at them, bilinearly (trilinearly),
bicubically or from the nearest pixel, as spatial transformer networks do.

Coordinates are normalised to [-1, 1] across the image: with ``align_corners=True`` -1 and 1
are the centres of the corner pixels, with ``False`` (the default) their outer edges. Points
outside the image read zeros, the nearest border pixel, or the image reflected at its border
(``padding_mode``). The gradient reaches both the image and the sampling points (bilinear).
"""

import itertools
import math

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.linalg import matmul
from soma.functional.shape import reshape, transpose

_xp = get_xp()


def _base_coords(n, align_corners, dtype):
    """The normalised coordinates of n pixel centres."""
    if align_corners:
        return _xp.linspace(-1, 1, n, dtype=dtype) if n > 1 else _xp.zeros(1, dtype=dtype)
    return ((_xp.arange(n, dtype=dtype) * 2 + 1) / n - 1).astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of affine maps: ``grid[n, h, w] = θ[n] · (x_w, y_h, 1)``.

    Args:
        theta: (N, 2, 3) for 2-D images, (N, 3, 4) for 3-D volumes.
        size: the output size (N, C, H, W) or (N, C, D, H, W).
        align_corners: see the module docstring (default False).

    Shape:
        (N, H, W, 2) or (N, D, H, W, 3), the last dimension (x, y[, z]).
    """
    align = bool(align_corners)
    size = tuple(int(s) for s in size)
    spatial = size[2:]
    k = len(spatial)
    if k not in (2, 3) or tuple(theta.shape[1:]) != (k, k + 1) or theta.shape[0] != size[0]:
        raise RuntimeError(
            f"affine_grid: theta of shape {shape_str(theta.shape)} does not fit size {size} "
            f"(expected ({size[0]}, {k}, {k + 1}) for a {k}-D grid)"
        )
    dtype = theta.array.dtype
    axes = [_base_coords(n, align, dtype) for n in reversed(spatial)]  # x (width) first
    mesh = _xp.meshgrid(*axes, indexing="xy") if k == 2 else _xp.meshgrid(*axes, indexing="ij")
    if k == 3:  # meshgrid(x, y, z, 'ij') gives (W, H, D): bring it to (D, H, W)
        mesh = [m.transpose(2, 1, 0) for m in mesh]
    ones = _xp.ones(spatial, dtype=dtype)
    base = _xp.stack([*mesh, ones], axis=-1).reshape(-1, k + 1)  # (points, k + 1)
    grid = matmul(Tensor._wrap(base), transpose(theta, 1, 2))  # (N, points, k)
    return reshape(grid, (size[0], *spatial, k))


def _reflect(coord, low2, high2):
    """Reflect coordinates into [low2/2, high2/2]; returns them and d(out)/d(in) (±1)."""
    if low2 == high2:
        return _xp.zeros_like(coord), _xp.zeros_like(coord)
    low, span = low2 / 2, (high2 - low2) / 2
    c = coord - low
    sign = _xp.where(c < 0, -1.0, 1.0)
    c = _xp.abs(c)
    extra = _xp.fmod(c, span)
    even = (_xp.floor(c / span) % 2) == 0
    out = _xp.where(even, extra + low, span - extra + low)
    return out, _xp.where(even, sign, -sign)


def _source_index(coord, size, padding_mode, align):
    """Pixel coordinates of normalised ones, with padding applied, and d(pixel)/d(coord)."""
    if align:
        pix, grad = (coord + 1) / 2 * (size - 1), (size - 1) / 2
    else:
        pix, grad = ((coord + 1) * size - 1) / 2, size / 2
    grad = _xp.full_like(pix, grad)
    if padding_mode == "reflection":
        low2, high2 = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
        pix, mult = _reflect(pix, low2, high2)
        grad = grad * mult
    if padding_mode in ("border", "reflection"):
        inside = (pix > 0) & (pix < size - 1)
        pix = _xp.clip(pix, 0, size - 1)
        grad = grad * inside
    return pix, grad


class GridSample(Function):
    """y[n, c, *p] = the image x[n, c] read at grid[n, *p] (bilinear/trilinear or nearest), for
    2-D images (N, C, H, W) and 3-D volumes (N, C, D, H, W)."""

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align):
        n, c = x.shape[:2]
        sizes = x.shape[2:]  # (H, W) or (D, H, W); the grid's last axis is (x, y[, z])
        k = len(sizes)
        pix, mults = [], []
        for j in range(k):  # spatial axis j is read by grid coordinate k - 1 - j
            p, m = _source_index(grid[..., k - 1 - j], sizes[j], padding_mode, align)
            pix.append(p)
            mults.append(m)
        flat = _xp.ascontiguousarray(_xp.moveaxis(x, 1, -1)).reshape(-1, c)  # (N·∏sizes, C)
        batch = _xp.arange(n).reshape((n,) + (1,) * k)
        if mode == "nearest":
            base, frac = [_xp.rint(p) for p in pix], None  # round half to even, as PyTorch
            offsets = [(0,) * k]
        else:
            base = [_xp.floor(p) for p in pix]
            frac = [p - b for p, b in zip(pix, base)]
            offsets = list(itertools.product((0, 1), repeat=k))
        y = _xp.zeros(grid.shape[:-1] + (c,), dtype=x.dtype)
        reads = []
        for off in offsets:
            lin = batch
            valid = True
            wgt = 1.0
            for j in range(k):
                idx = base[j] + off[j]
                valid = valid & (idx >= 0) & (idx <= sizes[j] - 1)
                lin = lin * sizes[j] + _xp.clip(idx, 0, sizes[j] - 1).astype(_xp.int64)
                if frac is not None:
                    wgt = wgt * (frac[j] if off[j] else 1 - frac[j])
            wgt = _xp.broadcast_to(_xp.asarray(wgt, dtype=x.dtype), valid.shape)
            v = flat[lin] * valid[..., None]  # (N, *out, C)
            y += v * wgt[..., None]
            reads.append((off, lin, valid, wgt, v))
        ctx.save(grid)
        ctx.reads, ctx.x_shape, ctx.frac, ctx.mults = reads, x.shape, frac, mults
        return _xp.moveaxis(y, -1, 1)

    @staticmethod
    def backward(ctx, gy):
        n, c = ctx.x_shape[:2]
        sizes = ctx.x_shape[2:]
        k = len(sizes)
        g = _xp.moveaxis(gy, 1, -1)  # (N, *out, C)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:
            gflat = _xp.zeros((n * math.prod(sizes), c), dtype=gy.dtype)
            for _, lin, valid, wgt, _ in ctx.reads:
                _xp.add.at(gflat, lin.reshape(-1), (g * (wgt * valid)[..., None]).reshape(-1, c))
            gx = _xp.moveaxis(gflat.reshape((n, *sizes, c)), -1, 1)
        if ctx.needs_input_grad[1]:
            (grid,) = ctx.saved
            ggrid = _xp.zeros_like(grid)
            if ctx.frac is not None:
                for j in range(k):
                    # d y / d pix_j = Σ_corners ±(∏_{i≠j} w_i) v_corner
                    d = _xp.zeros(g.shape, dtype=gy.dtype)
                    for off, _, _, _, v in ctx.reads:
                        w = 1.0
                        for i in range(k):
                            if i != j:
                                w = w * (ctx.frac[i] if off[i] else 1 - ctx.frac[i])
                        d += (v if off[j] else -v) * _xp.asarray(w)[..., None]
                    ggrid[..., k - 1 - j] = (d * g).sum(-1) * ctx.mults[j]
        return gx, ggrid


_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution constant


def _cubic_weights(t):
    """The four tap weights at offsets -1, 0, 1, 2 of a point t ∈ [0, 1) past a pixel, and
    their derivatives in t (Keys' cubic convolution)."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1, (3 * (a + 2) * x - 2 * (a + 3)) * x

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, (3 * a * x - 10 * a) * x + 8 * a

    w0, d0 = far(t + 1)
    w1, d1 = near(t)
    w2, d2 = near(1 - t)
    w3, d3 = far(2 - t)
    return (w0, w1, w2, w3), (d0, d1, -d2, -d3)


def _tap_index(i, size, padding_mode, align):
    """Integer tap coordinates with padding applied to each tap, and whether they are inside."""
    if padding_mode == "zeros":
        return i, (i >= 0) & (i <= size - 1)
    if padding_mode == "reflection":
        low2, high2 = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
        i, _ = _reflect(i, low2, high2)
    i = _xp.clip(i, 0, size - 1)
    return i, _xp.ones(i.shape, dtype=bool)


class GridSampleBicubic(Function):
    """y[n, c, i, j] = Σ over a 4×4 neighbourhood of cubic-convolution weights × pixels."""

    @staticmethod
    def forward(ctx, x, grid, padding_mode, align):
        n, c, h, w = x.shape
        pix, mults = [], []
        for size, coord in ((w, grid[..., 0]), (h, grid[..., 1])):
            p, m = _source_index(coord, size, "zeros", align)  # padding acts on each tap
            pix.append(p)
            mults.append(m)
        base = [_xp.floor(p) for p in pix]
        weights = [_cubic_weights(p - b) for p, b in zip(pix, base)]
        flat = _xp.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c)
        batch = _xp.arange(n).reshape(n, 1, 1)
        y = _xp.zeros(grid.shape[:-1] + (c,), dtype=x.dtype)
        reads = []
        for dy in range(4):
            iy, vy = _tap_index(base[1] + dy - 1, h, padding_mode, align)
            for dx in range(4):
                ix, vx = _tap_index(base[0] + dx - 1, w, padding_mode, align)
                valid = vx & vy
                lin = (batch * h + _xp.clip(iy, 0, h - 1).astype(_xp.int64)) * w
                lin = lin + _xp.clip(ix, 0, w - 1).astype(_xp.int64)
                v = flat[lin] * valid[..., None]
                wgt = weights[0][0][dx] * weights[1][0][dy]
                y += v * wgt[..., None]
                reads.append((dx, dy, lin, valid, wgt, v))
        ctx.save(grid)
        ctx.reads, ctx.x_shape, ctx.weights, ctx.mults = reads, x.shape, weights, mults
        return y.transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, gy):
        n, c, h, w = ctx.x_shape
        g = gy.transpose(0, 2, 3, 1)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:
            gflat = _xp.zeros((n * h * w, c), dtype=gy.dtype)
            for _, _, lin, valid, wgt, _ in ctx.reads:
                _xp.add.at(gflat, lin.reshape(-1), (g * (wgt * valid)[..., None]).reshape(-1, c))
            gx = gflat.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            (grid,) = ctx.saved
            (wx, dwx), (wy, dwy) = ctx.weights
            d_ix = _xp.zeros(g.shape, dtype=gy.dtype)
            d_iy = _xp.zeros(g.shape, dtype=gy.dtype)
            for dx, dy, _, _, _, v in ctx.reads:
                d_ix += v * (dwx[dx] * wy[dy])[..., None]
                d_iy += v * (wx[dx] * dwy[dy])[..., None]
            ggrid = _xp.zeros_like(grid)
            ggrid[..., 0] = (d_ix * g).sum(-1) * ctx.mults[0]
            ggrid[..., 1] = (d_iy * g).sum(-1) * ctx.mults[1]
        return gx, ggrid


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Read each image of ``input`` at the points of ``grid`` (normalised (x, y[, z]) in
    [-1, 1]).

    Args:
        mode: ``'bilinear'`` (trilinear for volumes), ``'nearest'`` or ``'bicubic'`` (2-D).
        padding_mode: ``'zeros'``, ``'border'`` or ``'reflection'`` for points outside.
        align_corners: see the module docstring (default False).

    Shape:
        input (N, C, H, W), grid (N, H_out, W_out, 2) → (N, C, H_out, W_out);
        input (N, C, D, H, W), grid (N, D_out, H_out, W_out, 3) → (N, C, D_out, H_out, W_out)
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"grid_sample: mode must be bilinear, nearest or bicubic, got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            f"grid_sample: padding_mode must be zeros, border or reflection, got {padding_mode!r}"
        )
    if input.ndim not in (4, 5):
        raise RuntimeError(
            f"grid_sample: expected a 4-D or 5-D input, got shape {shape_str(input.shape)}"
        )
    k = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != k or grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            f"grid_sample: grid of shape {shape_str(grid.shape)} does not fit input of shape "
            f"{shape_str(input.shape)} (expected ({input.shape[0]}, {'*, ' * k}{k}))"
        )
    if grid.dtype != input.dtype:
        grid = grid.to(input.dtype)
    if mode == "bicubic":
        if k != 2:
            raise RuntimeError("grid_sample: bicubic interpolation needs a 4-D input")
        return GridSampleBicubic.apply(input, grid, padding_mode, bool(align_corners))
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))
