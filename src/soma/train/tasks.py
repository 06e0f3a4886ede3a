"""What a task implies for training: the metrics ``fit`` and ``evaluate`` report by default.

``fit(model, data, loss=..., task="segmentation")`` reports pixel accuracy and mean IoU; without
``task`` the loss decides: cross-entropy and NLL mean classification (accuracy), the
segmentation losses (Dice, focal, Dice + cross-entropy) mean segmentation, anything else
(MSE, L1 …) reports only the loss.
"""

TASK_METRICS = {
    "classification": ["accuracy"],
    "segmentation": ["pixel_accuracy", "mean_iou"],
    "regression": [],
}

_LOSS_TASKS = {
    "CrossEntropyLoss": "classification",
    "NLLLoss": "classification",
    "DiceLoss": "segmentation",
    "FocalLoss": "segmentation",
    "DiceCELoss": "segmentation",
}


def task_of(loss_fn, task: str | None = None) -> str | None:
    """``task`` when given (checked), else the task the loss implies (None when unknown)."""
    if task is not None:
        if task not in TASK_METRICS:
            raise ValueError(f"unknown task {task!r}; known: {sorted(TASK_METRICS)}")
        return task
    return _LOSS_TASKS.get(type(loss_fn).__name__)


def default_metrics(loss_fn, task: str | None = None) -> list:
    """Metric names for ``task`` (or the loss's task); ``[]`` when neither says.

    Example:
        >>> import soma
        >>> default_metrics(soma.nn.CrossEntropyLoss(), "segmentation")
        ['pixel_accuracy', 'mean_iou']
        >>> default_metrics(soma.nn.DiceLoss())
        ['pixel_accuracy', 'mean_iou']
    """
    return list(TASK_METRICS.get(task_of(loss_fn, task), []))


__all__ = ["TASK_METRICS", "default_metrics", "task_of"]
