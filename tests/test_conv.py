"""Convolution layers against their torch.nn twins, the lectures' worked examples, and errors.

The op table (``tests/op_specs/conv.py``) checks the functional ops in float64 against finite
differences and PyTorch; here the layers run in float32 with copied weights over argument
grids, and the lectures' numbers are checked by value.
"""

import math

import numpy as np
import pytest

import soma
import soma.nn as nn
from soma.functional.conv._args import conv_geometry
from tests.conftest import copy_weights, to_torch

RTOL, ATOL = 1e-4, 1e-5


def _compare(ours, theirs, x, torch, **forward_kwargs):
    """Forward, input gradient and every parameter gradient of two twin modules."""
    xs = soma.tensor(x, requires_grad=True)
    xt = to_torch(x, requires_grad=True)
    ys, yt = ours(xs, **forward_kwargs), theirs(xt, **forward_kwargs)
    assert tuple(ys.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    gy = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    ys.backward(soma.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    scale = max(1.0, float(np.abs(xt.grad.numpy()).max()))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=RTOL, atol=ATOL * scale)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = named[name].grad.numpy()
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(
            p.grad.numpy(), expected, rtol=RTOL, atol=ATOL * scale, err_msg=f"gradient of {name}"
        )


def _twins(torch, name, *args, **kwargs):
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    return copy_weights(getattr(nn, name)(*args, **kwargs), theirs), theirs


# (layer, in, out, kernel, kwargs, input spatial size)
CONV_GRID = [
    ("Conv1d", 3, 4, 3, {}, (11,)),
    ("Conv1d", 4, 6, 5, dict(stride=2, padding=2, dilation=2, groups=2), (17,)),
    ("Conv1d", 4, 4, 3, dict(groups=4, padding="same"), (9,)),
    ("Conv1d", 2, 3, 4, dict(padding="same", bias=False), (8,)),
    ("Conv2d", 3, 8, 3, dict(padding=1), (9, 9)),
    ("Conv2d", 3, 5, (3, 2), dict(stride=(2, 1), padding=(1, 0)), (10, 7)),
    ("Conv2d", 4, 6, 3, dict(groups=2, dilation=2, padding=2), (8, 9)),
    ("Conv2d", 6, 6, 3, dict(groups=6, padding=1), (6, 6)),  # depthwise, dense
    ("Conv2d", 6, 12, 3, dict(groups=6, stride=2, padding=1), (17, 16)),  # depthwise, taps
    ("Conv2d", 8, 16, 1, {}, (5, 5)),  # pointwise
    ("Conv2d", 8, 4, 1, dict(stride=2, bias=False), (6, 5)),  # projection
    ("Conv2d", 2, 3, 4, dict(padding="same", dilation=(1, 3)), (7, 9)),
    ("Conv2d", 2, 3, 5, dict(padding="valid"), (7, 9)),
    ("Conv2d", 1, 1, 3, dict(stride=3), (1 + 3 * 3, 8)),
    ("Conv2d", 16, 32, 3, dict(padding=1), (6, 6)),  # channels-last
    ("Conv2d", 32, 16, 3, dict(stride=2, padding=1), (7, 8)),
    ("Conv2d", 32, 32, 3, dict(groups=2, padding=1, bias=False), (5, 5)),
    ("Conv1d", 16, 8, 4, dict(padding="same"), (9,)),
    ("Conv3d", 16, 4, 3, dict(padding=1), (3, 4, 3)),
    ("Conv3d", 2, 4, 3, dict(padding=1), (5, 4, 6)),
    ("Conv3d", 4, 4, (1, 3, 2), dict(stride=(1, 2, 2), groups=4), (3, 7, 6)),
    ("Conv3d", 2, 2, 2, dict(padding="same", dilation=2), (4, 5, 4)),
]


@pytest.mark.parametrize("name, cin, cout, k, kwargs, size", CONV_GRID)
@pytest.mark.parametrize("batch", [1, 3])
def test_conv_matches_torch(torch_or_skip, name, cin, cout, k, kwargs, size, batch):
    ours, theirs = _twins(torch_or_skip, name, cin, cout, k, **kwargs)
    x = np.random.default_rng(0).standard_normal((batch, cin) + size).astype(np.float32)
    _compare(ours, theirs, x, torch_or_skip)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "name, size, padding",
    [
        ("Conv1d", (9,), 2),
        ("Conv2d", (7, 6), (1, 2)),
        ("Conv2d", (6, 6), "same"),
        ("Conv3d", (4, 5, 4), 1),
    ],
)
def test_padding_modes_match_torch(torch_or_skip, mode, name, size, padding):
    kernel = 4 if padding == "same" else 3
    ours, theirs = _twins(torch_or_skip, name, 2, 3, kernel, padding=padding, padding_mode=mode)
    x = np.random.default_rng(0).standard_normal((2, 2) + size).astype(np.float32)
    _compare(ours, theirs, x, torch_or_skip)


