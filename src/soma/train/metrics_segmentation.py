"""Segmentation metrics: per-class and mean IoU (Jaccard index), Dice, pixel accuracy.

All come from one confusion matrix over the pixels (true class in rows, predicted in columns):
for class c with TP_c on the diagonal, FP_c the rest of its column and FN_c the rest of its row,

    IoU_c  = TP_c / (TP_c + FP_c + FN_c)          (|P ∩ G| / |P ∪ G|)
    Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c)      (2 |P ∩ G| / (|P| + |G|))
    pixel accuracy = Σ_c TP_c / number of pixels

A class absent from both prediction and target has no IoU (NaN per class) and is left out of
the means, as in torchmetrics' and the PASCAL VOC / Cityscapes evaluations. ``ignore_index``
pixels (e.g. 255, the VOC border) are dropped before counting. Outputs may be scores
(N, C, H, W) (arg-max over dim 1) or labels (N, H, W).
"""

from soma.backend import get_xp
from soma.train.metrics import ConfusionMatrix, _array, confusion_matrix, predicted_labels

_xp = get_xp()


def _valid(pred, t, ignore_index):
    if ignore_index is None:
        return pred, t
    keep = t != ignore_index
    return pred[keep], t[keep]


def segmentation_confusion(output, target, num_classes: int, ignore_index=None):
    """The pixels' confusion matrix (num_classes, num_classes), ignored pixels dropped."""
    pred, t = predicted_labels(output, target)
    pred, t = _valid(pred.reshape(-1), t.reshape(-1), ignore_index)
    return confusion_matrix(pred, t, num_classes)


def _per_class(cm, dice: bool):
    cm = cm.astype(_xp.float64)
    tp = _xp.diag(cm)
    fp_fn = cm.sum(axis=0) + cm.sum(axis=1) - 2 * tp
    num = 2 * tp if dice else tp
    den = num + fp_fn
    out = _xp.full(len(tp), _xp.nan)
    _xp.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(values) -> float:
    present = values[~_xp.isnan(values)]
    return float(present.mean()) if present.size else float("nan")


def iou(output, target, num_classes: int, ignore_index=None):
    """Per-class IoU (float64 array; NaN for a class absent from prediction and target).

    Example:
        >>> iou([[0, 1, 1, 1]], [[0, 0, 1, 1]], num_classes=3).tolist()
        [0.5, 0.6666666666666666, nan]
    """
    return _per_class(segmentation_confusion(output, target, num_classes, ignore_index), False)


def mean_iou(output, target, num_classes: int, ignore_index=None) -> float:
    """Mean of the per-class IoU over the classes present (the "mIoU").

    Example:
        >>> round(mean_iou([[0, 1, 1, 1]], [[0, 0, 1, 1]], num_classes=3), 4)
        0.5833
    """
    return _nanmean(iou(output, target, num_classes, ignore_index))


def dice_score(output, target, num_classes: int, ignore_index=None):
    """Per-class Dice coefficient (F1 of the pixels of each class; NaN when absent).

    Example:
        >>> dice_score([[0, 1, 1, 1]], [[0, 0, 1, 1]], num_classes=2).tolist()
        [0.6666666666666666, 0.8]
    """
    return _per_class(segmentation_confusion(output, target, num_classes, ignore_index), True)


def pixel_accuracy(output, target, ignore_index=None) -> float:
    """Fraction of (non-ignored) pixels labelled correctly.

    Example:
        >>> pixel_accuracy([[0, 1, 1, 1]], [[0, 0, 1, 1]])
        0.75
    """
    pred, t = predicted_labels(output, target)
    pred, t = _valid(pred.reshape(-1), t.reshape(-1), ignore_index)
    return float((pred == t).mean()) if t.size else 0.0


class _PixelConfusion(ConfusionMatrix):
    """A streaming pixel confusion matrix that drops ``ignore_index`` pixels."""

    def __init__(self, num_classes: int | None = None, ignore_index=None):
        self.ignore_index = ignore_index
        super().__init__(num_classes)

    def update(self, output, target):
        pred, t = predicted_labels(output, target)
        pred, t = _valid(pred.reshape(-1), t.reshape(-1), self.ignore_index)
        scores = _array(output)
        if self.num_classes is None and scores.ndim == _array(target).ndim + 1:
            self.num_classes = scores.shape[1]  # scores say how many classes there are
            self.reset()
        super().update(pred, t)

    def __repr__(self):
        return f"{type(self).__name__}(num_classes={self.num_classes})"


class MeanIoU(_PixelConfusion):
    """Streaming mean IoU over the classes present.

    Example:
        >>> m = MeanIoU(3); m.update([[0, 1]], [[0, 0]]); m.update([[1, 1]], [[1, 1]])
        >>> round(m.compute(), 4)
        0.5833
    """

    name = "mean_iou"

    def compute(self) -> float:
        return _nanmean(_per_class(self.matrix, False))


class IoU(_PixelConfusion):
    """Streaming per-class IoU (an array; NaN for absent classes)."""

    name = "iou"

    def compute(self):
        return _per_class(self.matrix, False)


class MeanDice(_PixelConfusion):
    """Streaming mean Dice coefficient over the classes present."""

    name = "mean_dice"

    def compute(self) -> float:
        return _nanmean(_per_class(self.matrix, True))


class Dice(_PixelConfusion):
    """Streaming per-class Dice coefficient (an array)."""

    name = "dice"

    def compute(self):
        return _per_class(self.matrix, True)


class PixelAccuracy(_PixelConfusion):
    """Streaming pixel accuracy (ignored pixels not counted)."""

    name = "pixel_accuracy"

    def compute(self) -> float:
        total = self.matrix.sum()
        return float(_xp.trace(self.matrix) / total) if total else 0.0


SEGMENTATION_METRICS = {
    "mean_iou": MeanIoU,
    "miou": MeanIoU,
    "iou": IoU,
    "jaccard": IoU,
    "mean_dice": MeanDice,
    "dice": Dice,
    "pixel_accuracy": PixelAccuracy,
}

__all__ = [
    "Dice",
    "IoU",
    "MeanDice",
    "MeanIoU",
    "PixelAccuracy",
    "SEGMENTATION_METRICS",
    "dice_score",
    "iou",
    "mean_iou",
    "pixel_accuracy",
    "segmentation_confusion",
]
