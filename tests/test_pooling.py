"""Pooling layers against their torch.nn twins over argument grids, ties, edge rules, errors."""

import itertools

import numpy as np
import pytest

import soma
from soma import nn
from tests.layer_helpers import compare_layers, distinct
from tests.torch_oracle import torch

# N·C ≥ 16 planes: windows with more than 4 elements are pooled in the pixels layout
SHAPES_2D = [(1, 1, 7, 9), (2, 3, 8, 8), (3, 6, 5), (4, 8, 7, 9), (20, 5, 6)]
GRID_2D = [
    dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=c)
    for k, s, p, d, c in itertools.product(
        [2, 3, (2, 3)], [None, 1, 2, (1, 2)], [0, 1], [1, 2], [False, True]
    )
]


def _fits(shape, kw, d=2):
    """Whether PyTorch accepts this geometry (some grid points make the output empty)."""
    k = kw["kernel_size"]
    k = (k,) * d if isinstance(k, int) else k
    dil = kw.get("dilation", 1)
    dil = (dil,) * d if isinstance(dil, int) else dil
    return all(n + 2 * kw["padding"] >= dl * (kk - 1) + 1 for n, kk, dl in zip(shape[-d:], k, dil))


@pytest.mark.parametrize("shape", SHAPES_2D, ids=str)
@pytest.mark.parametrize("kw", GRID_2D, ids=lambda kw: ",".join(f"{v}" for v in kw.values()))
def test_maxpool2d_matches_torch(shape, kw):
    if not _fits(shape, kw):
        pytest.skip("output would be empty")
    x = distinct(np.random.default_rng(0), shape)
    compare_layers(
        nn.MaxPool2d(**kw, return_indices=True), torch.nn.MaxPool2d(**kw, return_indices=True), x
    )


@pytest.mark.parametrize("shape", SHAPES_2D, ids=str)
@pytest.mark.parametrize(
    "kw",
    [g for g in GRID_2D if g["dilation"] == 1],
    ids=lambda kw: ",".join(f"{v}" for v in kw.values()),
)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool2d_matches_torch(shape, kw, count_include_pad):
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    if not _fits(shape, kw):
        pytest.skip("output would be empty")
    x = np.random.default_rng(0).standard_normal(shape)
    compare_layers(
        nn.AvgPool2d(**kw, count_include_pad=count_include_pad),
        torch.nn.AvgPool2d(**kw, count_include_pad=count_include_pad),
        x,
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, stride=2, padding=1, divisor_override=4),
        dict(kernel_size=2, divisor_override=3, ceil_mode=True),
    ],
)
def test_avgpool_divisor_override(kw):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    compare_layers(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), x)
    x3 = np.random.default_rng(1).standard_normal((1, 2, 5, 4, 5))
    compare_layers(nn.AvgPool3d(**kw), torch.nn.AvgPool3d(**kw), x3)


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True),
        dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
    ],
)
@pytest.mark.parametrize("shape", [(2, 3, 11), (1, 1, 8), (4, 9), (4, 5, 12)], ids=str)
def test_pool1d_matches_torch(kw, shape):
    x = distinct(np.random.default_rng(0), shape)
    compare_layers(
        nn.MaxPool1d(**kw, return_indices=True), torch.nn.MaxPool1d(**kw, return_indices=True), x
    )
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    for cip in (True, False):
        compare_layers(
            nn.AvgPool1d(**kw, count_include_pad=cip),
            torch.nn.AvgPool1d(**kw, count_include_pad=cip),
            x,
        )


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(
            kernel_size=(3, 2, 2),
            stride=(2, 1, 2),
            padding=(1, 0, 1),
            dilation=(1, 2, 1),
            ceil_mode=True,
        ),
    ],
)
@pytest.mark.parametrize("shape", [(2, 2, 5, 6, 7), (1, 4, 4, 5), (3, 8, 4, 5, 4)], ids=str)
def test_pool3d_matches_torch(kw, shape):
    x = distinct(np.random.default_rng(0), shape)
    compare_layers(
        nn.MaxPool3d(**kw, return_indices=True), torch.nn.MaxPool3d(**kw, return_indices=True), x
    )
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    compare_layers(
        nn.AvgPool3d(**kw, count_include_pad=False),
        torch.nn.AvgPool3d(**kw, count_include_pad=False),
        x,
    )


