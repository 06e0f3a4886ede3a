"""Winograd F(4×4, 3×3) convolution kernels (``functional/conv/_winograd4.py``).

Checked against PyTorch (forward and the input, weight and bias gradients, float32 and float64,
sizes that fill 4×4 tiles and sizes that leave them partly outside, paddings 0–3, batch 1,
channels-last and NCHW inputs, the transposed convolution that shares the kernels), the
compiled transforms against the NumPy forms, float32 rounding against float64, and float64
finite differences. ``force_winograd4`` makes the chooser take these kernels for every 3×3
stride-1 convolution; ``test_conv_winograd.py`` checks that it takes them on its own.
"""

import numpy as np
import pytest

import soma
import soma.nn.functional as F
from soma.backend import compiled
from soma.functional.conv import _im2col, _winograd4, _winograd4_kernels, convolution
from soma.functional.conv._args import conv_geometry
from soma.testing import gradcheck


@pytest.fixture
def force_winograd4(monkeypatch):
    chooser = convolution._kernels
    calls = []

    def kernels(g, in_per_group, batch, dtype=None, out_channels=None):
        if batch and _winograd4.applies(g):
            calls.append(g)
            return _winograd4
        return chooser(g, in_per_group, batch, dtype, out_channels)

    monkeypatch.setattr(convolution, "_kernels", kernels)
    return calls


def _close(ours, theirs, dtype, what):
    """float32: F(4×4, 3×3) rounds a few times more than a direct sum (see the module), so the
    bound is relative to the result's scale."""
    scale = max(1.0, float(np.abs(theirs).max()))
    rtol, atol = (1e-10, 1e-10 * scale) if dtype == np.float64 else (1e-4, 5e-5 * scale)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


# (batch, in, out, H, W, padding, channels-last input)
SHAPES = [
    (2, 3, 4, 8, 8, 1, False),  # whole tiles
    (1, 5, 6, 9, 11, 1, True),  # partial tiles on both sides, batch 1
    (3, 4, 2, 10, 7, 0, False),  # no padding
    (2, 3, 5, 7, 6, 2, True),  # padding 2: the input gradient's padding is 0
    (2, 2, 3, 6, 9, 3, False),  # padding 3: the input gradient crops
    (2, 3, 2, 3, 3, 0, True),  # 1×1 output: one tile, mostly outside
    (2, 24, 20, 12, 13, 1, True),  # a wider layer, channels-last as inside a network
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, o, h, w, padding, channels_last", SHAPES)
def test_matches_torch(
    torch_or_skip, force_winograd4, dtype, n, c, o, h, w, padding, channels_last
):
    torch = torch_or_skip
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = (rng.standard_normal((o, c, 3, 3)) * 0.3).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    xs, ws, bs = (soma.tensor(a, requires_grad=True) for a in (x, wt, b))
    y = F.conv2d(xs, ws, bs, padding=padding)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(soma.tensor(gy))
    assert force_winograd4, "the F(4×4, 3×3) kernels did not run"

    xt, wtt, bt = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (x, wt, b))
    yt = torch.nn.functional.conv2d(xt, wtt, bt, padding=padding)
    yt.backward(torch.tensor(gy))
    _close(y.detach().numpy(), yt.detach().numpy(), dtype, "forward")
    _close(xs.grad.numpy(), xt.grad.numpy(), dtype, "input gradient")
    _close(ws.grad.numpy(), wtt.grad.numpy(), dtype, "weight gradient")
    _close(bs.grad.numpy(), bt.grad.numpy(), dtype, "bias gradient")


@pytest.mark.parametrize("padding", [0, 1])
def test_transposed_matches_torch(torch_or_skip, force_winograd4, padding):
    """ConvTranspose2d(3, stride 1) runs the input-gradient kernels as its forward pass."""
    torch = torch_or_skip
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 9, 8)).astype(np.float32)
    wt = (rng.standard_normal((6, 4, 3, 3)) * 0.3).astype(np.float32)
    xs, ws = soma.tensor(x, requires_grad=True), soma.tensor(wt, requires_grad=True)
    y = F.conv_transpose2d(xs, ws, padding=padding)
    y.sum().backward()
    assert force_winograd4
    xt, wtt = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    yt = torch.nn.functional.conv_transpose2d(xt, wtt, padding=padding)
    yt.sum().backward()
    _close(y.detach().numpy(), yt.detach().numpy(), np.float32, "forward")
    _close(xs.grad.numpy(), xt.grad.numpy(), np.float32, "input gradient")
    _close(ws.grad.numpy(), wtt.grad.numpy(), np.float32, "weight gradient")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pads, size", [(((1, 1), (1, 1)), (9, 11)), (((0, 0), (2, 2)), (8, 6))])
def test_compiled_transforms_match_the_numpy_forms(dtype, pads, size):
    if not _winograd4_kernels.applies(np.zeros(1, dtype)):
        pytest.skip("compiled kernels not enabled (Numba absent)")
    rng = np.random.default_rng(3)
    xl = rng.standard_normal((3,) + size + (5,)).astype(dtype)
    out_size = (size[0] + sum(pads[0]) - 2, size[1] + sum(pads[1]) - 2)
    m = rng.standard_normal((36, 3 * _winograd4._tiles(out_size[0]) * 4, 4))
    m = m[:, : 3 * _winograd4._tiles(out_size[0]) * _winograd4._tiles(out_size[1])].astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    fast_y, numpy_y = (np.empty((3,) + out_size + (4,), dtype) for _ in range(2))
    fast = (
        _winograd4.transform_input(xl, pads, out_size),
        _winograd4.transform_output(m, fast_y, bias) or fast_y,
    )
    with compiled.disabled():
        numpy = (
            _winograd4.transform_input(xl, pads, out_size),
            _winograd4.transform_output(m, numpy_y, bias) or numpy_y,
        )
    tol = 1e-13 if dtype == np.float64 else 1e-5
    for what, a, b in zip(("input", "output"), fast, numpy):
        assert a.shape == b.shape, what
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max(), err_msg=what)


