"""Metrics: how good predictions are, as functions and as objects accumulated over batches.

The functions take tensors or arrays. Classification metrics accept either class scores of
shape ``(N, C, ...)`` (the predicted class is the arg-max over dim 1) or predicted labels of
the target's shape ``(N, ...)``. Conventions follow scikit-learn: confusion matrices have true
classes in rows and predicted classes in columns; a precision or recall whose denominator is
zero counts as 0 (sklearn's ``zero_division=0``); with ``num_classes`` every class in
``range(num_classes)`` is counted even when absent, as sklearn does with ``labels=range(C)``.

The streaming classes (``Accuracy()``, ``F1Score()`` …) have ``update(output, target)``,
``compute()`` and ``reset()``; ``fit`` and ``evaluate`` accept them or their names.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def _array(x):
    if isinstance(x, Tensor):
        return x.detach().array
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor, without importing torch
        return _xp.asarray(x.detach().cpu().numpy())
    return _xp.asarray(x)


def predicted_labels(output, target):
    """Labels from ``output``: the arg-max over dim 1 for scores, else ``output`` itself."""
    out, t = _array(output), _array(target)
    if out.ndim == t.ndim + 1:
        return out.argmax(axis=1), t
    if out.shape != t.shape:
        raise ValueError(
            f"metrics: output shape {tuple(out.shape)} fits neither target shape "
            f"{tuple(t.shape)} (labels) nor (N, C, ...) scores for it"
        )
    return out, t


def accuracy(output, target) -> float:
    """Fraction of predictions equal to the target.

    Example:
        >>> accuracy([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 1, 1])
        0.6666666666666666
    """
    pred, t = predicted_labels(output, target)
    return float((pred == t).mean()) if t.size else 0.0


def top_k_accuracy(output, target, k: int = 5) -> float:
    """Fraction of samples whose target is among the ``k`` highest scores (output ``(N, C)``)."""
    return _top_k_hits(output, target, k) / max(_array(target).size, 1)


def _top_k_hits(output, target, k):
    scores, t = _array(output), _array(target)
    if scores.ndim != 2 or t.shape != scores.shape[:1]:
        raise ValueError(
            f"top_k_accuracy: expected scores (N, C) and targets (N,), got "
            f"{tuple(scores.shape)} and {tuple(t.shape)}"
        )
    k = min(k, scores.shape[1])
    top = _xp.argpartition(-scores, k - 1, axis=1)[:, :k]
    return int((top == t[:, None]).any(axis=1).sum())


def confusion_matrix(output, target, num_classes: int | None = None):
    """Counts ``m[i, j]`` of samples of true class ``i`` predicted as class ``j`` (int64).

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
        [[1, 1], [0, 1]]
    """
    pred, t = predicted_labels(output, target)
    pred, t = pred.reshape(-1).astype(_xp.int64), t.reshape(-1).astype(_xp.int64)
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), t.max(initial=-1))) + 1
    for name, labels in (("target", t), ("prediction", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)]
            raise ValueError(
                f"confusion_matrix: {name} labels outside [0, {num_classes}): "
                f"{sorted(set(bad.tolist()))[:10]}"
            )
    flat = _xp.bincount(t * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _scores_from_matrix(cm, average):
    """Precision, recall and F1 from a confusion matrix, per class or averaged."""
    cm = cm.astype(_xp.float64)
    tp = _xp.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    if average == "micro":
        total = cm.sum()
        p = r = tp.sum() / total if total else 0.0
        return float(p), float(r), float(p)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, actual)
    f1 = _safe_div(2 * tp, predicted + actual)  # = 2PR/(P+R), 0 where both are 0
    if average is None:
        return precision, recall, f1
    if average == "macro":
        return float(precision.mean()), float(recall.mean()), float(f1.mean())
    if average == "weighted":
        w = _safe_div(actual, _xp.full_like(actual, actual.sum()))
        return float(precision @ w), float(recall @ w), float(f1 @ w)
    raise ValueError(f"average must be None, 'macro', 'micro' or 'weighted', got {average!r}")


def _safe_div(a, b):
    out = _xp.zeros_like(a)
    _xp.divide(a, b, out=out, where=b != 0)
    return out


def precision_recall_f1(output, target, num_classes=None, average: str | None = None):
    """Precision, recall and F1 together: per class (``average=None``) or averaged.

    ``average`` is ``'macro'`` (unweighted mean over classes), ``'micro'`` (global counts)
    or ``'weighted'`` (mean weighted by each class's support), as in scikit-learn.
    """
    return _scores_from_matrix(confusion_matrix(output, target, num_classes), average)


def precision(output, target, num_classes=None, average: str | None = "macro"):
    """Of the samples predicted as a class, the fraction that belong to it."""
    return precision_recall_f1(output, target, num_classes, average)[0]


def recall(output, target, num_classes=None, average: str | None = "macro"):
    """Of the samples of a class, the fraction predicted as it."""
    return precision_recall_f1(output, target, num_classes, average)[1]


def f1_score(output, target, num_classes=None, average: str | None = "macro"):
    """Harmonic mean of precision and recall, 2PR / (P + R).

    Example:
        >>> round(f1_score([0, 1, 1, 2], [0, 1, 2, 2]), 4)
        0.7778
    """
    return precision_recall_f1(output, target, num_classes, average)[2]


def mean_squared_error(output, target) -> float:
    """mean((output − target)²)."""
    d = _array(output).astype(_xp.float64) - _array(target).astype(_xp.float64)
    return float((d * d).mean())


def mean_absolute_error(output, target) -> float:
    """mean(|output − target|)."""
    d = _array(output).astype(_xp.float64) - _array(target).astype(_xp.float64)
    return float(_xp.abs(d).mean())


# ---------------------------------------------------------------------- streaming metrics
class Metric:
    """A metric accumulated batch by batch: ``update`` per batch, ``compute`` at the end."""

    name = "metric"
    higher_is_better = True

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output, target) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Mean(Metric):
    """The running mean of values, each weighted by its count (e.g. per-batch losses)."""

    name = "mean"
    higher_is_better = False

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, value, n: int = 1):
        self.total += float(_array(value)) * n
        self.count += n

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class Accuracy(Metric):
    """Streaming ``accuracy``.

    Example:
        >>> m = Accuracy(); m.update([1, 0], [1, 1]); m.update([2], [2]); m.compute()
        0.6666666666666666
    """

    name = "accuracy"

    def reset(self):
        self.correct, self.total = 0, 0

    def update(self, output, target):
        pred, t = predicted_labels(output, target)
        self.correct += int((pred == t).sum())
        self.total += int(t.size)

    def compute(self) -> float:
        return self.correct / self.total if self.total else 0.0


class TopKAccuracy(Metric):
    """Streaming ``top_k_accuracy``; named ``top5_accuracy`` for k = 5."""

    def __init__(self, k: int = 5):
        self.k = k
        self.name = f"top{k}_accuracy"
        super().__init__()

    def reset(self):
        self.hits, self.total = 0, 0

    def update(self, output, target):
        self.hits += _top_k_hits(output, target, self.k)
        self.total += int(_array(target).size)

    def compute(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def __repr__(self):
        return f"TopKAccuracy(k={self.k})"


class ConfusionMatrix(Metric):
    """Streaming ``confusion_matrix``; grows to the largest class seen without ``num_classes``."""

    name = "confusion_matrix"

    def __init__(self, num_classes: int | None = None):
        self.num_classes = num_classes
        super().__init__()

    def reset(self):
        self.matrix = _xp.zeros((self.num_classes or 0,) * 2, dtype=_xp.int64)

    def update(self, output, target):
        pred, t = predicted_labels(output, target)
        n = self.num_classes
        if n is None:
            scores = _array(output)
            width = scores.shape[1] if scores.ndim == t.ndim + 1 else 0
            n = max(len(self.matrix), width, int(max(pred.max(initial=-1), t.max(initial=-1))) + 1)
        cm = confusion_matrix(pred, t, n)
        if len(self.matrix) < n:
            grown = _xp.zeros((n, n), dtype=_xp.int64)
            grown[: len(self.matrix), : len(self.matrix)] = self.matrix
            self.matrix = grown
        self.matrix += cm

    def compute(self):
        return self.matrix.copy()


class _FromConfusion(ConfusionMatrix):
    index = 0

    def __init__(self, num_classes=None, average: str | None = "macro"):
        self.average = average
        super().__init__(num_classes)

    def compute(self):
        return _scores_from_matrix(self.matrix, self.average)[self.index]

    def __repr__(self):
        return f"{type(self).__name__}(average={self.average!r})"


class Precision(_FromConfusion):
    """Streaming ``precision`` (macro-averaged by default)."""

    name, index = "precision", 0


class Recall(_FromConfusion):
    """Streaming ``recall`` (macro-averaged by default)."""

    name, index = "recall", 1


class F1Score(_FromConfusion):
    """Streaming ``f1_score`` (macro-averaged by default)."""

    name, index = "f1", 2


class _ErrorMean(Metric):
    higher_is_better = False

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, output, target):
        d = _array(output).astype(_xp.float64) - _array(target).astype(_xp.float64)
        self.total += float(self._error(d).sum())
        self.count += int(d.size)

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class MeanSquaredError(_ErrorMean):
    """Streaming ``mean_squared_error``."""

    name = "mse"

    @staticmethod
    def _error(d):
        return d * d


class MeanAbsoluteError(_ErrorMean):
    """Streaming ``mean_absolute_error``."""

    name = "mae"

    @staticmethod
    def _error(d):
        return _xp.abs(d)


_BY_NAME = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "f1_score": F1Score,
    "confusion_matrix": ConfusionMatrix,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}


def get_metric(metric) -> Metric:
    """A fresh streaming metric from a name (``'accuracy'``, ``'top5_accuracy'``, ``'f1'`` …)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        name = metric.lower()
        if name.startswith("top") and name.endswith("_accuracy") and name[3:-9].isdigit():
            return TopKAccuracy(int(name[3:-9]))
        if name in _BY_NAME:
            return _BY_NAME[name]()
        # metrics_segmentation builds on this module: imported at call time (cycle)
        from soma.train.metrics_segmentation import SEGMENTATION_METRICS

        if name in SEGMENTATION_METRICS:
            return SEGMENTATION_METRICS[name]()
        known = sorted(_BY_NAME) + sorted(SEGMENTATION_METRICS)
        raise ValueError(f"unknown metric {metric!r}; known: {known} and 'topK_accuracy'")
    raise TypeError(
        f"a metric must be a name or a soma.train.metrics.Metric, got {type(metric).__name__}"
    )