@pytest.mark.parametrize("layer", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("args", [(2,), (3, 2, 1)], ids=str)
def test_float32_matches_torch(layer, args):
    x = np.random.default_rng(0).standard_normal((4, 8, 14, 14)).astype(np.float32)
    compare_layers(
        getattr(nn, layer)(*args), getattr(torch.nn, layer)(*args), x, rtol=1e-6, atol=1e-6
    )


# ---------------------------------------------------------------------------- ties and edges
def test_max_ties_first_maximum_wins():
    """All-zero windows (as after a ReLU): the gradient goes to the first element only."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 3, 3] = -1.0
    xs = soma.tensor(x, requires_grad=True)
    y, idx = soma.nn.functional.max_pool2d(xs, 2, return_indices=True)
    y.sum().backward()
    expected = np.zeros((4, 4))
    expected[0::2, 0::2] = 1.0
    np.testing.assert_array_equal(xs.grad.numpy()[0, 0], expected)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 2], [8, 10]])


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=1, padding=1),
        dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True),
    ],
)
def test_max_ties_match_torch(kw):
    """Inputs with many equal values: indices and gradients follow PyTorch's CPU kernel."""
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 9, 8)).astype(np.float64)
    compare_layers(
        nn.MaxPool2d(**kw, return_indices=True), torch.nn.MaxPool2d(**kw, return_indices=True), x
    )


def test_ceil_mode_drops_window_starting_in_right_padding():
    # L=5, k=2, s=2, p=1: rounding up gives 4 windows, but the 4th would start at 6 ≥ L + p
    x = np.arange(5.0).reshape(1, 1, 5)
    y = nn.MaxPool1d(2, 2, 1, ceil_mode=True)(soma.tensor(x))
    assert tuple(y.shape) == (1, 1, 3)
    ref = torch.nn.MaxPool1d(2, 2, 1, ceil_mode=True)(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ref.numpy())


def test_ceil_mode_partial_window_average():
    """A window hanging past the padding is divided by the part inside input + padding."""
    x = np.ones((1, 1, 5, 5))
    for cip in (True, False):
        ours = nn.AvgPool2d(2, 2, 1, ceil_mode=True, count_include_pad=cip)(soma.tensor(x))
        theirs = torch.nn.AvgPool2d(2, 2, 1, ceil_mode=True, count_include_pad=cip)(
            torch.tensor(x)
        )
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())


# ---------------------------------------------------------------------------- min, sum, LP
def test_min_pool_is_negated_max_pool():
    x = distinct(np.random.default_rng(0), (2, 3, 7, 8))
    ours, idx = nn.MinPool2d(3, 2, 1, return_indices=True)(soma.tensor(x))
    ref, ref_idx = torch.nn.functional.max_pool2d(-torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), -ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    for d, shape in [(1, (2, 3, 9)), (3, (1, 2, 4, 4, 4))]:
        x = distinct(np.random.default_rng(d), shape)
        ours = getattr(nn, f"MinPool{d}d")(2)(soma.tensor(x))
        ref = -getattr(torch.nn.functional, f"max_pool{d}d")(-torch.tensor(x), 2)
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_sum_pool_is_undivided_average():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    ours = nn.SumPool2d(3, 2, 1)(soma.tensor(x))
    ref = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, 1, divisor_override=1)
    np.testing.assert_allclose(ours.numpy(), ref.numpy())
    # without padding it is PyTorch's sum pooling, LPPool2d with norm_type 1
    compare_layers(nn.SumPool2d(2), torch.nn.LPPool2d(1, 2), x)
    compare_layers(nn.SumPool1d(3, 2), torch.nn.LPPool1d(1, 3, 2), x[0])
    ours3 = nn.SumPool3d(2)(soma.tensor(x[None])).numpy()
    ref3 = torch.nn.functional.avg_pool3d(torch.tensor(x[None]), 2).numpy() * 8
    np.testing.assert_allclose(ours3, ref3)


@pytest.mark.parametrize("norm_type", [1, 2, 3])
@pytest.mark.parametrize(
    "kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, ceil_mode=True)]
)
def test_lppool_matches_torch(norm_type, kw):
    x = np.random.default_rng(0).uniform(0.1, 2.0, (2, 3, 7, 8))
    compare_layers(nn.LPPool2d(norm_type, **kw), torch.nn.LPPool2d(norm_type, **kw), x)
    compare_layers(nn.LPPool1d(norm_type, **kw), torch.nn.LPPool1d(norm_type, **kw), x[0])
    compare_layers(nn.LPPool3d(norm_type, **kw), torch.nn.LPPool3d(norm_type, **kw), x[None])


# ---------------------------------------------------------------------------- adaptive, global
ADAPTIVE_SIZES = [1, 2, 3, 4, (5, 7), (None, 3), (7, 9), (9, 10)]


@pytest.mark.parametrize("size", ADAPTIVE_SIZES, ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 1, 8, 8), (3, 4, 6)], ids=str)
def test_adaptive_pool2d_matches_torch(size, shape):
    x = distinct(np.random.default_rng(0), shape)
    compare_layers(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)
    compare_layers(
        nn.AdaptiveMaxPool2d(size, return_indices=True),
        torch.nn.AdaptiveMaxPool2d(size, return_indices=True),
        x,
    )


