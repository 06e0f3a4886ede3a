"""Plots of a training run, saved as PNG files: loss and metric curves, the LR finder's sweep,
a confusion matrix. ``soma.inspection`` re-exports them; its pictures of a network's insides
(``inspection/visualize.py``) draw with ``pyplot`` and ``save_figure`` from here.

matplotlib is imported only when a plot is drawn (``pip install soma[plot]``) and always with
the non-interactive Agg backend, so plotting works on servers and in CI.
"""

import os

from soma.backend import get_xp
from soma.train.history import History

_xp = get_xp()


def pyplot():
    """matplotlib's ``pyplot`` with the Agg backend, imported when the first plot is drawn."""
    try:  # optional dependency: matplotlib stays out of ``import soma``
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install soma[plot]") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # (optional, as above)

    return plt


def save_figure(fig, path, tight_bbox: bool = False) -> str:
    """Write ``fig`` as a PNG atomically (temp file + ``os.replace``), close it, return the path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not tight_bbox:
        fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100, bbox_inches="tight" if tight_bbox else None)
    os.replace(tmp, path)  # never leave a half-written image behind
    pyplot().close(fig)
    return path


def _numeric(history, key) -> bool:
    values = history[key]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_history(history, path, keys=None, title: str | None = None) -> str:
    """Curves of a ``History``: one panel per quantity, training and validation together.

    Args:
        history: a ``soma.train.History`` (or its ``to_dict()``).
        path: the PNG file to write.
        keys: quantities to draw (default: every metric and the loss, plus ``lr`` if it varied).

    Returns:
        the path written.
    """
    if isinstance(history, dict):
        history = History.from_dict(history)
    if not len(history):
        raise ValueError("plot_history: the history has no epochs")
    if keys is None:
        keys = [
            k
            for k in history.keys()
            if not k.startswith("val_")
            and k not in ("epoch", "time", "lr")
            and _numeric(history, k)
        ]
        if "lr" in history and len(set(history["lr"])) > 1:
            keys.append("lr")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5), squeeze=False)
    epochs = history["epoch"]
    for ax, key in zip(axes[0], keys):
        label = "train" if key != "lr" else "lr"
        ax.plot(epochs, history[key], marker="o", markersize=3, label=label)
        if "val_" + key in history:
            ax.plot(epochs, history["val_" + key], marker="o", markersize=3, label="validation")
        if key == "lr":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_lr_find(result, path, title: str = "learning-rate finder") -> str:
    """The LR finder's sweep: raw and smoothed loss against the rate (log axis), suggestion
    marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses, alpha=0.3, label="loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed loss")
    if result.suggestion is not None:
        ax.axvline(
            result.suggestion,
            color="tab:red",
            linestyle="--",
            label=f"suggestion {result.suggestion:.2e}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if result.smoothed:  # the divergence at the end would squash the interesting part
        low, high = min(result.smoothed), result.smoothed[0]
        ax.set_ylim(low - 0.1 * abs(low), max(high, low) * 1.5 + 1e-12)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_confusion_matrix(
    matrix, path, class_names=None, normalize: bool = False, title: str = "confusion matrix"
) -> str:
    """A confusion matrix (true classes in rows, predictions in columns) with counts written in."""
    cm = _xp.asarray(matrix.array if hasattr(matrix, "array") else matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape {cm.shape}")
    shown = cm / _xp.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = len(cm)
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    plt = pyplot()
    size = min(max(4.0, 0.5 * n + 2), 16.0)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), names, rotation=45 if n > 10 else 0)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        threshold = shown.max() / 2 if shown.size else 0
        for i in range(n):
            for j in range(n):
                text = f"{shown[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shown[i, j] > threshold else "black",
                )
    return save_figure(fig, path)