# (layer, in, out, kernel, kwargs, input spatial size)
TRANSPOSED_GRID = [
    ("ConvTranspose1d", 3, 2, 3, dict(stride=2, padding=1, output_padding=1), (6,)),
    ("ConvTranspose1d", 4, 6, 2, dict(groups=2, dilation=3), (5,)),
    ("ConvTranspose2d", 4, 3, 4, dict(stride=2, padding=1), (5, 6)),
    (
        "ConvTranspose2d",
        4,
        6,
        (3, 2),
        dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2),
        (4, 3),
    ),
    ("ConvTranspose2d", 6, 6, 3, dict(groups=6, stride=2, padding=1), (12, 12)),
    ("ConvTranspose2d", 3, 3, 3, dict(groups=3, dilation=2, bias=False), (4, 4)),
    ("ConvTranspose3d", 2, 3, 2, dict(stride=2), (3, 2, 3)),
    ("ConvTranspose3d", 2, 2, 3, dict(padding=1, output_padding=(0, 1, 0), stride=2), (2, 3, 2)),
]


@pytest.mark.parametrize("name, cin, cout, k, kwargs, size", TRANSPOSED_GRID)
def test_conv_transpose_matches_torch(torch_or_skip, name, cin, cout, k, kwargs, size):
    ours, theirs = _twins(torch_or_skip, name, cin, cout, k, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, cin) + size).astype(np.float32)
    _compare(ours, theirs, x, torch_or_skip)


def test_conv_transpose_output_size(torch_or_skip):
    ours, theirs = _twins(torch_or_skip, "ConvTranspose2d", 3, 4, 3, stride=2, padding=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32)
    for size in [(9, 11), (10, 12), (9, 12), [2, 4, 10, 11]]:
        _compare(ours, theirs, x, torch_or_skip, output_size=size)
    with pytest.raises(ValueError, match=r"valid sizes range from \(9, 11\) to \(10, 12\)"):
        ours(soma.tensor(x), output_size=(11, 11))


@pytest.mark.parametrize(
    "name, size",
    [("Conv1d", (7,)), ("Conv2d", (6, 5)), ("Conv3d", (4, 3, 5)), ("ConvTranspose2d", (4, 3))],
)
def test_unbatched_input(torch_or_skip, name, size):
    ours, theirs = _twins(torch_or_skip, name, 2, 4, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((2,) + size).astype(np.float32)
    _compare(ours, theirs, x, torch_or_skip)


def test_chained_layers_match_torch(torch_or_skip):
    """Outputs are channel-major views; the next layer, reshape and Linear must read them right."""
    torch = torch_or_skip

    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(3, 8, 3, padding=1),
            lib.nn.ReLU(),
            lib.nn.Conv2d(8, 8, 3, groups=8),
            lib.nn.Conv2d(8, 4, 1),
            lib.nn.Flatten(),
            lib.nn.Linear(4 * 5 * 5, 3),
        )

    theirs = build(torch)
    ours = copy_weights(build(soma), theirs)
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7)).astype(np.float32)
    _compare(ours, theirs, x, torch)


def test_state_dict_transfers_both_ways(torch_or_skip):
    torch = torch_or_skip
    for name, args in [
        ("Conv2d", (3, 6, 3)),
        ("ConvTranspose2d", (3, 6, 3)),
        ("Conv1d", (4, 2, 5)),
    ]:
        ours = getattr(nn, name)(*args, groups=1)
        theirs = getattr(torch.nn, name)(*args)
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
        theirs.load_state_dict(
            {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
        )
        size = (2, args[0], 8) + ((8,) if name.endswith("2d") else ())
        x = np.random.default_rng(0).standard_normal(size).astype(np.float32)
        np.testing.assert_allclose(
            ours(soma.tensor(x)).detach().numpy(),
            theirs(torch.from_numpy(x)).detach().numpy(),
            rtol=RTOL,
            atol=ATOL,
        )


@pytest.mark.parametrize(
    "layer, fan_in",
    [
        (lambda: nn.Conv2d(64, 32, 3), 64 * 9),
        (lambda: nn.Conv2d(64, 64, 3, groups=4), 16 * 9),
        (lambda: nn.ConvTranspose2d(32, 64, 3), 64 * 9),
        (lambda: nn.Conv1d(128, 96, 5), 128 * 5),
    ],
)
def test_default_initialisation(layer, fan_in):
    """kaiming_uniform(a=√5) weights and U(±1/√fan_in) biases, as in PyTorch."""
    m = layer()
    bound = 1 / math.sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound  # std of U(−a, a) is a/√3
    assert np.abs(w).max() > 0.95 * bound


def test_reset_parameters_takes_a_generator():
    a, b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3)
    a.reset_parameters(generator=soma.Generator().manual_seed(7))
    b.reset_parameters(generator=soma.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())


