"""Bad shapes and sizes given to the functional ops raise errors PyTorch code catches.

PyTorch raises ``RuntimeError`` for these; soma's habit is ``ValueError``. Errors leaving a
``Function`` or ``Module`` call were already both (``ShapeError``); until stop 43 the
functional forms' own argument checks (pooling windows, convolution geometry, normalization
shapes, padding, fold/unfold, pixel shuffle) raised a plain ``ValueError``, which
``except RuntimeError:`` missed.
"""

import pytest

import soma

# each builds a call that PyTorch 2.13 refuses with RuntimeError
CASES = {
    "max_pool2d output too small": lambda L: L.nn.functional.max_pool2d(L.zeros(1, 1, 2, 2), 3),
    "avg_pool3d output too small": lambda L: L.nn.functional.avg_pool3d(L.zeros(1, 1, 2, 2, 2), 3),
    "max_pool1d output too small": lambda L: L.nn.functional.max_pool1d(L.zeros(1, 1, 2), 3),
    "max_pool2d padding over half": lambda L: L.nn.functional.max_pool2d(
        L.zeros(1, 1, 8, 8), 2, padding=2
    ),
    "max_pool2d zero kernel": lambda L: L.nn.functional.max_pool2d(L.zeros(1, 1, 8, 8), 0),
    "max_pool2d 2-D input": lambda L: L.nn.functional.max_pool2d(L.zeros(8, 8), 2),
    "avg_pool2d zero divisor": lambda L: L.nn.functional.avg_pool2d(
        L.zeros(1, 1, 8, 8), 2, divisor_override=0
    ),
    "adaptive_avg_pool2d negative size": lambda L: L.nn.functional.adaptive_avg_pool2d(
        L.zeros(1, 1, 8, 8), -1
    ),
    "conv2d zero stride": lambda L: L.nn.functional.conv2d(
        L.zeros(1, 1, 8, 8), L.zeros(1, 1, 3, 3), stride=0
    ),
    "conv2d kernel over input": lambda L: L.nn.functional.conv2d(
        L.zeros(1, 1, 2, 2), L.zeros(1, 1, 3, 3)
    ),
    "conv2d channels": lambda L: L.nn.functional.conv2d(L.zeros(1, 2, 8, 8), L.zeros(1, 1, 3, 3)),
    "conv_transpose2d channels": lambda L: L.nn.functional.conv_transpose2d(
        L.zeros(1, 2, 4, 4), L.zeros(1, 1, 3, 3)
    ),
    "batch_norm running stats": lambda L: L.nn.functional.batch_norm(
        L.zeros(2, 3, 4), L.zeros(4), L.ones(4)
    ),
    "layer_norm shape": lambda L: L.nn.functional.layer_norm(L.zeros(2, 3), (4,)),
    "group_norm groups": lambda L: L.nn.functional.group_norm(L.zeros(2, 6, 4), 4),
    "pad odd length": lambda L: L.nn.functional.pad(L.zeros(2, 3), (1, 2, 3)),
    "unfold kernel over input": lambda L: L.nn.functional.unfold(L.zeros(1, 1, 2, 2), 3),
    "pixel_shuffle channels": lambda L: L.nn.functional.pixel_shuffle(L.zeros(1, 3, 2, 2), 2),
    "t of a 3-D tensor": lambda L: L.zeros(2, 3, 4).t(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_soma_raises_an_error_both_habits_catch(name):
    with pytest.raises(RuntimeError) as caught:
        CASES[name](soma)
    assert isinstance(caught.value, ValueError)  # soma's own habit still works


@pytest.mark.parametrize("name", sorted(CASES))
def test_pytorch_raises_runtime_error_there(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        CASES[name](torch)
