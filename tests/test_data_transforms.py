"""Transforms: exact Normalize, Resize against PyTorch's bilinear interpolate, seeded random
crops/flips/rotations with independent draws per image, and the dataset/loader hooks."""

import numpy as np
import pytest

import soma
from soma.data import DataLoader, TensorDataset
from soma.data.datasets import ImageDataset
from soma.data.transforms import (
    CenterCrop,
    Compose,
    GaussianNoise,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToTensor,
    rotate,
)


def _images(n=4, c=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def _g(seed=0):
    return soma.Generator().manual_seed(seed)


def test_normalize_is_exact_per_channel():
    x = _images()
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    m, s = (np.array(v, np.float32)[:, None, None] for v in (mean, std))
    want = (x - m) / s
    out = Normalize(mean, std)(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(Normalize(mean, std)(x[0]), want[0])
    t = Normalize([0.5], [0.5])(soma.tensor(x))
    assert isinstance(t, soma.Tensor)
    np.testing.assert_array_equal(t.numpy(), (x - np.float32(0.5)) / np.float32(0.5))


def test_normalize_matches_torch_sub_div(torch_or_skip):
    torch = torch_or_skip
    x = _images()
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(-1, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(-1, 1, 1)
    want = torch.from_numpy(x).sub(mean).div(std).numpy()
    ours = Normalize(mean.flatten().tolist(), std.flatten().tolist())
    np.testing.assert_array_equal(ours(x), want)


def test_normalize_errors():
    with pytest.raises(ValueError, match="division by zero"):
        Normalize([0.0], [0.0])
    with pytest.raises(ValueError, match="2 means / 2 stds for images with 3 channels"):
        Normalize([0, 0], [1, 1])(_images())
    with pytest.raises(TypeError, match="floating-point"):
        Normalize([0], [1])(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\).*got shape \(5,\)"):
        Normalize([0], [1])(np.zeros(5, np.float32))


@pytest.mark.parametrize("size", [(3, 4), (12, 14), (6, 7), (5, 13), (1, 1), (2, 20), (17, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_matches_torch_bilinear(torch_or_skip, size, dtype):
    torch = torch_or_skip
    x = _images(h=6, w=7).astype(dtype)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False
    ).numpy()
    out = Resize(size)(x)
    assert out.dtype == dtype and out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_resize_int_matches_smaller_edge_and_integers_become_float():
    assert Resize(3)(_images(h=6, w=9)).shape == (4, 3, 3, 4)
    assert Resize(3)(_images(h=9, w=6)).shape == (4, 3, 4, 3)
    out = Resize((2, 2))(np.full((1, 4, 4), 200, np.uint8))
    assert out.dtype == np.float32 and np.all(out == 200)


def test_center_crop():
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    np.testing.assert_array_equal(CenterCrop(2)(x), x[:, 2:4, 2:4])
    np.testing.assert_array_equal(CenterCrop((3, 4))(x), x[:, 2:5, 1:5])
    with pytest.raises(ValueError, match="larger than the images"):
        CenterCrop(7)(x)


def test_random_crop_windows_are_real_windows_and_seeded():
    x = _images(n=50, h=8, w=8)
    out = RandomCrop(5, generator=_g(1))(x)
    again = RandomCrop(5, generator=_g(1))(x)
    np.testing.assert_array_equal(out, again)
    offsets = set()
    for i in range(50):  # the check loops; the transform does not
        hits = [
            (t, l)
            for t in range(4)
            for l in range(4)
            if np.array_equal(out[i], x[i, :, t : t + 5, l : l + 5])
        ]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 5  # independent offsets per image


def test_random_crop_padding_modes():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3) + 1
    padded = RandomCrop(5, padding=1, fill=-1, generator=_g())(x)
    np.testing.assert_array_equal(padded[0, 0], np.pad(x[0, 0], 1, constant_values=-1))
    for mode in ("edge", "reflect", "symmetric"):
        out = RandomCrop(5, padding=1, padding_mode=mode, generator=_g())(x)
        np.testing.assert_array_equal(out[0, 0], np.pad(x[0, 0], 1, mode=mode))
    lt = RandomCrop((4, 5), padding=(1, 0, 1, 1), generator=_g())(x)  # left, top, right, bottom
    np.testing.assert_array_equal(lt[0, 0], np.pad(x[0, 0], ((0, 1), (1, 1))))
    grown = RandomCrop(4, pad_if_needed=True, generator=_g())(x[0])
    assert grown.shape == (1, 4, 4)
    with pytest.raises(ValueError, match="larger than the"):
        RandomCrop(4)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        RandomCrop(2, padding_mode="wrap")


@pytest.mark.parametrize("cls, axis", [(RandomHorizontalFlip, 3), (RandomVerticalFlip, 2)])
def test_flips_per_image_and_seeded(cls, axis):
    x = _images(n=64)
    out = cls(p=0.5, generator=_g(3))(x)
    np.testing.assert_array_equal(out, cls(p=0.5, generator=_g(3))(x))
    flipped = np.array([np.array_equal(out[i], np.flip(x[i], axis - 1)) for i in range(64)])
    kept = np.array([np.array_equal(out[i], x[i]) for i in range(64)])
    assert np.all(flipped ^ kept) and 16 < flipped.sum() < 48
    np.testing.assert_array_equal(cls(p=1.0)(x), np.flip(x, axis))
    np.testing.assert_array_equal(cls(p=0.0)(x), x)


def test_rotation_by_zero_is_identity_and_by_90_is_rot90():
    x = _images(n=3, h=9, w=9)
    np.testing.assert_array_equal(rotate(x, [0, 0, 0]), x)
    np.testing.assert_array_equal(RandomRotation(0)(x), x)
    np.testing.assert_allclose(rotate(x, [90] * 3), np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(
        rotate(x, [-90, 180, 270]),
        np.stack(
            [np.rot90(x[0], -1, (1, 2)), np.rot90(x[1], 2, (1, 2)), np.rot90(x[2], 3, (1, 2))]
        ),
        atol=1e-5,
    )


def _torch_rotate(torch, x, angles):
    """Reference: affine_grid + grid_sample (bilinear, zeros outside, centre (W−1)/2)."""
    n, _, h, w = x.shape
    t = np.deg2rad(np.asarray(angles))
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(t), -np.sin(t) * (h - 1) / (w - 1)
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(t) * (w - 1) / (h - 1), np.cos(t)
    grid = torch.nn.functional.affine_grid(
        torch.from_numpy(theta), (n, x.shape[1], h, w), align_corners=True
    )
    return torch.nn.functional.grid_sample(
        torch.from_numpy(x), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    ).numpy()


@pytest.mark.parametrize("shape", [(5, 2, 9, 9), (4, 3, 6, 11)])
def test_rotation_matches_torch_grid_sample(torch_or_skip, shape):
    x = np.random.default_rng(0).random(shape)
    angles = [3.0, -7.5, 25.0, 60.0, -140.0][: shape[0]]
    want = _torch_rotate(torch_or_skip, x, angles)
    np.testing.assert_allclose(rotate(x, angles), want, atol=1e-10)


def test_random_rotation_draws_per_image_and_fills():
    x = np.ones((20, 1, 9, 9), np.float32)
    out = RandomRotation(30, fill=0.0, generator=_g(5))(x)
    np.testing.assert_array_equal(out, RandomRotation(30, generator=_g(5))(x))
    corner_mass = out[:, 0, 0, 0]
    assert len(np.unique(np.round(corner_mass, 5))) > 10  # different angles, different corners
    assert np.all(out[:, 0, 4, 4] == 1)  # the centre never moves
    with pytest.raises(ValueError, match="non-negative"):
        RandomRotation(-3)


def test_gaussian_noise_statistics_and_seeding():
    x = np.zeros((100, 1, 10, 10), np.float32)
    out = GaussianNoise(std=0.5, generator=_g(2))(x)
    assert out.dtype == np.float32 and abs(out.std() - 0.5) < 0.02 and abs(out.mean()) < 0.02
    np.testing.assert_array_equal(out, GaussianNoise(std=0.5, generator=_g(2))(x))
    assert GaussianNoise(std=5, clip=True)(x).max() <= 1
    assert GaussianNoise(0.1)(np.zeros((7, 2))).shape == (7, 2)  # any shape (points too)
    with pytest.raises(TypeError, match="floating-point"):
        GaussianNoise(0.1)(np.zeros(3, np.int64))


def test_compose_to_tensor_and_lambda():
    pipeline = Compose([ToTensor(), Normalize([0.5], [0.5]), Lambda(lambda t: t * 2)])
    out = pipeline(np.full((1, 2, 2), 255, np.uint8))
    assert isinstance(out, soma.Tensor) and out.tolist() == [[[2.0, 2.0], [2.0, 2.0]]]
    assert "Normalize" in repr(pipeline)


def test_dataset_transform_runs_per_batch_on_the_fast_path():
    calls = []

    def spy(x):
        calls.append(x.shape)
        return x

    ds = ImageDataset(
        np.zeros((10, 1, 4, 4), np.uint8),
        np.arange(10) % 3,
        transform=Compose([spy, RandomHorizontalFlip()]),
    )
    batches = list(DataLoader(ds, batch_size=4))
    assert calls == [(4, 1, 4, 4), (4, 1, 4, 4), (2, 1, 4, 4)]
    assert batches[0][0].dtype == np.float32


def test_loader_transform_is_reproducible_with_a_generator():
    x = _images(n=12, c=1, h=5, w=5)

    def run():
        aug = Compose(
            [RandomCrop(5, padding=1, generator=_g(9)), RandomHorizontalFlip(generator=_g(10))]
        )
        loader = DataLoader(
            TensorDataset(x, np.arange(12)),
            batch_size=5,
            shuffle=True,
            generator=_g(11),
            transform=aug,
        )
        return [b[0].numpy() for b in loader]

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)
