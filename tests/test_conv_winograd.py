"""Winograd F(2×2, 3×3) convolution kernels (``functional/conv/_winograd.py``).

Checked against PyTorch (forward and the input, weight and bias gradients, float32 and float64,
odd and even sizes, 1×1 outputs, paddings 0–3, batch 1, channels-last and NCHW inputs, the
transposed convolution that shares the kernels), against the im2col kernels directly, and by
float64 finite differences. ``force_winograd`` makes the chooser take these kernels for every
3×3 stride-1 convolution, whatever its size; the last tests check that it takes them on its own
for a ResNet-like layer, so the comparisons cannot pass on the im2col path.
"""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.functional.conv import _im2col, _winograd, _winograd4, convolution
from soma.functional.conv._args import conv_geometry
from soma.testing import gradcheck
from tests.conv_checks import backward_and_compare, close


@pytest.fixture
def force_winograd(monkeypatch):
    chooser = convolution._kernels
    calls = []

    def kernels(g, in_per_group, batch, dtype=None, out_channels=None):
        if batch and _winograd.applies(g):
            calls.append(g)
            return _winograd
        return chooser(g, in_per_group, batch, dtype, out_channels)

    monkeypatch.setattr(convolution, "_kernels", kernels)
    return calls


def _layout(a, channels_last):
    return (
        np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if channels_last else a
    )


# (batch, in, out, H, W, padding, channels-last input)
SHAPES = [
    (2, 3, 4, 7, 5, 1, False),  # odd H, odd W
    (1, 5, 6, 6, 8, 1, True),  # even sizes, batch 1
    (3, 4, 2, 6, 7, 0, False),  # no padding
    (2, 3, 5, 5, 6, 2, True),  # padding 2: the input gradient's padding is 0
    (2, 2, 3, 4, 5, 3, False),  # padding 3: the input gradient crops
    (1, 2, 3, 1, 1, 1, False),  # 1×1 input and output
    (2, 3, 2, 3, 3, 0, True),  # 1×1 output
    (2, 24, 20, 9, 10, 1, True),  # a wider layer, channels-last as inside a network
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, padding, channels_last", SHAPES)
def test_matches_torch(
    torch_or_skip, force_winograd, dtype, n, c, o, h, w, padding, channels_last
):
    torch = torch_or_skip
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    # NOTE: soma.Tensor keeps the given memory order
    xs = soma.Tensor(_layout(x, channels_last), dtype=x.dtype.name, requires_grad=True)
    ws, bs = soma.tensor(wt, requires_grad=True), soma.tensor(b, requires_grad=True)
    xt = torch.from_numpy(x).requires_grad_()
    wtt, bt = torch.from_numpy(wt).requires_grad_(), torch.from_numpy(b).requires_grad_()
    ys = F.conv2d(xs, ws, bs, padding=padding)
    yt = torch.nn.functional.conv2d(xt, wtt, bt, padding=padding)
    assert force_winograd, "the Winograd kernels did not run"
    assert ys.dtype == getattr(soma, np.dtype(dtype).name)
    close(ys.detach().numpy(), yt.detach().numpy(), dtype, "forward")
    # outputs are (N, O, H, W) views of channels-last memory, as from the im2col kernels
    assert np.moveaxis(ys.detach().numpy(), 1, -1).flags.c_contiguous
    pairs = [(xs, xt, "input"), (ws, wtt, "weight"), (bs, bt, "bias")]
    backward_and_compare(torch, ys, yt, pairs, dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_transposed_matches_torch(torch_or_skip, force_winograd, dtype, padding):
    """conv_transpose2d with a 3×3 stride-1 kernel runs the same kernels in the other order."""
    torch = torch_or_skip
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6, 7)).astype(dtype)
    wt = rng.standard_normal((5, 4, 3, 3)).astype(dtype)  # (in, out, 3, 3)
    b = rng.standard_normal(4).astype(dtype)
    xs, ws, bs = (soma.tensor(a, requires_grad=True) for a in (x, wt, b))
    xt, wtt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, wt, b))
    ys = F.conv_transpose2d(xs, ws, bs, padding=padding)
    yt = torch.nn.functional.conv_transpose2d(xt, wtt, bt, padding=padding)
    assert force_winograd
    close(ys.detach().numpy(), yt.detach().numpy(), dtype, "forward")
    pairs = [(xs, xt, "input"), (ws, wtt, "weight"), (bs, bt, "bias")]
    backward_and_compare(torch, ys, yt, pairs, dtype, rng)