@pytest.mark.parametrize(
    "ctor",
    [
        "Conv2d(3, 8, 3, padding='same', bias=False, padding_mode='reflect')",
        "Conv1d(4, 4, 3, groups=4)",
        "Conv3d(2, 4, (1, 2, 3), stride=(1, 2, 1), padding=(0, 1, 2), padding_mode='circular')",
        "Conv2d(3, 6, 5, padding='valid', dilation=2)",
        "ConvTranspose2d(3, 8, (3, 2), stride=2, output_padding=1, dilation=2)",
        "ConvTranspose1d(4, 2, 3, groups=2, bias=False)",
    ],
)
def test_repr_matches_torch(torch_or_skip, ctor):
    assert repr(eval("nn." + ctor)) == repr(eval("torch_or_skip.nn." + ctor))


@pytest.mark.parametrize(
    "cin, cout, groups, k", [(3, 4, 1, 3), (16, 8, 1, 3), (4, 4, 4, 3), (16, 8, 1, 1)]
)
def test_any_memory_layout_of_the_input(torch_or_skip, cin, cout, groups, k):
    """Strided and permuted views (e.g. a channels-last tensor permuted to NCHW) work alike."""
    torch = torch_or_skip
    ours, theirs = _twins(torch, "Conv2d", cin, cout, k, groups=groups, padding=k // 2)
    base = np.random.default_rng(0).standard_normal((2, 9, 7, cin)).astype(np.float32)
    for view in (lambda a: a.permute(0, 3, 1, 2), lambda a: a.permute(0, 3, 1, 2)[:, :, ::2]):
        x = view(torch.from_numpy(base))
        xs = view(soma.tensor(base))
        np.testing.assert_allclose(
            ours(xs).detach().numpy(), theirs(x).detach().numpy(), rtol=RTOL, atol=ATOL
        )


@pytest.mark.parametrize(
    "x_layout, gy_layout", [("nchw", "nhwc"), ("nhwc", "nchw"), ("nchw", "nchw"), ("cnhw", "nhwc")]
)
def test_pointwise_gradients_whatever_the_layouts(torch_or_skip, x_layout, gy_layout):
    """1×1 kernels follow the layouts of input and gradient (per image, channels-last,
    channel-major) and mix them in the weight gradient; every pairing must agree with torch."""
    torch = torch_or_skip
    ours, theirs = _twins(torch, "Conv2d", 6, 5, 1)
    rng = np.random.default_rng(3)
    order = {"nchw": (0, 1, 2, 3), "nhwc": (0, 3, 1, 2), "cnhw": (1, 0, 2, 3)}

    def laid_out(shape, layout):  # an (N, C, H, W) view whose memory is in ``layout`` order
        stored = tuple(shape[i] for i in np.argsort(order[layout]))
        return rng.standard_normal(stored).astype(np.float32).transpose(order[layout])

    x, gy = laid_out((2, 6, 9, 8), x_layout), laid_out((2, 5, 9, 8), gy_layout)
    xs, xt = soma.from_numpy(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    ours(xs).backward(soma.from_numpy(gy))
    theirs(xt).backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=RTOL, atol=ATOL * 10
    )


@pytest.mark.parametrize("gy_layout", ["nchw", "nhwc", "cnhw"])
@pytest.mark.parametrize("groups", [1, 3])
def test_narrow_input_convolution_is_channels_last(torch_or_skip, groups, gy_layout):
    """A first layer on pixels (3 channels): with one group and 64 output channels its output is
    channels-last memory (as the other convolutions', so the layers after it need no copy); the
    input and weight gradients agree with torch whatever the gradient's layout (channels-last
    gradients are read as a transposed view)."""
    torch = torch_or_skip
    ours, theirs = _twins(torch, "Conv2d", 3, 66, 3, groups=groups, stride=2, padding=1)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert np.moveaxis(ys.detach().numpy(), 1, -1).flags.c_contiguous == (groups == 1)
    order = {"nchw": (0, 1, 2, 3), "nhwc": (0, 3, 1, 2), "cnhw": (1, 0, 2, 3)}[gy_layout]
    stored = tuple(yt.shape[i] for i in np.argsort(order))
    gy = rng.standard_normal(stored).astype(np.float32).transpose(order)
    ys.backward(soma.from_numpy(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=RTOL, atol=ATOL * 10
    )


@pytest.mark.parametrize("cout, channels_last", [(16, False), (31, False), (32, True)])
def test_narrow_input_output_layout_follows_output_channels(torch_or_skip, cout, channels_last):
    """From ``CHANNELS_LAST_FROM`` (32) output channels a narrow-input convolution returns
    channels-last memory (what the wide layers after it read), below it channel-major memory
    (what depthwise and narrow layers read); the values are torch's either way."""
    ours, theirs = _twins(torch_or_skip, "Conv2d", 1, cout, 3, padding=1)
    x = np.random.default_rng(8).standard_normal((3, 1, 7, 6)).astype(np.float32)
    ys = ours(soma.tensor(x)).detach().numpy()
    np.testing.assert_allclose(
        ys, theirs(torch_or_skip.tensor(x)).detach().numpy(), rtol=RTOL, atol=ATOL
    )
    assert np.moveaxis(ys, 1, -1).flags.c_contiguous == channels_last
    assert ys.swapaxes(0, 1).flags.c_contiguous == (not channels_last)


@pytest.mark.parametrize(
    "name, cin, cout, groups",
    [
        ("Conv2d", 3, 4, 1),
        ("Conv2d", 16, 32, 1),
        ("Conv2d", 4, 8, 4),
        ("ConvTranspose2d", 4, 2, 1),
    ],
)
def test_empty_batch(torch_or_skip, name, cin, cout, groups):
    ours, theirs = _twins(torch_or_skip, name, cin, cout, 3, groups=groups, padding=1)
    x = soma.zeros(0, cin, 5, 5, requires_grad=True)
    y = ours(x)
    assert tuple(y.shape) == tuple(theirs(torch_or_skip.zeros(0, cin, 5, 5)).shape)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, cin, 5, 5)
    assert not ours.weight.grad.numpy().any() and not ours.bias.grad.numpy().any()


def test_no_grad_forward_builds_no_graph():
    conv = nn.Conv2d(2, 3, 3)
    x = soma.randn(1, 2, 5, 5)
    with soma.no_grad():
        y = conv(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_allclose(y.numpy(), conv(x).detach().numpy(), rtol=1e-6)


# ------------------------------------------------------------------------------ the lectures
IMAGE_5x5 = [[2, 4, 9, 1, 4], [2, 1, 4, 4, 6], [1, 1, 2, 9, 2], [7, 3, 5, 1, 3], [2, 3, 4, 8, 5]]
KERNEL_3x3 = [[1, 2, 3], [-4, 7, 4], [2, -5, 1]]


def _conv2d_single(image, kernel, **kwargs):
    x = soma.tensor(image, dtype=soma.float64).reshape(1, 1, len(image), len(image[0]))
    w = soma.tensor(kernel, dtype=soma.float64).reshape(1, 1, len(kernel), len(kernel[0]))
    return soma.nn.functional.conv2d(x, w, **kwargs)[0, 0].numpy()


def test_lecture_5x5_image_with_3x3_kernel():
    """Layers-in-detail lecture: the 3×3 feature map of the 5×5 image."""
    np.testing.assert_array_equal(
        _conv2d_single(IMAGE_5x5, KERNEL_3x3), [[51, 66, 20], [31, 49, 101], [15, 53, -2]]
    )


def test_lecture_5x5_image_with_padding_1():
    """The same image zero-padded by 1 keeps its 5×5 size; the centre is the unpadded result."""
    expected = [
        [21, 59, 37, -19, 2],
        [30, 51, 66, 20, 43],
        [-14, 31, 49, 101, -19],
        [59, 15, 53, -2, 21],
        [49, 57, 64, 76, 10],
    ]
    np.testing.assert_array_equal(_conv2d_single(IMAGE_5x5, KERNEL_3x3, padding=1), expected)


HALF_10 = [[10] * 4 + [0] * 4 for _ in range(8)]
VERTICAL_EDGE = [[1, 0, -1]] * 3


def test_lecture_vertical_edge_detector():
    """PyTorch lecture: the 8×8 image, bright left half, gives columns of 30 at the edge."""
    expected = [[0, 0, 30, 30, 0, 0]] * 6
    np.testing.assert_array_equal(_conv2d_single(HALF_10, VERTICAL_EDGE), expected)


def test_lecture_vertical_edge_detector_with_padding():
    """With zero padding 1 the output stays 8×8 and the image's left border shows up too.

    The first column reads the zero border (0 − 10 per row): −30, or −20 in the first and last
    rows, where one of the three kernel rows lies on the padding; the edge columns give 30
    (20 in those rows). The lecture's slide prints this matrix with one row too many (nine
    rows for an 8×8 result); the values are these.
    """
    inner = [-30, 0, 0, 30, 30, 0, 0, 0]
    border = [-20, 0, 0, 20, 20, 0, 0, 0]
    expected = [border] + [inner] * 6 + [border]
    np.testing.assert_array_equal(_conv2d_single(HALF_10, VERTICAL_EDGE, padding=1), expected)


def test_lecture_1d_example():
    """Deep-networks lecture: input 0 1 2 1 2 0 1 2 0 with kernel −1 2 −1 gives 7 outputs.

    The lecture notes that neural networks do not reverse the kernel (cross-correlation, as
    PyTorch and soma compute); this kernel is symmetric, so true convolution agrees. By hand,
    y[i] = −x[i] + 2·x[i+1] − x[i+2]:
      −0+2−2 = 0, −1+4−1 = 2, −2+2−2 = −2, −1+4−0 = 3, −2+0−1 = −3, −0+2−2 = 0, −1+4−0 = 3.
    """
    x = soma.tensor([[[0.0, 1, 2, 1, 2, 0, 1, 2, 0]]])
    w = soma.tensor([[[-1.0, 2, -1]]])
    y = soma.nn.functional.conv1d(x, w)
    assert y.tolist() == [[[0.0, 2.0, -2.0, 3.0, -3.0, 0.0, 3.0]]]
    flipped = soma.nn.functional.conv1d(x, w.flip(-1))
    assert flipped.tolist() == y.tolist()


def test_lecture_transposed_convolution_3x3_to_4x4():
    """Layers lecture: N = 3, S = 2, F = 2, P = 1 gives (3 − 1)·2 + 2 − 2·1 = 4, a 4×4 output.

    The slide gives only the size; the values, worked by hand for the input 1…9 and a kernel
    of ones: with F = S every input pixel fills its own 2×2 block of the 6×6 full output, and
    padding 1 crops one row and column on each side, so output[r][c] = x[(r+1)//2][(c+1)//2].
    """
    up = nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, padding=1, bias=False)
    with soma.no_grad():
        up.weight.fill_(1.0)
    y = up(soma.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    assert tuple(y.shape) == (1, 1, 4, 4)
    assert y[0, 0].tolist() == [[1, 2, 2, 3], [4, 5, 5, 6], [4, 5, 5, 6], [7, 8, 8, 9]]


def test_lecture_parameter_count():
    """Ten 5×5 filters over 3 channels: 5·5·3 + 1 = 76 parameters each, 760 in all."""
    conv = nn.Conv2d(3, 10, 5, stride=1, padding=2)
    assert sum(p.numel() for p in conv.parameters()) == 760
    assert tuple(conv(soma.zeros(1, 3, 32, 32)).shape) == (1, 10, 32, 32)


# ------------------------------------------------------------------------------ errors
def test_channel_mismatch_names_layer_and_channels():
    model = nn.Sequential(nn.Conv2d(3, 8, 3))
    with pytest.raises(ValueError) as info:
        model(soma.zeros(8, 4, 32, 32))
    message = str(info.value)
    assert "layer '0' (Conv2d)" in message
    assert (
        "conv2d: expected input with 3 channels (in_channels), got 4 channels in input of "
        "shape (8, 4, 32, 32)"
    ) in message


def test_channel_mismatch_with_groups():
    with pytest.raises(
        ValueError,
        match=r"expected input with 6 channels \(in_channels = 3 per "
        r"group × groups 2\), got 4 channels",
    ):
        nn.Conv2d(6, 4, 3, groups=2)(soma.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected input with 4 channels"):
        nn.ConvTranspose2d(4, 2, 3)(soma.zeros(1, 3, 5, 5))


def test_kernel_larger_than_padded_input():
    with pytest.raises(
        ValueError,
        match=r"conv2d: kernel size \(5, 5\) is larger than the padded "
        r"input \(4, 4\) \(input \(2, 2\) with padding "
        r"\(1, 1\)\)",
    ):
        nn.Conv2d(1, 1, 5, padding=1)(soma.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"spanning \(5,\) with dilation"):
        soma.nn.functional.conv1d(soma.zeros(1, 1, 4), soma.zeros(1, 1, 3), dilation=2)


@pytest.mark.parametrize(
    "layer, shape, accepted",
    [
        (
            lambda: nn.Conv1d(2, 2, 3),
            (2,),
            r"2-D unbatched input \(C, L\) or a 3-D batched input "
            r"\(N, C, L\), got a 1-D input of shape \(2,\)",
        ),
        (
            lambda: nn.Conv2d(2, 2, 3),
            (1, 1, 2, 5, 5),
            r"3-D unbatched input \(C, H, W\) or a 4-D "
            r"batched input \(N, C, H, W\), got a 5-D",
        ),
        (lambda: nn.Conv3d(2, 2, 3), (2, 5, 5), r"\(C, D, H, W\) or a 5-D batched input"),
        (
            lambda: nn.ConvTranspose2d(2, 2, 3),
            (2, 5),
            r"conv_transpose2d: expected a 3-D unbatched",
        ),
    ],
)
def test_wrong_rank_lists_accepted_shapes(layer, shape, accepted):
    with pytest.raises(ValueError, match=accepted):
        layer()(soma.zeros(*shape))


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: nn.Conv2d(3, 8, 3, groups=2),
            r"in_channels=3 must be a positive multiple of "
            r"groups=2",
        ),
        (lambda: nn.Conv2d(4, 6, 3, groups=4), r"out_channels=6 must be a positive multiple"),
        (lambda: nn.Conv2d(4, 4, 3, groups=0), r"groups must be a positive integer"),
        (
            lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"),
            r"'same' is not supported for strided",
        ),
        (
            lambda: nn.Conv2d(3, 8, 3, padding="full"),
            r"padding must be an int, a tuple, 'valid' or",
        ),
        (lambda: nn.Conv2d(3, 8, 3, padding_mode="mirror"), r"padding_mode must be one of"),
        (lambda: nn.Conv2d(3, 8, (3, 3, 3)), r"kernel_size must be an int or a tuple of 2 ints"),
        (
            lambda: nn.ConvTranspose2d(3, 8, 3, padding_mode="reflect"),
            r'only padding_mode="zeros"',
        ),
    ],
)
def test_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_functional_argument_errors():
    F = soma.nn.functional
    x, w = soma.zeros(1, 2, 6, 6), soma.zeros(4, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: stride must be positive, got \(0, 1\)"):
        F.conv2d(x, w, stride=(0, 1))
    with pytest.raises(ValueError, match=r"conv2d: padding must be non-negative"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(
        ValueError,
        match=r"conv2d: the weight's 4 output channels .* not "
        r"divisible by groups=3",
    ):
        F.conv2d(soma.zeros(1, 6, 6, 6), w, groups=3)
    with pytest.raises(ValueError, match=r"expected a bias of shape \(4,\)"):
        F.conv2d(x, w, soma.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"expected a 4-D weight \(out_channels, in_channels / "
        r"groups, kH, kW\)",
    ):
        F.conv2d(x, soma.zeros(4, 2, 3))
    with pytest.raises(TypeError, match=r"input \(float64\) and weight \(float32\)"):
        F.conv2d(x.double(), w)
    with pytest.raises(
        ValueError,
        match=r"output_padding \(2, 2\) must be smaller than either "
        r"stride \(2, 2\) or dilation \(1, 1\)",
    ):
        F.conv_transpose2d(x, soma.zeros(2, 3, 3, 3), stride=2, output_padding=2)


# ------------------------------------------------------------------------------ fold / unfold
def test_fold_and_unfold_layers_match_torch(torch_or_skip):
    torch = torch_or_skip
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7)).astype(np.float32)
    args = dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    _compare(nn.Unfold(**args), torch.nn.Unfold(**args), x, torch)
    cols = np.random.default_rng(1).standard_normal((2, 18, 24)).astype(np.float32)
    _compare(nn.Fold((6, 7), **args), torch.nn.Fold((6, 7), **args), cols, torch)


