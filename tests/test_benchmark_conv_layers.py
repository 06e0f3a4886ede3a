"""The per-layer diagnostic counts a layer's work as a direct convolution does it."""

import numpy as np
import pytest
from benchmarks.conv_layers import LAYERS, blas_peak_gflops, direct_multiply_adds


def test_multiply_adds_worked_by_hand():
    # 2 images, 3 → 4 channels, 5×5, 3×3 kernel, padding 1: 5×5 outputs, each 3·9 products;
    # forward, input gradient and weight gradient as many each
    assert direct_multiply_adds((2, 3, 5, 4, 3, 1, 1, 1, "cl")) == 3 * (2 * 4 * 25 * 27)
    # depthwise (4 groups of one channel), stride 2: (8 + 2 − 3) // 2 + 1 = 4 outputs a side
    assert direct_multiply_adds((1, 4, 8, 4, 3, 2, 1, 4, "cm")) == 3 * (4 * 16 * 9)
    # the first layer ("nchw") has no input gradient
    assert direct_multiply_adds((2, 3, 5, 4, 3, 1, 1, 1, "nchw")) == 2 * (2 * 4 * 25 * 27)


@pytest.mark.parametrize("name", ["lenet conv1", "resnet18 layer2.0 s2", "mobilenet pw 64-64 @16"])
def test_multiply_adds_match_pytorchs_flop_counter(name):
    # NOTE: ungrouped layers only: PyTorch 2.13's counter counts a grouped convolution's input
    # gradient as if every group read all the input channels (for the 64-group depthwise layer
    # its backward counts 65 times the forward's multiplies, not 2)
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    n, c, size, o, k, s, p, g, kind = LAYERS[name]
    x = torch.zeros(n, c, size, size, requires_grad=kind != "nchw")
    w = torch.zeros(o, c // g, k, k, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.conv2d(x, w, None, s, p, 1, g).sum().backward()
    conv_flops = sum(
        count
        for op, count in counter.get_flop_counts()["Global"].items()
        if "convolution" in str(op)
    )
    assert conv_flops == 2 * direct_multiply_adds(LAYERS[name])


def test_blas_peak_is_a_positive_rate():
    ticks = iter(np.arange(0.0, 100.0, 0.5))  # every product "takes" half a second
    rate = blas_peak_gflops(lambda: next(ticks), size=8, repeats=3)
    assert rate == pytest.approx(2 * 8**3 / 0.5 / 1e9)
