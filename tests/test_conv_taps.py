"""Tap-by-tap convolution kernels for small inputs (``functional/conv/_taps.py``).

Checked against PyTorch (forward and the input, weight and bias gradients, float32 and float64;
1-, 2- and 3-D; strides, dilations, uneven kernels and paddings, taps that only read padding,
channels-last and NCHW inputs, the transposed convolution that shares the kernels), against the
im2col kernels directly, by float64 finite differences, and the boxes against a count worked by
hand. ``force_taps`` makes the chooser take these kernels for every one-group convolution, so
the comparisons cannot pass on another path; the last tests check where it takes them itself.
"""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.functional.conv import _im2col, _taps, _winograd, convolution
from soma.functional.conv._args import conv_geometry
from soma.testing import gradcheck
from tests.conv_checks import backward_and_compare, close


@pytest.fixture
def force_taps(monkeypatch):
    chooser = convolution._kernels
    calls = []

    def kernels(g, in_per_group, batch, dtype=None, out_channels=None):
        if batch and g.groups == 1 and np.dtype(dtype).kind == "f":
            calls.append(g)
            return _taps
        return chooser(g, in_per_group, batch, dtype, out_channels)

    monkeypatch.setattr(convolution, "_kernels", kernels)
    return calls


def _channels_last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)).transpose(
        0, a.ndim - 1, *range(1, a.ndim - 1)
    )


# (batch, in, out, input size, kernel, stride, padding, dilation, channels-last input)
CASES = [
    (2, 5, 4, (2, 2), (3, 3), 1, 1, 1, True),  # every output reads the whole input
    (3, 4, 6, (4, 4), (3, 3), 1, 1, 1, False),
    (1, 3, 2, (1, 1), (3, 3), 1, 1, 1, True),  # only the centre tap reads the input
    (2, 3, 4, (5, 3), (3, 3), 2, 1, 1, False),  # stride 2, odd sizes
    (2, 3, 4, (7, 6), (3, 3), 2, 2, 2, True),  # stride and dilation 2
    (2, 3, 2, (6, 5), (3, 2), (2, 1), (0, 3), (1, 2), False),  # uneven everything
    (1, 2, 3, (3, 3), (5, 5), 1, 2, 1, True),  # 5×5 kernel on a 3×3 input
    (2, 2, 3, (2, 2), (3, 3), 1, 3, 1, False),  # corner outputs read padding only
    (2, 3, 4, (5,), (3,), 1, 1, 1, False),  # 1-D
    (2, 3, 2, (2, 3, 2), (3, 3, 3), 1, 1, 1, False),  # 3-D
]


def _conv(module, nd):
    return getattr(module, f"conv{nd}d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, size, kernel, stride, padding, dilation, last", CASES)
def test_matches_torch(
    torch_or_skip, force_taps, dtype, n, c, o, size, kernel, stride, padding, dilation, last
):
    torch = torch_or_skip
    nd = len(size)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c) + size).astype(dtype)
    wt = rng.standard_normal((o, c) + kernel).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    xs = soma.Tensor(_channels_last(x) if last else x, dtype=x.dtype.name, requires_grad=True)
    ws, bs = soma.tensor(wt, requires_grad=True), soma.tensor(b, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_()
    wtt, bt = torch.from_numpy(wt).requires_grad_(), torch.from_numpy(b).requires_grad_()
    ys = _conv(F, nd)(xs, ws, bs, stride=stride, padding=padding, dilation=dilation)
    yt = _conv(torch.nn.functional, nd)(xt, wtt, bt, stride, padding, dilation)
    assert force_taps, "the tap kernels did not run"
    close(ys.detach().numpy(), yt.detach().numpy(), dtype, "forward")
    # outputs are (N, O, *out) views of channels-last memory, as from the im2col kernels
    assert np.moveaxis(ys.detach().numpy(), 1, -1).flags.c_contiguous
    pairs = [(xs, xt, "input"), (ws, wtt, "weight"), (bs, bt, "bias")]
    backward_and_compare(torch, ys, yt, pairs, dtype, rng)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 2)])
def test_transposed_matches_torch(torch_or_skip, force_taps, stride, padding):
    """conv_transpose2d runs the same kernels in the other order."""
    torch = torch_or_skip
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3, 4))
    wt = rng.standard_normal((5, 4, 3, 3))  # (in, out, 3, 3)
    b = rng.standard_normal(4)
    xs, ws, bs = (soma.tensor(a, requires_grad=True) for a in (x, wt, b))
    xt, wtt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, wt, b))
    ys = F.conv_transpose2d(xs, ws, bs, stride=stride, padding=padding)
    yt = torch.nn.functional.conv_transpose2d(xt, wtt, bt, stride=stride, padding=padding)
    assert force_taps
    close(ys.detach().numpy(), yt.detach().numpy(), np.float64, "forward")
    pairs = [(xs, xt, "input"), (ws, wtt, "weight"), (bs, bt, "bias")]
    backward_and_compare(torch, ys, yt, pairs, np.float64, rng)


