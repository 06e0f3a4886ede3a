"""Sampling an image at arbitrary points: ``affine_grid`` builds the sampling points of an affine
transform, ``grid_sample`` reads an image at them (bilinear or nearest), as spatial transformer
networks do.

Coordinates are normalised to [-1, 1] across the image: with ``align_corners=True`` -1 and 1
are the centres of the corner pixels, with ``False`` (the default) their outer edges. Points
outside the image read zeros, the nearest border pixel, or the image reflected at its border
(``padding_mode``). The gradient reaches both the image and the sampling points (bilinear).
"""

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


class GridSample2d(Function):
    """y[n, c, i, j] = the image x[n, c] read at grid[n, i, j] (bilinear or nearest)."""

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align):
        n, c, h, w = x.shape
        ix, gx_mult = _source_index(grid[..., 0], w, padding_mode, align)
        iy, gy_mult = _source_index(grid[..., 1], h, padding_mode, align)
        flat = _xp.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c)  # (N·H·W, C)
        batch = _xp.arange(n).reshape(n, 1, 1)
        corners = []
        if mode == "nearest":
            xs, ys = _xp.rint(ix), _xp.rint(iy)  # round half to even, as PyTorch
            corners.append((xs, ys, _xp.ones_like(ix)))
        else:
            x0, y0 = _xp.floor(ix), _xp.floor(iy)
            fx, fy = ix - x0, iy - y0
            for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                wgt = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
                corners.append((x0 + dx, y0 + dy, wgt))
        y = _xp.zeros(grid.shape[:3] + (c,), dtype=x.dtype)
        reads = []
        for cx, cy, wgt in corners:
            valid = (cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)
            lin = (batch * h + _xp.clip(cy, 0, h - 1).astype(_xp.int64)) * w
            lin = lin + _xp.clip(cx, 0, w - 1).astype(_xp.int64)
            v = flat[lin] * valid[..., None]  # (N, Ho, Wo, C)
            y += v * wgt[..., None]
            reads.append((lin, valid, wgt, v))
        ctx.save(grid)
        ctx.reads, ctx.x_shape, ctx.mode = reads, x.shape, mode
        ctx.mults = (gx_mult, gy_mult)
        ctx.frac = None if mode == "nearest" else (fx, fy)
        return y.transpose(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, gy):
        n, c, h, w = ctx.x_shape
        g = gy.transpose(0, 2, 3, 1)  # (N, Ho, Wo, C)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:
            gflat = _xp.zeros((n * h * w, c), dtype=gy.dtype)
            for lin, valid, wgt, _ in ctx.reads:
                vals = g * (wgt * valid)[..., None]
                _xp.add.at(gflat, lin.reshape(-1), vals.reshape(-1, c))
            gx = gflat.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            (grid,) = ctx.saved
            ggrid = _xp.zeros_like(grid)
            if ctx.mode != "nearest":
                fx, fy = ctx.frac
                v00, v10, v01, v11 = (r[3] for r in ctx.reads)
                # d y / d ix = (1-fy)(v10 - v00) + fy (v11 - v01); likewise for iy
                d_ix = ((1 - fy)[..., None] * (v10 - v00) + fy[..., None] * (v11 - v01)) * g
                d_iy = ((1 - fx)[..., None] * (v01 - v00) + fx[..., None] * (v11 - v10)) * g
                ggrid[..., 0] = d_ix.sum(-1) * ctx.mults[0]
                ggrid[..., 1] = d_iy.sum(-1) * ctx.mults[1]
        return gx, ggrid


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Read each image of ``input`` at the points of ``grid`` (normalised (x, y) in [-1, 1]).

    Args:
        mode: ``'bilinear'`` or ``'nearest'``.
        padding_mode: ``'zeros'``, ``'border'`` or ``'reflection'`` for points outside.
        align_corners: see the module docstring (default False).

    Shape:
        input (N, C, H, W), grid (N, H_out, W_out, 2) → (N, C, H_out, W_out)
    """
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(
            f"grid_sample: mode {mode!r} is not implemented (bilinear, nearest)"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            f"grid_sample: padding_mode must be zeros, border or reflection, got {padding_mode!r}"
        )
    if input.ndim != 4:
        raise NotImplementedError(
            f"grid_sample: only 4-D (N, C, H, W) inputs are implemented, got shape {shape_str(input.shape)}"
        )
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            f"grid_sample: grid of shape {shape_str(grid.shape)} does not fit input of shape "
            f"{shape_str(input.shape)} (expected ({input.shape[0]}, H_out, W_out, 2))"
        )
    if grid.dtype != input.dtype:
        grid = grid.to(input.dtype)
    return GridSample2d.apply(input, grid, mode, padding_mode, bool(align_corners))
