"""Pictures of a network's insides: learned filters, feature maps, gradient flow (PNG files).

Needs matplotlib (``pip install soma[plot]``); figures are drawn off-screen (Agg backend).
"""

import math

from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.inspection.gradients import gradient_report
from soma.train.plots import pyplot, save_figure

_xp = get_xp()


def _grid(images, titles, path, title, cmap="gray", columns=8):
    plt = pyplot()
    n = len(images)
    columns = min(columns, n)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.4 * columns, 1.4 * rows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles):
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, tight_bbox=True)


def _normalise(a):
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else a * 0


def plot_filters(layer_or_weight, path, max_filters=64):
    """Draw a convolution's kernels: one tile per output channel.

    RGB kernels (3 input channels) are drawn in colour; otherwise the first input channel of
    each kernel is shown in grey. Accepts a Conv2d layer or its weight of shape (out, in, kh, kw).
    """
    weight = getattr(layer_or_weight, "weight", layer_or_weight)
    w = weight.array if isinstance(weight, Tensor) else _xp.asarray(weight)
    if w.ndim != 4:
        raise ValueError(
            f"plot_filters: expected a weight of shape (out, in, kh, kw), got {w.shape}"
        )
    w = w[:max_filters]
    if w.shape[1] == 3:
        images = [_normalise(k.transpose(1, 2, 0)) for k in w]
        cmap = None
    else:
        images = [_normalise(k[0]) for k in w]
        cmap = "gray"
    titles = [str(i) for i in range(len(images))]
    return _grid(images, titles, path, f"{len(images)} filters {w.shape[2]}×{w.shape[3]}", cmap)


def feature_maps(model, x, layer):
    """The output of the sub-module named ``layer`` (e.g. ``"features.0"``) when ``model(x)`` runs."""
    modules = dict(model.named_modules())
    if layer not in modules:
        raise KeyError(
            f"feature_maps: no layer named {layer!r}; layers are: {', '.join(n for n in modules if n)}"
        )
    captured = {}
    handle = modules[layer].register_forward_hook(
        lambda m, i, out: captured.setdefault("out", out)
    )
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(x)
    finally:
        handle.remove()
        model.train(was_training)
    return captured["out"]


def plot_feature_maps(model, x, layer, path, max_maps=32):
    """Draw the channels a layer produces for the first input in ``x`` (one tile per channel)."""
    maps = feature_maps(model, x, layer).array[0]
    if maps.ndim != 3:
        raise ValueError(
            f"plot_feature_maps: layer {layer!r} gives per-sample shape {maps.shape}, "
            f"expected (channels, height, width)"
        )
    maps = maps[:max_maps]
    titles = [f"ch {i}" for i in range(len(maps))]
    return _grid(
        [_normalise(m) for m in maps], titles, path, f"feature maps of {layer}", "viridis"
    )


def plot_gradient_flow(model, path, **report_options):
    """Bar chart of each layer's gradient norm (log scale), vanishing/exploding ones in red."""
    report = gradient_report(model, **report_options)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(report.rows)), 3.5))
    norms = [max(r.grad_norm, 1e-30) for r in report.rows]
    colours = [
        "tab:red" if r.status in ("vanishing", "exploding") else "tab:blue" for r in report.rows
    ]
    ax.bar(range(len(norms)), norms, color=colours)
    ax.set_yscale("log")
    ax.set_xticks(range(len(norms)), [r.name for r in report.rows], rotation=90, fontsize=7)
    ax.set_ylabel("gradient norm")
    ax.set_title("Gradient flow (red: vanishing or exploding)")
    return save_figure(fig, path, tight_bbox=True)