def test_fold_checks_the_number_of_blocks():
    with pytest.raises(ValueError, match=r"fold: input of shape \(1, 4, 5\) does not fit"):
        soma.nn.functional.fold(soma.zeros(1, 4, 5), (3, 3), 2)


def test_thin_weight_gradient_over_many_positions(torch_or_skip):
    """LeNet's first layer: 6 filters of 25 taps summed over 12·28·28 = 9408 positions, the
    product that ``reduce_positions`` cuts into runs of 2048 (four runs and a remainder)."""
    from soma.functional.conv._geometry import reduce_positions

    torch = torch_or_skip
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((1, 6, 9408)), rng.standard_normal((1, 9408, 25))
    np.testing.assert_allclose(reduce_positions(a, b), a @ b, rtol=1e-12, atol=1e-10)
    ours, theirs = _twins(torch, "Conv2d", 1, 6, 5)
    x = rng.standard_normal((12, 1, 32, 32)).astype(np.float32)
    ours(soma.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-3
    )


@pytest.mark.parametrize(
    "stack, m, k, n, runs",
    [(1, 6, 9408, 25, 4), (16, 16, 8192, 16, 4), (3, 32, 4100, 64, 16), (2, 16, 9000, 16, 4)],
)
def test_long_reductions_are_cut_into_runs(stack, m, k, n, runs):
    """Stacks of products with a small M·N and a long K (Winograd's 16 weight-gradient
    products, a group's filters) are summed over runs of K; the result is the product's, the
    remainder included, for transposed left operands as the weight gradients pass them."""
    from soma.functional.conv import _geometry

    rng = np.random.default_rng(13)
    a = rng.standard_normal((stack, k, m)).swapaxes(1, 2)
    b = rng.standard_normal((stack, k, n))
    assert k // _geometry._run_length(m, n) == runs
    np.testing.assert_allclose(_geometry.reduce_positions(a, b), a @ b, rtol=1e-12, atol=1e-10)


