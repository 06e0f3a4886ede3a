"""Pictures of segmentation results: predicted masks drawn over their inputs.

``plot_segmentation(images, targets, predictions, path)`` writes one PNG: a column per sample,
rows for the input, the true mask over it and the predicted mask over it (class colours at
half opacity, the background class left clear), with the pixel accuracy of each prediction in
its title. ``predict_masks(model, images)`` gives the arg-max class per pixel.
"""

from soma.autograd.factory import tensor
from soma.autograd.grad_mode import no_grad
from soma.backend import get_xp
from soma.train.plots import pyplot as _pyplot
from soma.train.plots import save_figure

_xp = get_xp()


def _array(x):
    return _xp.asarray(x.array if hasattr(x, "array") else x)


def predict_masks(model, images, batch_size: int = 64):
    """The class index per pixel (N, H, W) of ``model``'s scores on ``images`` (eval mode)."""
    was_training = model.training
    model.eval()
    x = _array(images)
    out = []
    try:
        with no_grad():
            for i in range(0, len(x), batch_size):
                scores = model(tensor(x[i : i + batch_size]))
                out.append(scores.array.argmax(axis=1))
    finally:
        model.train(was_training)
    return _xp.concatenate(out)


def _colours(num_classes: int):
    plt = _pyplot()
    cmap = plt.get_cmap("tab10" if num_classes <= 11 else "tab20")
    colours = _xp.array([cmap(i % cmap.N)[:3] for i in range(max(num_classes - 1, 1))])
    return _xp.concatenate([_xp.zeros((1, 3)), colours])  # class 0 = background: no colour


def _overlay(image, mask, colours):
    """RGB picture: the grayscale image, with each labelled pixel blended with its colour."""
    gray = image.mean(axis=0)
    low, high = float(gray.min()), float(gray.max())
    gray = (gray - low) / (high - low) if high > low else _xp.zeros_like(gray)
    rgb = _xp.repeat(gray[..., None], 3, axis=-1)
    labelled = (mask > 0)[..., None]
    blended = 0.45 * rgb + 0.55 * colours[_xp.clip(mask, 0, len(colours) - 1)]
    return _xp.where(labelled, blended, rgb)


def plot_segmentation(
    images, targets, predictions, path, classes=None, num_classes=None, max_samples: int = 8
) -> str:
    """Inputs, true masks and predicted masks side by side, saved as a PNG at ``path``.

    Args:
        images: (N, C, H, W) inputs.
        targets: (N, H, W) true class masks (or None to show predictions only).
        predictions: (N, H, W) predicted class masks.
        path: the PNG file (written atomically).
        classes: class names for the legend (index = class).
        num_classes: number of classes (default: from ``classes`` or the masks).
        max_samples: the first this many samples are drawn.

    Returns:
        ``path``.
    """
    x = _array(images)[:max_samples]
    p = _array(predictions)[:max_samples]
    t = None if targets is None else _array(targets)[:max_samples]
    if num_classes is None:
        highest = max(int(p.max()), int(t.max()) if t is not None else 0)
        num_classes = len(classes) if classes else highest + 1
    colours = _colours(num_classes)
    plt = _pyplot()
    rows = 2 if t is None else 3
    n = len(x)
    fig, axes = plt.subplots(rows, n, figsize=(1.6 * n, 1.7 * rows + 0.5), squeeze=False)
    for j in range(n):
        panels = [("input", _overlay(x[j], _xp.zeros_like(p[j]), colours))]
        if t is not None:
            panels.append(("true", _overlay(x[j], t[j], colours)))
        title = "predicted"
        if t is not None:
            title = f"pred. {float((p[j] == t[j]).mean()):.0%}"
        panels.append((title, _overlay(x[j], p[j], colours)))
        for i, (name, picture) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(picture, interpolation="nearest")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
    if classes:
        from matplotlib.patches import Patch  # optional dependency, as pyplot

        handles = [Patch(color=colours[c], label=str(classes[c])) for c in range(1, num_classes)]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8)
        fig.subplots_adjust(bottom=0.12)
    return save_figure(fig, path, tight_bbox=True)  # atomic: temp file + os.replace


__all__ = ["plot_segmentation", "predict_masks"]
