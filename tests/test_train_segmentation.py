"""Segmentation metrics (IoU, Dice, pixel accuracy) against scikit-learn and by hand, and the
plumbing that makes ``fit``/``evaluate`` report them for a segmentation task or loss."""

import numpy as np
import pytest

import soma
from soma.train import evaluate, fit
from soma.train.metrics import get_metric
from soma.train.metrics_segmentation import (
    Dice,
    IoU,
    MeanDice,
    MeanIoU,
    PixelAccuracy,
    dice_score,
    iou,
    mean_iou,
    pixel_accuracy,
)
from soma.train.tasks import default_metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")
RNG = np.random.default_rng(0)


def test_iou_and_dice_by_hand():
    pred = np.array([[[0, 1], [1, 1]]])
    true = np.array([[[0, 0], [1, 1]]])
    # class 0: TP 1, FP 0, FN 1 -> IoU 1/2, Dice 2/3; class 1: TP 2, FP 1, FN 0 -> 2/3, 4/5
    np.testing.assert_allclose(iou(pred, true, 2), [1 / 2, 2 / 3])
    np.testing.assert_allclose(dice_score(pred, true, 2), [2 / 3, 4 / 5])
    assert mean_iou(pred, true, 3) == pytest.approx(
        (1 / 2 + 2 / 3) / 2
    )  # class 2 absent: left out
    assert np.isnan(iou(pred, true, 3)[2])
    assert pixel_accuracy(pred, true) == 0.75


def test_metrics_match_sklearn_on_random_masks_with_scores():
    scores = RNG.standard_normal((3, 5, 7, 6)).astype(np.float32)  # (N, C, H, W)
    true = RNG.integers(0, 5, (3, 7, 6))
    pred = scores.argmax(1)
    labels = list(range(5))
    np.testing.assert_allclose(
        iou(scores, true, 5),
        sklearn_metrics.jaccard_score(true.ravel(), pred.ravel(), labels=labels, average=None),
    )
    np.testing.assert_allclose(
        dice_score(scores, true, 5),
        sklearn_metrics.f1_score(true.ravel(), pred.ravel(), labels=labels, average=None),
    )
    assert pixel_accuracy(scores, true) == pytest.approx(
        sklearn_metrics.accuracy_score(true.ravel(), pred.ravel())
    )


def test_ignore_index_pixels_are_not_counted():
    true = RNG.integers(0, 3, (2, 8, 8))
    pred = RNG.integers(0, 3, (2, 8, 8))
    true_ignored = true.copy()
    drop = RNG.random(true.shape) < 0.4
    true_ignored[drop] = 255
    keep = ~drop
    expected = sklearn_metrics.jaccard_score(
        true[keep], pred[keep], labels=[0, 1, 2], average=None
    )
    np.testing.assert_allclose(iou(pred, true_ignored, 3, ignore_index=255), expected)
    assert pixel_accuracy(pred, true_ignored, ignore_index=255) == pytest.approx(
        (pred[keep] == true[keep]).mean()
    )


def test_streaming_metrics_equal_the_whole_set_at_once():
    scores = RNG.standard_normal((6, 4, 5, 5)).astype(np.float32)
    true = RNG.integers(0, 4, (6, 5, 5))
    true[true == 3] = 255
    metrics = [MeanIoU(ignore_index=255), IoU(4, 255), MeanDice(4, 255), Dice(4, 255)]
    metrics.append(PixelAccuracy(ignore_index=255))
    for m in metrics:
        for i in range(0, 6, 2):
            m.update(scores[i : i + 2], true[i : i + 2])
    assert metrics[0].compute() == pytest.approx(mean_iou(scores, true, 4, 255))
    np.testing.assert_allclose(metrics[1].compute(), iou(scores, true, 4, 255))
    np.testing.assert_allclose(metrics[3].compute(), dice_score(scores, true, 4, 255))
    assert metrics[4].compute() == pytest.approx(pixel_accuracy(scores, true, 255))
    assert metrics[0].num_classes == 4  # taken from the scores' channels


def test_metric_names_and_task_defaults():
    assert isinstance(get_metric("mean_iou"), MeanIoU)
    assert isinstance(get_metric("pixel_accuracy"), PixelAccuracy)
    with pytest.raises(ValueError, match="mean_iou"):
        get_metric("no_such_metric")
    assert default_metrics(soma.nn.CrossEntropyLoss()) == ["accuracy"]
    assert default_metrics(soma.nn.CrossEntropyLoss(), "segmentation") == [
        "pixel_accuracy",
        "mean_iou",
    ]
    assert default_metrics(soma.nn.DiceLoss()) == ["pixel_accuracy", "mean_iou"]
    assert default_metrics(soma.nn.MSELoss()) == []
    with pytest.raises(ValueError, match="unknown task"):
        default_metrics(soma.nn.MSELoss(), "detection")


def test_fit_and_evaluate_report_iou_for_segmentation():
    soma.manual_seed(0)
    x = soma.randn(16, 1, 8, 8)
    y = (x[:, 0] > 0).long()  # a pixel is class 1 where it is bright: a 1×1 convolution learns it
    model = soma.nn.Conv2d(1, 2, 1)
    history = fit(model, (x, y), loss="cross_entropy", task="segmentation", epochs=30, lr=0.1,
                  batch_size=16, verbose=False)  # fmt: skip
    assert "mean_iou" in history.history and "pixel_accuracy" in history.history
    assert history["mean_iou"][-1] > 0.95
    logs = evaluate(model, (x, y), loss="dice_ce")
    assert set(logs) == {"loss", "pixel_accuracy", "mean_iou"}
    assert logs["mean_iou"] == pytest.approx(mean_iou(model(x), y, 2))