def test_float32_rounding_against_float64():
    """A 256-channel layer (the longest sums of the test networks): float32 forward and input
    gradient within 5e-5 of the result's scale from the float64 convolution (measured 1.1e-5
    and 1.6e-5; im2col's 5e-7), the weight gradient (F(2×2, 3×3)'s) within 5e-6."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 256, 8, 8))
    w = rng.standard_normal((256, 256, 3, 3)) / 48
    gy = rng.standard_normal((16, 256, 8, 8))
    g = conv_geometry(x.shape, w.shape, 1, 1, 1, 1, 2, "conv2d")
    assert convolution._kernels(g, 256, 16, np.float32) is _winograd4

    def run(dtype):
        xs = soma.tensor(x.astype(dtype), requires_grad=True)
        ws = soma.tensor(w.astype(dtype), requires_grad=True)
        y = F.conv2d(xs, ws, padding=1)
        y.backward(soma.tensor(gy.astype(dtype)))
        return y.detach().numpy(), xs.grad.numpy(), ws.grad.numpy()

    for what, ours, exact, bound in zip(
        ("forward", "input gradient", "weight gradient"), run(np.float32), run(np.float64),
        (5e-5, 5e-5, 5e-6),
    ):  # fmt: skip
        error = np.abs(ours - exact).max() / np.abs(exact).max()
        assert error < bound, (what, error)


def test_gradcheck(force_winograd4):
    rng = np.random.default_rng(5)
    x = soma.tensor(rng.standard_normal((2, 3, 9, 8)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((4, 3, 3, 3)) * 0.3, requires_grad=True)
    b = soma.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))
    assert force_winograd4


def test_matches_im2col_directly():
    """The kernel sets side by side on one geometry, float64."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 12, 11))
    wt = rng.standard_normal((5, 6, 3, 3))
    g = conv_geometry(x.shape, wt.shape, 1, 1, 1, 1, 2, "conv2d")
    gy = rng.standard_normal((2, 5) + g.out_size)
    p4, pi = _winograd4.prepare(x, g), _im2col.prepare(x, g)
    u4, wi = _winograd4.prepare_weight(wt, g), _im2col.prepare_weight(wt, g)
    np.testing.assert_allclose(
        _winograd4.forward(p4, u4, None, g), _im2col.forward(pi, wi, None, g), rtol=1e-12,
        atol=1e-12,
    )  # fmt: skip
    q4, qi = _winograd4.prepare_grad(gy, g), _im2col.prepare_grad(gy, g)
    np.testing.assert_allclose(
        _winograd4.grad_input(q4, u4, g, 2), _im2col.grad_input(qi, wi, g, 2), rtol=1e-12,
        atol=1e-12,
    )  # fmt: skip


def test_inference_never_transforms_the_flipped_kernel():
    """The flipped kernel's U is made by the backward pass only."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3, 3, 3))
    weights = _winograd4.prepare_weight(w, None)
    assert weights._flipped is None
    flipped = weights.flipped
    assert flipped.shape == (36, 4, 3) and weights.flipped is flipped
    np.testing.assert_allclose(
        flipped, _winograd4.transform_weight(w[:, :, ::-1, ::-1].swapaxes(0, 1)), atol=1e-14
    )


@pytest.mark.parametrize(
    "n, c, o, size, one_thread, two_threads",
    [
        (32, 128, 128, 16, True, True),  # ResNet-18 layer2: 8.4 M multiplies per product
        (8, 16, 16, 64, True, False),  # the U-Net's first layer: 524 K
        (16, 64, 64, 8, False, False),  # the DDPM denoiser's 8×8 layer: 262 K
        (64, 32, 64, 14, False, False),  # 14×14: 4×4 tiles would cover 16×16
        (32, 64, 64, 4, False, False),  # 4×4 outputs: one tile per image
    ],
)
def test_chooser_takes_4x4_tiles_where_they_measured_faster(
    monkeypatch, n, c, o, size, one_thread, two_threads
):
    from soma.backend import parallel

    g = conv_geometry((n, c, size, size), (o, c, 3, 3), 1, 1, 1, 1, 2, "conv2d")
    for threads, expected in ((1, one_thread), (2, two_threads)):
        monkeypatch.setattr(parallel, "blas_threads", lambda threads=threads: threads)
        chosen = convolution._kernels(g, c, n, np.float32, o)
        assert (chosen is _winograd4) == expected, (threads, chosen)


def test_chooser_leaves_few_tiles_to_im2col():
    """A batch-1 512-channel layer at 8×8 has large products but only four 4×4 tiles (sixteen
    2×2 ones): too few for either Winograd form, whose kernel transforms would then cost more
    than the products save."""
    g = conv_geometry((1, 512, 8, 8), (512, 512, 3, 3), 1, 1, 1, 1, 2, "conv2d")
    assert convolution._kernels(g, 512, 1, np.float32, 512) is _im2col