def test_wide_outputs_are_not_cut(monkeypatch):
    """In the NumPy form, above 2048 outputs (a 16-filter layer of 144 taps) the product stays
    one call (the compiled runs, ``test_reduce_kernels.py``, take it where they apply)."""
    from soma.functional.conv import _geometry

    monkeypatch.setattr(_geometry, "COMPILED_REDUCTION", False)
    rng = np.random.default_rng(14)
    a, b = rng.standard_normal((1, 16, 9000)), rng.standard_normal((1, 9000, 144))
    calls = []
    real = _geometry._xp.matmul
    try:
        _geometry._xp.matmul = lambda *args: calls.append(args) or real(*args)
        np.testing.assert_allclose(_geometry.reduce_positions(a, b), a @ b, rtol=1e-12)
    finally:
        _geometry._xp.matmul = real
    assert not calls  # the one-group product is one 2-D call, not a batch of runs


@pytest.mark.parametrize("kernel, chooses", [(1, "_pointwise"), (3, "_winograd")])
def test_weight_gradient_over_many_positions_matches_float64(kernel, chooses):
    """A 1×1 and a Winograd 3×3 layer whose weight gradients are cut into runs (32768
    positions, 8192 Winograd tiles), against the sum over positions written out in float64."""
    from soma.functional.conv import convolution

    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 16, 128, 128)).astype(np.float32)
    w = (rng.standard_normal((8, 16, kernel, kernel)) * 0.2).astype(np.float32)
    g = conv_geometry(x.shape, w.shape, 1, kernel // 2, 1, 1, 2, "conv2d")
    assert convolution._kernels(g, 16, 2, np.float32, 8).__name__.endswith(chooses)
    gy = rng.standard_normal((2, 8, 128, 128)).astype(np.float32)
    xs, ws = soma.tensor(x), soma.tensor(w, requires_grad=True)
    soma.nn.functional.conv2d(xs, ws, padding=kernel // 2).backward(soma.tensor(gy))
    pad = kernel // 2
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    expected = np.empty(w.shape)
    for i in range(kernel):
        for j in range(kernel):
            window = xp[:, :, i : i + 128, j : j + 128]
            expected[:, :, i, j] = np.einsum("nohw,nchw->oc", gy.astype(np.float64), window)
    np.testing.assert_allclose(ws.grad.numpy(), expected, rtol=1e-4, atol=1e-3)


def test_channels_last_stem_gradcheck_float64():
    """Finite differences through the channels-last stem path (64 output channels, one group),
    with a channels-last upstream gradient reaching it through a ReLU."""
    from soma.testing import gradcheck

    rng = np.random.default_rng(12)
    x = soma.tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((64, 3, 3, 3)) * 0.3, requires_grad=True)
    b = soma.tensor(rng.standard_normal(64), requires_grad=True)

    def stem(x, w, b):
        y = soma.nn.functional.conv2d(x, w, b, stride=2, padding=1)
        assert np.moveaxis(y.detach().numpy(), 1, -1).flags.c_contiguous
        return soma.relu(y)

    assert gradcheck(stem, (x, w, b))


@pytest.mark.parametrize("form", ["adjoint", "col2im"])
@pytest.mark.parametrize("dilation, padding", [(1, 1), (2, 3)])
def test_both_input_gradient_forms_of_im2col(torch_or_skip, monkeypatch, form, dilation, padding):
    """im2col's input gradient as a convolution with the flipped kernel or as col2im (chosen by
    positions per output channel: small maps deep in a network take col2im), forced each way on
    a 16 → 16 stride-1 layer at 4×4 (too few tiles for Winograd), in float64 against PyTorch:
    whichever form the rule picks, the gradient is the same."""
    from soma.functional.conv import _im2col

    torch = torch_or_skip
    _col2im = _im2col.col2im
    monkeypatch.setattr(
        _im2col, "_ADJOINT_POSITIONS_PER_CHANNEL", 0 if form == "adjoint" else 10**9
    )
    calls = []
    monkeypatch.setattr(_im2col, "col2im", lambda *a: calls.append(1) or _col2im(*a))
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 16, 4, 4))
    w = rng.standard_normal((16, 16, 3, 3))
    gy_shape = (2, 16) + (4 + 2 * padding - 2 * dilation,) * 2
    gy = rng.standard_normal(gy_shape)
    xs, ws = soma.tensor(x, requires_grad=True), soma.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F = soma.nn.functional
    F.conv2d(xs, ws, padding=padding, dilation=dilation).backward(soma.tensor(gy))
    torch.nn.functional.conv2d(xt, wt, padding=padding, dilation=dilation).backward(
        torch.tensor(gy)
    )
    assert len(calls) == (form == "col2im")
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: nn.Conv2d(16, 16, 3, padding=1), (2, 16, 4, 4)),  # im2col
        (lambda: nn.Conv2d(16, 16, 3, padding=1), (2, 16, 16, 16)),  # Winograd
        (lambda: nn.ConvTranspose2d(16, 8, 2, stride=2), (2, 16, 4, 4)),
    ],
    ids=["im2col", "winograd", "transposed"],
)
def test_changing_the_kernel_in_place_before_backward_raises(layer, shape):
    """The prepared kernel is kept for the backward pass; the kernel itself stays saved, so an
    in-place change between the passes raises as in PyTorch instead of using the old kernel."""
    conv = layer()
    x = soma.randn(*shape, requires_grad=True)
    y = conv(x).sum()
    with soma.no_grad():
        conv.weight.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("form", ["adjoint", "col2im"])