@pytest.mark.parametrize(
    "d,shape,size",
    [
        (1, (2, 3, 10), 3),
        (1, (2, 3, 10), 5),
        (1, (4, 7), 1),
        (3, (1, 2, 5, 6, 7), (2, 4, 3)),
        (3, (2, 3, 4, 4), 1),
        (3, (1, 2, 4, 6, 3), (2, None, 2)),
    ],
)
def test_adaptive_pool_1d_3d_matches_torch(d, shape, size):
    x = distinct(np.random.default_rng(0), shape)
    compare_layers(
        getattr(nn, f"AdaptiveAvgPool{d}d")(size),
        getattr(torch.nn, f"AdaptiveAvgPool{d}d")(size),
        x,
    )
    compare_layers(
        getattr(nn, f"AdaptiveMaxPool{d}d")(size, True),
        getattr(torch.nn, f"AdaptiveMaxPool{d}d")(size, True),
        x,
    )


def test_global_pooling_helpers():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    avg = nn.GlobalAvgPool2d()(soma.tensor(x))
    mx = nn.GlobalMaxPool2d()(soma.tensor(x))
    np.testing.assert_allclose(avg.numpy(), x.mean(axis=(2, 3)))
    np.testing.assert_allclose(mx.numpy(), x.max(axis=(2, 3)))
    idiom = nn.AdaptiveAvgPool2d(1)(soma.tensor(x))
    np.testing.assert_allclose(idiom.numpy()[:, :, 0, 0], avg.numpy())


# ---------------------------------------------------------------------------- unpooling
@pytest.mark.parametrize(
    "d,shape,k,s,p",
    [
        (1, (2, 3, 9), 2, 2, 0),
        (2, (2, 3, 8, 6), 2, 2, 0),
        (2, (1, 2, 7, 9), 2, 2, 1),
        (2, (1, 2, 7, 9), 3, 3, 1),
        (3, (1, 2, 4, 5, 4), 2, 2, 0),
    ],
)
def test_maxunpool_round_trip_matches_torch(d, shape, k, s, p):
    x = distinct(np.random.default_rng(0), shape)
    pool_s = getattr(nn, f"MaxPool{d}d")(k, s, p, return_indices=True)
    pool_t = getattr(torch.nn, f"MaxPool{d}d")(k, s, p, return_indices=True)
    unpool_s = getattr(nn, f"MaxUnpool{d}d")(k, s, p)
    unpool_t = getattr(torch.nn, f"MaxUnpool{d}d")(k, s, p)
    xs = soma.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, is_ = pool_s(xs)
    yt, it = pool_t(xt)
    us = unpool_s(ys, is_, output_size=xs.shape)
    ut = unpool_t(yt, it, output_size=xt.shape)
    np.testing.assert_array_equal(us.detach().numpy(), ut.detach().numpy())
    g = np.random.default_rng(1).standard_normal(shape)
    (us * soma.tensor(g)).sum().backward()
    (ut * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy())


def test_maxunpool_default_size_and_errors():
    x = soma.arange(16.0).reshape(1, 1, 4, 4)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert tuple(nn.MaxUnpool2d(2)(y, idx).shape) == (1, 1, 4, 4)
    with pytest.raises(ValueError, match="MaxUnpool2d.*invalid output_size"):
        nn.MaxUnpool2d(2)(y, idx, output_size=(7, 7))
    with pytest.raises(ValueError, match=r"invalid max index 21 \(output planes are of size 4x4"):
        nn.MaxUnpool2d(2)(y, idx + 6)


# ---------------------------------------------------------------------------- errors, repr
def test_errors_name_layer_and_shapes():
    with pytest.raises(ValueError, match=r"MaxPool2d.*\(2, 2\) is too small"):
        nn.MaxPool2d(3)(soma.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"AvgPool2d.*padding should be at most half"):
        nn.AvgPool2d(2, padding=2)(soma.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"MaxPool2d.*3D \(unbatched\) or 4D.*\(8,\)"):
        nn.MaxPool2d(2)(soma.zeros(8))
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="output_size must be at least 0"):
        nn.AdaptiveAvgPool2d(-1)(soma.zeros(1, 1, 4, 4))


