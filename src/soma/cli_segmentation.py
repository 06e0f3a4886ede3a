"""What ``soma train`` / ``soma evaluate`` do differently for segmentation data.

A dataset whose splits say ``task="segmentation"`` (``shapes``, ``digit_canvas``) is trained
with per-pixel cross-entropy plus soft Dice (``DiceCELoss``) and reports pixel accuracy and mean IoU each epoch; the test
report adds the IoU of every class, and the run folder gets ``masks.png``: test inputs with
their true and predicted masks drawn over them. ``--augment`` flips and shifts images and
masks together.
"""

import os

from soma.data.mask_transforms import (
    JointCompose,
    JointRandomCrop,
    JointRandomHorizontalFlip,
    JointRandomVerticalFlip,
)
from soma.inspection.segmentation import plot_segmentation, predict_masks
from soma.train.metrics_segmentation import IoU
from soma.train.workflow import RunError, check_labels

SEGMENTATION_METRICS = ["pixel_accuracy", "mean_iou"]


def segmentation_task(prepared, num_classes=None) -> dict:
    """Loss, metrics and number of outputs for a segmentation dataset."""
    if tuple(prepared.input_shape) != tuple(prepared.source_shape):
        raise RunError(
            f"segmentation data of size {prepared.source_shape} cannot be resized to "
            f"{prepared.input_shape} (the masks would not follow); choose a model that takes "
            "this size",
            usage=True,
        )
    num_classes = num_classes or prepared.num_classes
    check_labels(prepared, num_classes)
    return {
        "task": "segmentation",
        "loss": "dice_ce",  # Dice tells the small shape classes apart sooner than CE alone
        "metrics": list(SEGMENTATION_METRICS),
        "num_classes": num_classes,
    }


def test_metrics(task) -> list:
    """Pixel accuracy, mean IoU and the per-class IoU (popped as ``"iou"`` from the results)."""
    return [*SEGMENTATION_METRICS, IoU(task["num_classes"])]


def augment_jointly(prepared) -> None:
    """Random flips and shifts (by up to 1/16 of the size) of training images and masks."""
    size = tuple(prepared.input_shape[1:])
    pad = max(1, round(size[0] / 16))
    prepared.train.transforms = JointCompose(
        [
            JointRandomHorizontalFlip(),
            JointRandomVerticalFlip(),
            JointRandomCrop(size, padding=pad),
        ]
    )


def segmentation_outputs(model, prepared, per_class_iou, out) -> list:
    """Print the IoU of each class and draw ``masks.png``; returns the files written."""
    names = list(prepared.classes) or [str(c) for c in range(len(per_class_iou))]
    shown = "  ".join(f"{name} {value:.3f}" for name, value in zip(names, per_class_iou))
    print(f"test IoU per class: {shown}")
    test = prepared.test
    images, masks = test.get_batch(list(range(min(8, len(test)))))
    predictions = predict_masks(model, images)
    raw = test.images[: len(predictions)]  # draw the un-normalised inputs
    try:
        path = plot_segmentation(
            raw, masks, predictions, os.path.join(out, "masks.png"), classes=names
        )
    except ImportError as error:
        print(f"(no mask picture: {error})")
        return []
    return [path]


__all__ = ["augment_jointly", "segmentation_outputs", "segmentation_task", "test_metrics"]