@pytest.mark.parametrize(
    "n, c, o, h, w, padding", [(2, 5, 7, 9, 6, 1), (3, 4, 6, 5, 8, 0), (1, 3, 2, 2, 3, 2)]
)
def test_kernels_match_im2col(n, c, o, h, w, padding):
    """Each of the five kernels against the im2col kernel of the same role, in float64."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((o, c, 3, 3))
    b = rng.standard_normal(o)
    g = conv_geometry(x.shape, wt.shape, 1, padding, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((n, o) + g.out_size)
    p_w, p_i = _winograd.prepare(x, g), _im2col.prepare(x, g)
    u, wm = _winograd.prepare_weight(wt, g), _im2col.prepare_weight(wt, g)
    np.testing.assert_allclose(
        _winograd.forward(p_w, u, b, g), _im2col.forward(p_i, wm, b, g), rtol=1e-12, atol=1e-12
    )
    q_w, q_i = _winograd.prepare_grad(gy, g), _im2col.prepare_grad(gy, g)
    np.testing.assert_allclose(
        _winograd.grad_input(q_w, u, g, n),
        _im2col.grad_input(q_i, wm, g, n),
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        _winograd.grad_weight(q_w, p_w, g, wt.shape),
        _im2col.grad_weight(q_i, p_i, g, wt.shape),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_gradient_reads_the_flipped_kernel_in_place(dtype, monkeypatch):
    """Above ``_READ_FLIPPED_FROM`` numbers in U the input gradient's products read U in the
    flipped order in place: the same products as from the permuted copy, so the same bits, and
    the input gradient of im2col."""
    rng = np.random.default_rng(7)
    x, wt = rng.standard_normal((3, 6, 5, 4)).astype(dtype), rng.standard_normal((5, 6, 3, 3))
    wt = wt.astype(dtype)
    g = conv_geometry(x.shape, wt.shape, 1, 1, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((3, 5) + g.out_size).astype(dtype)
    u, q = _winograd.prepare_weight(wt, g), _winograd.prepare_grad(gy, g)
    monkeypatch.setattr(_winograd, "_READ_FLIPPED_FROM", u.size + 1)
    copied = _winograd.grad_input(q, u, g, 3)
    monkeypatch.setattr(_winograd, "_READ_FLIPPED_FROM", u.size)
    calls = []
    products = _winograd._products
    monkeypatch.setattr(_winograd, "_products", lambda *a: calls.append(a[2]) or products(*a))
    in_place = _winograd.grad_input(q, u, g, 3)
    assert calls == [_winograd._FLIP]
    np.testing.assert_array_equal(in_place, copied)
    expected = _im2col.grad_input(_im2col.prepare_grad(gy, g), _im2col.prepare_weight(wt, g), g, 3)
    close(in_place, expected, dtype, "input gradient")


def test_blocks_cover_the_batch(monkeypatch):
    """With a tiny block size every image is its own block; the result does not change."""
    rng = np.random.default_rng(3)
    x, wt = rng.standard_normal((5, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3))
    g = conv_geometry(x.shape, wt.shape, 1, 1, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((5, 4) + g.out_size)
    u = _winograd.prepare_weight(wt, g)
    whole = _winograd.forward(x.transpose(0, 2, 3, 1), u, None, g)
    gw = _winograd.grad_weight(gy.transpose(0, 2, 3, 1), x.transpose(0, 2, 3, 1), g, wt.shape)
    monkeypatch.setattr(_winograd, "_BLOCK", 1)
    monkeypatch.setattr(_winograd, "_BLOCK_GW", 1)
    assert len(_winograd._blocks(5, g.out_size, 4)) == 5
    assert len(_winograd._blocks(5, g.out_size, 4, _winograd._BLOCK_GW)) == 5
    np.testing.assert_allclose(
        _winograd.forward(x.transpose(0, 2, 3, 1), u, None, g), whole, rtol=1e-13
    )
    np.testing.assert_allclose(
        _winograd.grad_weight(gy.transpose(0, 2, 3, 1), x.transpose(0, 2, 3, 1), g, wt.shape),
        gw,
        rtol=1e-13,
    )


@pytest.mark.parametrize("padding", [0, 1, 3])
def test_gradcheck(force_winograd, padding):
    rng = np.random.default_rng(4)
    x = soma.tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    b = soma.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=padding), (x, w, b))
    assert force_winograd


def _geometry(n, c, size, o, stride=1):
    return conv_geometry((n, c, size, size), (o, c, 3, 3), stride, 1, 1, 1, 2, "conv2d")


def test_chooser_picks_winograd_for_resnet_layers():
    # ResNet-18 on CIFAR, batch 32: layer1 … layer3 in 4×4 tiles, layer4's 4×4 outputs in 2×2
    for c, size in [(64, 32), (128, 16), (256, 8)]:
        assert convolution._kernels(_geometry(32, c, size, c), c, 32, np.float32) is _winograd4
    assert convolution._kernels(_geometry(32, 512, 4, 512), 512, 32, np.float32) is _winograd
    # 14×14 outputs: 4×4 tiles would cover 16×16, 2×2 tiles no padding at all
    assert convolution._kernels(_geometry(64, 32, 14, 64), 32, 64, np.float32) is _winograd
    # strided, narrow or tiny convolutions stay on im2col
    assert (
        convolution._kernels(_geometry(32, 64, 32, 128, stride=2), 64, 32, np.float32) is _im2col
    )
    assert convolution._kernels(_geometry(32, 3, 32, 64), 3, 32, np.float32) is not _winograd
    assert convolution._kernels(_geometry(1, 64, 4, 64), 64, 1, np.float32) is _im2col


def test_chooser_takes_winograd_from_64_tiles():
    # DenseNet-121's last block: 16 images of 4×4 outputs, 64 tiles of 2×2 (measured faster in
    # Winograd at one and two BLAS threads); 32 tiles stay on im2col
    assert convolution._kernels(_geometry(16, 128, 4, 32), 128, 16, np.float32, 32) is _winograd
    assert convolution._kernels(_geometry(8, 256, 4, 256), 256, 8, np.float32, 256) is _im2col


def test_switch_off_keeps_im2col(monkeypatch):
    g = _geometry(32, 64, 32, 64)
    monkeypatch.setattr(_winograd4, "ENABLED", False)
    assert convolution._kernels(g, 64, 32, np.float32) is _winograd
    monkeypatch.setattr(_winograd, "ENABLED", False)
    monkeypatch.setattr(_winograd4, "ENABLED", True)
    assert convolution._kernels(g, 64, 32, np.float32) is _im2col


def test_public_conv2d_runs_winograd(torch_or_skip, monkeypatch):
    """Without forcing: a 64-channel 16×16 layer at batch 2 (128 tiles) goes through Winograd."""
    torch = torch_or_skip
    calls = []
    forward = _winograd.forward
    monkeypatch.setattr(_winograd, "forward", lambda *a: calls.append(1) or forward(*a))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 64, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.1).astype(np.float32)
    y = F.conv2d(soma.Tensor(_layout(x, True)), soma.tensor(w), padding=1)
    assert calls == [1]
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
    close(y.numpy(), expected.numpy(), np.float32, "forward")


def test_float16_convolutions_stay_on_im2col():
    g = _geometry(32, 64, 32, 64)
    assert convolution._kernels(g, 64, 32, np.float32) is _winograd4
    assert convolution._kernels(g, 64, 32, np.float16) is _im2col


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_forward_passs_input_transform_serves_the_weight_gradient(dtype, monkeypatch):
    """A one-block forward keeps V; the weight gradient from it has the bits of the one that
    transforms the input again. With several blocks nothing is kept."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 8, 7)).astype(dtype).transpose(0, 2, 3, 1)
    wt = rng.standard_normal((5, 6, 3, 3)).astype(dtype)
    g = conv_geometry((3, 6, 8, 7), wt.shape, 1, 1, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((3,) + g.out_size + (5,)).astype(dtype)
    u = _winograd.prepare_weight(wt, g)
    kept = []
    y = _winograd.forward(x, u, None, g, kept)
    assert len(kept) == 1 and kept[0].shape == (16, 3 * 4 * 4, 6)
    np.testing.assert_array_equal(y, _winograd.forward(x, u, None, g))
    again = _winograd.grad_weight(gy, x, g, wt.shape)
    np.testing.assert_array_equal(_winograd.grad_weight(gy, x, g, wt.shape, kept), again)
    monkeypatch.setattr(_winograd, "_BLOCK", 1)
    split = []
    _winograd.forward(x, u, None, g, split)
    assert split == []


def test_a_layer_keeps_its_input_transform_only_for_the_weight_gradient(force_winograd):
    """Through the layer: the gradients equal those of a layer that transforms again (the
    kept V is the same input's), and nothing is kept when no weight gradient is wanted."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    w_np = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    grads = []
    for keeps in (True, False):
        _winograd.KEEPS_INPUT_TRANSFORM = keeps
        try:
            x, w = soma.tensor(x_np, requires_grad=True), soma.tensor(w_np, requires_grad=True)
            F.conv2d(x, w, padding=1).square().sum().backward()
            grads.append((x.grad.numpy(), w.grad.numpy()))
        finally:
            _winograd.KEEPS_INPUT_TRANSFORM = True
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    assert convolution._kept_list(_winograd, need_w=True) == ([],)
    assert convolution._kept_list(_winograd, need_w=False) == ()
    assert convolution._kept_list(_im2col, need_w=True) == ()
