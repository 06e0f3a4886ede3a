"""Learning on the synthetic shapes (32×32, 4 classes), short versions of
``examples/segmentation_shapes.py`` (whose full runs are reported in docs/MODELS.md)."""

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "segmentation_shapes.py"


@pytest.fixture(scope="module")
def train():
    return runpy.run_path(str(EXAMPLE))["train"]


@pytest.mark.slow
def test_unet_learns_to_segment_the_shapes(train):
    # measured: held-out mean IoU 0.637 (background 0.993), pixel accuracy 0.951, 9 s of CPU
    # (137 s wall on the shared, overloaded 2-core machine); the full run (1,536 images,
    # 20 epochs) is reported in docs/SEGMENTATION.md
    _, results, per_class, _, _ = train("unet", n_train=384, n_test=100, epochs=6, verbose=False)
    assert results["pixel_accuracy"] > 0.92
    assert results["mean_iou"] > 0.5
    assert per_class[0] > 0.97  # the background