def test_both_input_gradient_forms_of_im2col_gradcheck_float64(monkeypatch, form):
    """Finite differences through each form of im2col's input gradient (forced), stride 1 and
    dilation 2, on a layer too small for Winograd."""
    from soma.functional.conv import _im2col
    from soma.testing import gradcheck

    monkeypatch.setattr(
        _im2col, "_ADJOINT_POSITIONS_PER_CHANNEL", 0 if form == "adjoint" else 10**9
    )
    rng = np.random.default_rng(14)
    x = soma.tensor(rng.standard_normal((2, 16, 4, 4)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((4, 16, 3, 3)) * 0.3, requires_grad=True)
    assert gradcheck(lambda x, w: soma.nn.functional.conv2d(x, w, padding=2, dilation=2), (x, w))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("layout", ["nchw", "channels-last", "channel-major"])
def test_bias_gradient_in_every_gradient_layout(dims, layout):
    """∂b = Σ gy over the batch and positions, whichever memory order gy arrives in (the
    channels-last one is summed as one (positions, O) matrix down its columns)."""
    rng = np.random.default_rng(16)
    x = soma.tensor(rng.standard_normal((3, 2) + (6,) * dims))
    w = soma.tensor(rng.standard_normal((5, 2) + (3,) * dims))
    b = soma.tensor(np.zeros(5), requires_grad=True)
    conv = getattr(soma.nn.functional, f"conv{dims}d")
    y = conv(x, w, b, padding=1)
    gy = rng.standard_normal(y.shape)
    if layout == "channels-last":
        gy = np.ascontiguousarray(np.moveaxis(gy, 1, -1))
        gy = np.moveaxis(gy, -1, 1)
    elif layout == "channel-major":
        gy = np.ascontiguousarray(gy.swapaxes(0, 1)).swapaxes(0, 1)
    y.backward(soma.from_numpy(gy))  # float64, in gy's memory order
    expected = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
    np.testing.assert_allclose(b.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name, x_shape, w_shape, padding",
    [
        ("conv2d", (16, 32, 16, 16), (32, 32, 3, 3), 1),  # Winograd: a channels-last copy
        ("conv2d", (4, 3, 8, 8), (8, 3, 3, 3), 1),  # narrow: im2col columns
        ("conv2d", (4, 16, 8, 8), (8, 16, 1, 1), 0),  # pointwise
        ("conv_transpose2d", (4, 16, 8, 8), (16, 8, 2, 2), 0),
    ],
)
def test_inplace_change_of_the_input_before_backward_raises(
    torch_or_skip, name, x_shape, w_shape, padding
):
    """PyTorch raises when a convolution's input changes in place before the backward pass;
    so does soma, also where its kernels saved a copy of the input (whose gradient would
    still be right)."""
    torch = torch_or_skip
    rng = np.random.default_rng(21)
    x, w = (
        rng.standard_normal(x_shape).astype(np.float32),
        rng.standard_normal(w_shape).astype(np.float32),
    )
    for fw, make in ((torch, torch.tensor), (soma, soma.tensor)):
        xs, ws = make(x, requires_grad=True), make(w, requires_grad=True)
        h = xs * 1.0
        y = getattr(fw.nn.functional, name)(h, ws, padding=padding)
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