@pytest.mark.parametrize("size, stride", [((2, 2), 1), ((4, 3), 1), ((5, 4), 2)])
def test_kernels_match_im2col(size, stride):
    """Each kernel against the im2col kernel of the same role, in float64."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6) + size)
    wt = rng.standard_normal((5, 6, 3, 3))
    b = rng.standard_normal(5)
    g = conv_geometry(x.shape, wt.shape, stride, 1, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((3, 5) + g.out_size)
    p_t, p_i = _taps.prepare(x, g), _im2col.prepare(x, g)
    wp_t, wp_i = _taps.prepare_weight(wt, g), _im2col.prepare_weight(wt, g)
    np.testing.assert_allclose(
        _taps.forward(p_t, wp_t, b, g), _im2col.forward(p_i, wp_i, b, g), rtol=1e-12
    )
    q_t, q_i = _taps.prepare_grad(gy, g), _im2col.prepare_grad(gy, g)
    np.testing.assert_allclose(
        _taps.grad_input(q_t, wp_t, g, 3), _im2col.grad_input(q_i, wp_i, g, 3), rtol=1e-12
    )
    np.testing.assert_allclose(
        _taps.grad_weight(q_t, p_t, g, wt.shape),
        _im2col.grad_weight(q_i, p_i, g, wt.shape),
        rtol=1e-12,
    )


@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 2, 1), (1, 2, 2)])
def test_gradcheck(force_taps, stride, padding, dilation):
    rng = np.random.default_rng(4)
    x = soma.tensor(rng.standard_normal((2, 3, 3, 2)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    b = soma.tensor(rng.standard_normal(2), requires_grad=True)

    def conv(x, w, b):
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    assert gradcheck(conv, (x, w, b))
    assert force_taps


def test_boxes_by_hand():
    """3×3 kernel, padding 1, a 2×2 input: the centre tap reads all four inputs, the edge taps
    two, the corner taps one (16 of im2col's 36 pairs); on a 4×4 input 100 of 144."""
    g = conv_geometry((1, 1, 2, 2), (1, 1, 3, 3), 1, 1, 1, 1, 2, "conv2d")
    sizes = [(o[0].stop - o[0].start) * (o[1].stop - o[1].start) for o, _ in _taps.tap_boxes(g)]
    assert sizes == [1, 2, 1, 2, 4, 2, 1, 2, 1]
    # tap (0, 0) reads input (0, 0) at output (1, 1)
    assert _taps.tap_boxes(g)[0] == ((slice(1, 2), slice(1, 2)), (slice(0, 1, 1), slice(0, 1, 1)))
    assert _taps.useful_share(g) == pytest.approx(16 / 36)
    g4 = conv_geometry((1, 1, 4, 4), (1, 1, 3, 3), 1, 1, 1, 1, 2, "conv2d")
    assert _taps.useful_share(g4) == pytest.approx(100 / 144)
    # padding 3 on a 2×2 input (6×6 outputs): output p reads input p − 3 through tap 0, so
    # only outputs 3 and 4 reach the input, and they read inputs 0 and 1
    g3 = conv_geometry((1, 1, 2, 2), (1, 1, 3, 3), 1, 3, 1, 1, 2, "conv2d")
    assert _taps.tap_boxes(g3)[0] == ((slice(3, 5),) * 2, (slice(0, 2, 1),) * 2)


def test_a_tap_that_reads_only_padding_gets_a_zero_gradient():
    # a 1×1 input with padding 1 (a 1×1 output): only the centre tap reads it
    g = conv_geometry((2, 3, 1, 1), (4, 3, 3, 3), 1, 1, 1, 1, 2, "conv2d")
    boxes = _taps.tap_boxes(g)
    assert [box is not None for box in boxes] == [t == 4 for t in range(9)]
    rng = np.random.default_rng(5)
    x, gy = rng.standard_normal((2, 3, 1, 1)), rng.standard_normal((2, 4, 1, 1))
    gw = _taps.grad_weight(_taps.prepare_grad(gy, g), _taps.prepare(x, g), g, (4, 3, 3, 3))
    expected = np.zeros((4, 3, 3, 3))
    expected[:, :, 1, 1] = np.einsum("no,nc->oc", gy[:, :, 0, 0], x[:, :, 0, 0])
    np.testing.assert_allclose(gw, expected, rtol=1e-12)


def _geometry(n, c, size, o, stride=1):
    return conv_geometry((n, c, size, size), (o, c, 3, 3), stride, 1, 1, 1, 2, "conv2d")


def test_chooser_takes_taps_for_small_wide_inputs():
    # VGG-11's 512→512 layers at 2×2 (CIFAR), and a 3×3 input
    assert convolution._kernels(_geometry(16, 512, 2, 512), 512, 16, np.float32, 512) is _taps
    assert convolution._kernels(_geometry(16, 256, 3, 256), 256, 16, np.float32, 256) is _taps
    # 4×4 inputs (100 of 144 pairs read the input) stay on Winograd
    assert convolution._kernels(_geometry(16, 512, 4, 512), 512, 16, np.float32, 512) is _winograd
    # too few channels or too little work: im2col
    assert convolution._kernels(_geometry(16, 32, 2, 32), 32, 16, np.float32, 32) is _im2col
    assert convolution._kernels(_geometry(4, 64, 2, 64), 64, 4, np.float32, 64) is _im2col


def test_public_conv2d_runs_taps(torch_or_skip, monkeypatch):
    """Without forcing: VGG-11's 2×2 layer (batch 2) goes through the tap kernels."""
    torch = torch_or_skip
    calls = []
    forward = _taps.forward
    monkeypatch.setattr(_taps, "forward", lambda *a: calls.append(1) or forward(*a))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 512, 2, 2)).astype(np.float32)
    w = (rng.standard_normal((512, 512, 3, 3)) * 0.05).astype(np.float32)
    y = F.conv2d(soma.Tensor(_channels_last(x)), soma.tensor(w), padding=1)
    assert calls == [1]
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    close(y.numpy(), expected.numpy(), np.float32, "forward")
