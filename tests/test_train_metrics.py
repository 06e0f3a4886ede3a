"""Metrics against scikit-learn: the functions, and the streaming objects over batches."""

import numpy as np
import pytest
from sklearn import metrics as skm

import soma
from soma.train import metrics as M


def _data(n=300, c=6, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, c)).astype(np.float32)
    target = rng.integers(0, c, size=n)
    return scores, target


def test_accuracy_matches_sklearn_for_scores_labels_and_tensors():
    scores, target = _data()
    expected = skm.accuracy_score(target, scores.argmax(1))
    assert M.accuracy(scores, target) == pytest.approx(expected)
    assert M.accuracy(scores.argmax(1), target) == pytest.approx(expected)
    assert M.accuracy(soma.tensor(scores), soma.tensor(target)) == pytest.approx(expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_matches_sklearn(k):
    scores, target = _data()
    expected = skm.top_k_accuracy_score(target, scores, k=k, labels=range(6))
    assert M.top_k_accuracy(scores, target, k=k) == pytest.approx(expected)


def test_confusion_matrix_matches_sklearn():
    scores, target = _data()
    expected = skm.confusion_matrix(target, scores.argmax(1), labels=range(6))
    np.testing.assert_array_equal(M.confusion_matrix(scores, target), expected)
    np.testing.assert_array_equal(
        M.confusion_matrix(scores, target, num_classes=8)[:6, :6], expected
    )


@pytest.mark.parametrize("average", [None, "macro", "micro", "weighted"])
def test_precision_recall_f1_match_sklearn(average):
    scores, target = _data(n=80, c=7, seed=3)  # small n: some classes are never predicted
    pred = scores.argmax(1)
    p, r, f, _ = skm.precision_recall_fscore_support(
        target, pred, labels=range(7), average=average, zero_division=0
    )
    np.testing.assert_allclose(M.precision(scores, target, num_classes=7, average=average), p)
    np.testing.assert_allclose(M.recall(scores, target, num_classes=7, average=average), r)
    np.testing.assert_allclose(M.f1_score(scores, target, num_classes=7, average=average), f)


def test_zero_division_counts_as_zero():
    # class 2 is never predicted and class 3 never occurs: both give 0, as sklearn's zero_division=0
    pred, target = np.array([0, 1, 1, 3]), np.array([0, 1, 2, 2])
    p = M.precision(pred, target, num_classes=4, average=None)
    r = M.recall(pred, target, num_classes=4, average=None)
    np.testing.assert_allclose(
        p, skm.precision_score(target, pred, labels=range(4), average=None, zero_division=0)
    )
    np.testing.assert_allclose(
        r, skm.recall_score(target, pred, labels=range(4), average=None, zero_division=0)
    )


def test_regression_errors_match_sklearn():
    rng = np.random.default_rng(1)
    y, t = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert M.mean_squared_error(y, t) == pytest.approx(skm.mean_squared_error(t, y))
    assert M.mean_absolute_error(y, t) == pytest.approx(skm.mean_absolute_error(t, y))


def _stream(metric, scores, target, batch=37):
    metric.reset()
    for i in range(0, len(target), batch):
        metric.update(soma.tensor(scores[i : i + batch]), soma.tensor(target[i : i + batch]))
    return metric.compute()


def test_streaming_metrics_equal_whole_data_values():
    scores, target = _data(n=301, c=5, seed=7)
    pred = scores.argmax(1)
    assert _stream(M.Accuracy(), scores, target) == pytest.approx(skm.accuracy_score(target, pred))
    assert _stream(M.TopKAccuracy(3), scores, target) == pytest.approx(
        skm.top_k_accuracy_score(target, scores, k=3)
    )
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert _stream(M.get_metric(name), scores, target) == pytest.approx(
            fn(target, pred, average="macro", zero_division=0)
        ), name
    np.testing.assert_array_equal(
        _stream(M.ConfusionMatrix(), scores, target), skm.confusion_matrix(target, pred)
    )
    y = scores[:, :2]
    t = scores[:, 2:4]
    assert _stream(M.MeanSquaredError(), y, t) == pytest.approx(skm.mean_squared_error(t, y))
    assert _stream(M.MeanAbsoluteError(), y, t) == pytest.approx(skm.mean_absolute_error(t, y))


def test_confusion_matrix_grows_with_the_classes_it_sees():
    m = M.ConfusionMatrix()
    m.update(np.array([0, 1]), np.array([0, 1]))
    m.update(np.array([3]), np.array([2]))
    assert m.compute().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_get_metric_names_and_errors():
    assert isinstance(M.get_metric("top5_accuracy"), M.TopKAccuracy)
    assert M.get_metric("top5_accuracy").k == 5
    assert M.get_metric("acc").name == "accuracy"
    with pytest.raises(ValueError, match="unknown metric 'bogus'"):
        M.get_metric("bogus")


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"output shape \(4, 3, 2\)"):
        M.accuracy(np.zeros((4, 3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="outside"):
        M.confusion_matrix(np.array([0, 5]), np.array([0, 1]), num_classes=3)