@pytest.mark.parametrize("name", ["adaptive_avg_pool", "adaptive_max_pool"])
@pytest.mark.parametrize("d, size", [(1, 0), (2, 0), (2, (0, 2)), (2, (2, 0)), (3, (1, 0, 1))])
def test_adaptive_pooling_to_a_size_with_a_zero_is_empty_as_in_pytorch(name, d, size):
    # PyTorch returns an empty tensor (soma raised before stop 44) and refuses its gradient
    torch = pytest.importorskip("torch")
    shape = (2, 3) + (4,) * d
    outs = []
    for lib in (torch, soma):
        x = lib.ones(shape, requires_grad=True)
        y = getattr(lib.nn.functional, f"{name}{d}d")(x, size)
        outs.append((tuple(y.shape), repr(y.grad_fn)[1:].split()[0].rstrip(">")))
        with pytest.raises(RuntimeError, match="empty"):
            y.sum().backward()
    assert outs[1] == outs[0]
    if name == "adaptive_max_pool":
        _, idx = soma.nn.functional.adaptive_max_pool2d(soma.ones(1, 4, 4), (3, 0), True)
        assert idx.shape == (1, 3, 0) and idx.dtype == soma.int64


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.MaxPool2d(2),
        lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True),
        lambda m: m.AvgPool2d(3, 2, 1),
        lambda m: m.AdaptiveAvgPool2d(1),
        lambda m: m.AdaptiveMaxPool2d((3, 4)),
        lambda m: m.LPPool2d(2, 3),
        lambda m: m.MaxUnpool2d(2),
        lambda m: m.AvgPool1d(3),
    ],
)
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_pooling_layers_have_no_state():
    assert nn.MaxPool2d(2).state_dict() == {}
    assert list(nn.AdaptiveAvgPool2d(1).parameters()) == []


def test_grids_cover_both_layouts():
    """The argument grids above run each kernel in both memory layouts (see _windows.py)."""
    from soma.functional.pooling._windows import Windows
    from soma.functional.pooling.max_avg import use_pixels

    win = Windows("test", (7, 9), 3, 2, 1)
    assert use_pixels(win, (4, 8)) and use_pixels(win, (20,))
    assert not use_pixels(win, (2, 3)) and not use_pixels(win, (1, 1))
    assert not use_pixels(Windows("test", (8, 8), 2, 2, 0), (4, 8))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1)])
def test_avgpool2d_keeps_a_channels_last_layout(kw):
    """A channels-last input (as convolutions return) gives a channels-last output and input
    gradient in the planes layout (DenseNet's transitions feed the next block's concatenation,
    which then runs in that layout); values as torch's."""
    rng = np.random.default_rng(7)
    x_np = rng.standard_normal((2, 6, 8, 8)).astype(np.float32)
    x_cl = np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    x = soma.from_numpy(x_cl).requires_grad_()
    h = x * 1.0  # not a leaf: its gradient is seen as it arrives (a leaf's is copied)
    seen = []
    h.register_hook(lambda grad: seen.append(grad.numpy()))
    y = nn.AvgPool2d(**kw)(h)
    g_np = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    g_cl = np.ascontiguousarray(g_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y.backward(soma.from_numpy(g_cl))
    for a in (y.detach().numpy(), seen[0]):
        assert np.moveaxis(a, 1, -1).flags.c_contiguous
    xt = torch.tensor(x_np, requires_grad=True)
    yt = torch.nn.AvgPool2d(**kw)(xt)
    yt.backward(torch.tensor(g_np))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "shape, kw",
    [
        ((2, 1, 4, 4), dict(kernel_size=2)),
        ((1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1)),
        ((1, 2, 3, 4, 4), dict(kernel_size=2)),
    ],
)
def test_maxpool_numpy_path_indexes_the_last_nan_as_torch(shape, kw):
    """Without the compiled kernels (no Numba, SOMA_FAST=0, float16, 3-D pooling) a window
    holding NaN gives NaN, indexed, and its gradient routed, at its last NaN, as PyTorch's CPU
    kernel does (the window's first element, not a NaN at all, got it before)."""
    from soma.backend import compiled

    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    flat = x.reshape(-1)
    flat[[1, 4, 5, 13, 22]] = np.nan
    layer = nn.MaxPool3d if len(shape) == 5 else nn.MaxPool2d
    twin = torch.nn.MaxPool3d if len(shape) == 5 else torch.nn.MaxPool2d
    with compiled.disabled():
        xs = soma.tensor(x, requires_grad=True)
        y, idx = layer(**kw, return_indices=True)(xs)
        y.sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    yt, it = twin(**kw, return_indices=True)(xt)
    yt.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())  # NaN where NaN
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1)])
def test_avgpool2d_channels_last_gradcheck_float64(kw):
    from soma.testing import gradcheck

    x_np = np.random.default_rng(8).standard_normal((2, 3, 5, 6))
    x = soma.from_numpy(np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
    x.requires_grad_()
    assert gradcheck(lambda t: nn.functional.avg_pool2d(t, **kw), (x,))
