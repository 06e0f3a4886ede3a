"""Upsampling and pixel-shuffle layers against torch.nn; PyTorch's index rules; errors."""

import numpy as np
import pytest

import soma
from soma import nn
from soma.nn.functional import interpolate
from soma.testing import gradcheck
from tests.layer_helpers import compare_layers
from tests.torch_oracle import torch

MODES = [
    ("nearest", 1),
    ("nearest", 2),
    ("nearest", 3),
    ("nearest-exact", 2),
    ("linear", 1),
    ("bilinear", 2),
    ("trilinear", 3),
    ("bicubic", 2),
    ("area", 2),
]
SHAPE = {1: (2, 3, 7), 2: (2, 3, 6, 9), 3: (1, 2, 4, 5, 3)}
GEOMETRY = [
    dict(scale_factor=2),
    dict(scale_factor=3),
    dict(scale_factor=0.5),
    dict(scale_factor=1.5, recompute_scale_factor=True),
    dict(scale_factor=2.7),
    dict(size=11),
    dict(size=4),
]


@pytest.mark.parametrize("mode,d", MODES, ids=str)
@pytest.mark.parametrize("geometry", GEOMETRY, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_upsample_matches_torch(mode, d, geometry, dtype):
    corners = [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]
    x = np.random.default_rng(0).standard_normal(SHAPE[d]).astype(dtype)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for ac in corners:
        kw = dict(geometry, mode=mode, align_corners=ac)
        compare_layers(nn.Upsample(**kw), torch.nn.Upsample(**kw), x, **tol)


@pytest.mark.parametrize("n_in,n_out", [(7, 13), (13, 7), (3, 10), (10, 3), (5, 16), (16, 5)])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_follow_pytorch_float32_rule(n_in, n_out, mode):
    x = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in)
    ours = interpolate(soma.tensor(x), size=n_out, mode=mode).numpy()
    theirs = torch.nn.functional.interpolate(torch.tensor(x), size=n_out, mode=mode).numpy()
    np.testing.assert_array_equal(ours, theirs)
    for sf in (n_out / n_in, 1 / 3, 2.1):
        ours = interpolate(soma.tensor(x), scale_factor=sf, mode=mode).numpy()
        theirs = torch.nn.functional.interpolate(
            torch.tensor(x), scale_factor=sf, mode=mode
        ).numpy()
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "shape,sf,mode",
    [
        ((1, 2, 5), 1.1, "nearest"),
        ((1, 2, 5), 2.1, "nearest"),
        ((1, 1, 3, 5), 2.1, "nearest"),
        ((1, 1, 4, 5), 1.1, "nearest"),
        ((1, 1, 4, 5), 1.1, "bicubic"),
    ],
)
def test_scale_factor_corner_cases_forward_matches_and_gradient_is_exact(shape, sf, mode):
    """Where a scale factor disagrees with the rounded size, the forward pass is PyTorch's
    (including its 2D-only ×1/×2 shortcuts); the backward pass is the exact gradient of it
    (PyTorch's own backward differs there, see soma/functional/resample.py)."""
    x = np.random.default_rng(0).standard_normal(shape)
    ours = interpolate(soma.tensor(x), scale_factor=sf, mode=mode)
    theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=sf, mode=mode)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    xs = soma.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: interpolate(t, scale_factor=sf, mode=mode), [xs])


def test_fixed_mode_upsampling_layers():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    compare_layers(
        nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2), x
    )
    compare_layers(
        nn.UpsamplingBilinear2d(size=(7, 9)),
        torch.nn.UpsamplingBilinear2d(size=(7, 9)),
        x,
        rtol=1e-9,
    )
    for make in (
        lambda m: m.Upsample(scale_factor=2),
        lambda m: m.Upsample(size=(4, 5)),
        lambda m: m.UpsamplingBilinear2d(scale_factor=2),
        lambda m: m.Upsample(scale_factor=(2, 3), mode="bilinear"),
    ):
        assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("r,shape", [(2, (2, 8, 3, 5)), (3, (9, 2, 4)), (2, (2, 1, 4, 3, 5))])
def test_pixel_shuffle_layers_match_torch_and_invert(r, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    ys, _ = compare_layers(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), x)
    back, _ = compare_layers(
        nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), ys[0].detach().numpy()
    )
    np.testing.assert_array_equal(back[0].detach().numpy(), x)
    assert repr(nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))


def test_resample_errors():
    x = soma.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match=r"'bilinear' needs 4D input, got shape \(1, 2, 4\)"):
        interpolate(soma.zeros(1, 2, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        interpolate(x)
    with pytest.raises(ValueError, match="unknown mode 'cubic'"):
        interpolate(x, size=3, mode="cubic")
    with pytest.raises(TypeError, match="'bilinear' needs a floating-point input"):
        interpolate(soma.zeros(1, 1, 2, 2, dtype=soma.uint8), size=3, mode="bilinear")
    images = soma.tensor(np.arange(4, dtype=np.uint8).reshape(1, 1, 2, 2))
    assert interpolate(images, scale_factor=2).dtype == np.uint8  # nearest works on images
    with pytest.raises(NotImplementedError, match="antialias"):
        interpolate(x, size=3, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match=r"Upsample.*needs a size of 2 elements"):
        nn.Upsample(size=(2, 3, 4))(x)
    with pytest.raises(ValueError, match=r"PixelShuffle.*r = 2, got \(1, 6, 2, 2\)"):
        nn.PixelShuffle(2)(soma.zeros(1, 6, 2, 2))
    with pytest.raises(ValueError, match=r"pixel_unshuffle.*\(1, 1, 5, 4\)"):
        nn.PixelUnshuffle(2)(soma.zeros(1, 1, 5, 4))
