"""Pictures of generative models, saved as PNG: sample grids, reconstructions beside their
inputs, latent interpolations, a 2-D latent scatter coloured by class, the diffusion chain from
noise to sample, and 2-D point clouds (toy data against samples).

Images are (N, C, H, W) tensors or arrays with values in ``value_range`` (``(0, 1)`` for
autoencoders and VAEs, ``(-1, 1)`` for GANs and diffusion models); grey images when C = 1.
Needs matplotlib (``pip install soma[plot]``); drawn off-screen (Agg backend).
"""

import math
import os

from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.train.plots import pyplot as _pyplot
from soma.train.plots import save_figure

_xp = get_xp()


def _save(fig, path) -> str:
    return save_figure(fig, os.fspath(path), tight_bbox=True)


def _array(images):
    return images.detach().numpy() if isinstance(images, Tensor) else _xp.asarray(images)


def _tiles(images, value_range):
    """(N, C, H, W) values → list of (H, W) or (H, W, 3) arrays in [0, 1] for imshow."""
    a = _array(images).astype(_xp.float32)
    lo, hi = value_range
    a = _xp.clip((a - lo) / (hi - lo), 0.0, 1.0)
    if a.ndim == 3:
        a = a[:, None]
    return [img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0) for img in a]


def _mosaic(rows_of_tiles, path, title, row_labels=None, scale=0.9):
    """One image of tiles on a grid with 1-pixel gaps, drawn with a single imshow."""
    plt = _pyplot()
    h, w = rows_of_tiles[0][0].shape[:2]
    rgb = rows_of_tiles[0][0].ndim == 3
    rows, cols = len(rows_of_tiles), max(len(r) for r in rows_of_tiles)
    shape = (rows * (h + 1) + 1, cols * (w + 1) + 1) + ((3,) if rgb else ())
    canvas = _xp.ones(shape, dtype=_xp.float32)
    for i, row in enumerate(rows_of_tiles):
        for j, tile in enumerate(row):
            top, left = 1 + i * (h + 1), 1 + j * (w + 1)
            canvas[top : top + h, left : left + w] = tile
    fig, ax = plt.subplots(
        figsize=(scale * cols + (0.8 if row_labels else 0.2), scale * rows + 0.4)
    )
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.tick_params(length=0)
    ax.set_yticks([(h + 1) * (i + 0.5) for i in range(rows)] if row_labels else [])
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_samples(
    images, path, value_range=(0, 1), columns: int = 8, title: str = "samples"
) -> str:
    """A grid of generated images.

    Example:
        >>> import os, tempfile, soma
        >>> path = plot_samples(soma.rand(16, 1, 8, 8), os.path.join(tempfile.mkdtemp(), "s.png"))
        >>> os.path.getsize(path) > 0
        True
    """
    tiles = _tiles(images, value_range)
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    return _mosaic(rows, path, title)


def plot_reconstructions(
    inputs, reconstructions, path, value_range=(0, 1), title: str = "reconstructions"
) -> str:
    """Inputs in the first row, their reconstructions under them (up to 12 columns)."""
    a, b = _tiles(inputs, value_range)[:12], _tiles(reconstructions, value_range)[:12]
    return _mosaic([a, b], path, title, row_labels=["input", "output"])


@no_grad()
def plot_interpolation(
    model, x_a, x_b, path, steps: int = 10, value_range=(0, 1), title=None
) -> str:
    """decode((1 − λ)·z_a + λ·z_b) for λ from 0 to 1, one row per pair of images.

    ``model`` has ``encode`` (returning z, or (μ, log σ²) for a VAE, of which μ is used) and
    ``decode``; ``x_a`` and ``x_b`` are (N, C, H, W) batches of the same size.
    """
    was_training = model.training
    model.eval()
    try:
        za, zb = model.encode(x_a), model.encode(x_b)
        if isinstance(za, tuple):
            za, zb = za[0], zb[0]
        rows = []
        for i in range(za.shape[0]):
            lams = [k / (steps - 1) for k in range(steps)]
            codes = [za[i : i + 1] * (1 - lam) + zb[i : i + 1] * lam for lam in lams]
            rows.append([_tiles(model.decode(c), value_range)[0] for c in codes])
    finally:
        model.train(was_training)
    return _mosaic(rows, path, title or f"latent interpolation ({steps} steps)")


def plot_latent_scatter(codes, labels, path, title: str = "latent space") -> str:
    """The first two latent coordinates of each sample, coloured by class (a 2-D projection by
    PCA when the codes have more dimensions)."""
    z = _array(codes).astype(_xp.float64)
    y = _array(labels).ravel()
    axis_names = ("z₁", "z₂")
    if z.shape[1] > 2:
        centred = z - z.mean(0)
        _, _, vt = _xp.linalg.svd(centred, full_matrices=False)
        z, axis_names = centred @ vt[:2].T, ("PC 1", "PC 2")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.4))
    points = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=6, alpha=0.8)
    fig.colorbar(points, ax=ax, ticks=sorted(set(y.tolist())))
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_diffusion_chain(
    chain, path, n: int = 6, value_range=(-1, 1), title: str = "from noise to sample"
) -> str:
    """One row per sample: x_T (noise) on the left, x_0 on the right, the chain in between.

    ``chain`` is the list returned by ``DDPM.sample(..., chain_every=k)``.
    """
    steps = [_tiles(x, value_range)[:n] for x in chain]
    rows = [[step[i] for step in steps] for i in range(min(n, len(steps[0])))]
    return _mosaic(rows, path, title)


def plot_points(samples, path, reference=None, title: str = "samples") -> str:
    """2-D samples (orange) over reference data (grey), e.g. a diffusion model on two moons."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    if reference is not None:
        r = _array(reference)
        ax.scatter(r[:, 0], r[:, 1], s=4, c="0.6", label="data")
    s = _array(samples)
    ax.scatter(s[:, 0], s[:, 1], s=4, c="tab:orange", label="samples")
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal", adjustable="datalim")
    return _save(fig, path)


def grid_size(n: int) -> int:
    """Columns of a near-square grid for n images."""
    return max(1, math.ceil(math.sqrt(n)))
