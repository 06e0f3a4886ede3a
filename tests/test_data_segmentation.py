"""Segmentation data: the synthetic shapes and digit canvases, joint image + mask transforms,
``SegmentationDataset`` with the loader, and the PNG folder reader (files written here)."""

import numpy as np
import pytest

import soma
from soma.data import DataLoader, load
from soma.data.datasets import (
    SegmentationDataset,
    make_digit_canvas,
    make_shapes,
    read_segmentation_folder,
)
from soma.data.mask_transforms import (
    JointCompose,
    JointRandomCrop,
    JointRandomHorizontalFlip,
    JointRandomRotation,
    JointRandomVerticalFlip,
    rotate_mask,
)


def test_shapes_are_seeded_and_masks_mark_the_shapes():
    x1, y1 = make_shapes(20, size=32, seed=3)
    x2, y2 = make_shapes(20, size=32, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(make_shapes(20, size=32, seed=4)[1], y1)
    assert x1.shape == (20, 1, 32, 32) and x1.dtype == np.float32 and y1.dtype == np.int64
    assert set(np.unique(y1)) == {0, 1, 2, 3}
    # shapes are brighter than their background (0.55…1 against 0…0.35, noise σ 0.1)
    for image, mask in zip(x1[:, 0], y1):
        assert image[mask > 0].mean() > image[mask == 0].mean() + 0.2


def test_shapes_do_not_touch_unless_asked():
    def touching(y):  # a labelled pixel next to a pixel of another shape class
        a, b = y[:, 1:, :], y[:, :-1, :]
        c, d = y[:, :, 1:], y[:, :, :-1]
        return ((a > 0) & (b > 0) & (a != b)).any() or ((c > 0) & (d > 0) & (c != d)).any()

    _, y = make_shapes(300, size=32, seed=0)
    assert not touching(y)
    _, y = make_shapes(300, size=32, seed=0, overlap=True)
    assert touching(y)


def test_shape_geometry_ellipse_area():
    # one noise-free image at a time: the ellipse's pixel count is close to π·a·b
    x, y = make_shapes(200, size=64, max_shapes=1, noise=0.0, seed=0)
    fractions = [(m > 0).mean() for m in y]
    assert 0.02 < min(fractions) and max(fractions) < 0.35


def test_digit_canvas_masks_hold_the_placed_digits():
    x, y, labels = make_digit_canvas(10, size=48, digits=3, seed=1)
    assert x.shape == (10, 1, 48, 48) and y.shape == (10, 48, 48)
    for mask, placed in zip(y, labels):
        present = set(np.unique(mask)) - {0}
        assert present <= {int(d) + 1 for d in placed if d >= 0}
        assert len(present) >= 1
    assert (x[:, 0][y > 0] > 0.25).mean() > 0.9  # labelled pixels are digit strokes


def test_load_shapes_splits_are_segmentation_splits():
    splits = load("shapes", n_train=20, n_test=8, size=32, val_split=0.25, seed=0)
    assert splits.task == "segmentation" and splits.num_classes == 4
    assert (len(splits.train), len(splits.val), len(splits.test)) == (15, 5, 8)
    assert splits.classes == ("background", "ellipse", "rectangle", "triangle")
    image, mask = splits.train[0]
    assert tuple(image.shape) == (1, 32, 32) and tuple(mask.shape) == (32, 32)
    # the test split does not move with the seed
    other = load("shapes", n_train=20, n_test=8, size=32, seed=5)
    np.testing.assert_array_equal(other.test.masks, splits.test.masks)


def _coordinates(n=3, h=6, w=5):
    """Images whose value is the mask's label: any joint move keeps image == mask."""
    y = np.arange(n * h * w).reshape(n, h, w)
    return y[:, None].astype(np.float32), y


@pytest.mark.parametrize(
    "transform",
    [
        JointRandomHorizontalFlip(p=0.5),
        JointRandomVerticalFlip(p=0.5),
        JointRandomCrop((4, 3), padding=1, fill=-1, mask_fill=-1),
        JointCompose([JointRandomHorizontalFlip(), JointRandomCrop(4)]),
    ],
)
def test_joint_transforms_move_image_and_mask_together(transform):
    transform.generator = soma.Generator().manual_seed(0)
    for t in getattr(transform, "transforms", []):
        t.generator = soma.Generator().manual_seed(0)
    x, y = _coordinates()
    tx, ty = transform(x, y)
    np.testing.assert_array_equal(tx[:, 0], ty)
    sx, sy = transform(x[0], y[0])  # one sample
    np.testing.assert_array_equal(sx[0], sy)


def test_flips_flip_and_crop_picks_one_window():
    x, y = _coordinates(n=1)
    fx, fy = JointRandomHorizontalFlip(p=1.0)(x, y)
    np.testing.assert_array_equal(fy[0], y[0][:, ::-1])
    fx, fy = JointRandomVerticalFlip(p=1.0)(x, y)
    np.testing.assert_array_equal(fy[0], y[0][::-1])
    cx, cy = JointRandomCrop((2, 2))(x, y)
    top, left = divmod(int(cy[0, 0, 0]), 5)
    np.testing.assert_array_equal(cy[0], y[0, top : top + 2, left : left + 2])


def test_rotation_by_90_degrees_is_rot90_for_image_and_mask():
    x, y = _coordinates(n=2, h=5, w=5)
    rx, ry = JointRandomRotation((90, 90))(x, y)
    np.testing.assert_array_equal(ry, np.rot90(y, 1, axes=(1, 2)))  # counter-clockwise
    np.testing.assert_allclose(rx[:, 0], np.rot90(y, 1, axes=(1, 2)), atol=1e-4)


def test_rotated_masks_keep_class_values():
    y = np.random.default_rng(0).integers(0, 4, (4, 9, 9))
    r = rotate_mask(y, [13.0, 45.0, -30.0, 100.0], fill=255)
    assert set(np.unique(r)) <= {0, 1, 2, 3, 255}


def test_segmentation_dataset_with_transforms_through_the_loader():
    x, y = _coordinates(n=8)
    ds = SegmentationDataset(x, y, transforms=JointRandomHorizontalFlip())
    for images, masks in DataLoader(ds, batch_size=4, shuffle=True):
        assert images.shape == (4, 1, 6, 5) and masks.shape == (4, 6, 5)
        np.testing.assert_array_equal(images.numpy()[:, 0], masks.numpy())
    with pytest.raises(ValueError, match="SegmentationDataset"):
        SegmentationDataset(x, y[:, :3])


def test_read_segmentation_folder_reads_png_pairs(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    images = rng.integers(0, 256, (3, 6, 7, 3), dtype=np.uint8)
    masks = rng.integers(0, 4, (3, 6, 7), dtype=np.uint8)
    for i in range(3):
        Image.fromarray(images[i], "RGB").save(tmp_path / "images" / f"img{i}.png")
        Image.fromarray(masks[i], "L").save(tmp_path / "masks" / f"img{i}.png")
    ds = read_segmentation_folder(tmp_path, classes=["a", "b", "c", "d"])
    assert len(ds) == 3 and ds.classes == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.masks, masks)
    image, mask = ds[1]
    np.testing.assert_allclose(image.numpy(), images[1].transpose(2, 0, 1) / 255, atol=1e-6)
    # grayscale images and palette masks
    Image.fromarray(images[0, :, :, 0], "L").save(tmp_path / "images" / "img0.png")
    gray = read_segmentation_folder(tmp_path, channels=1)
    assert gray.images.shape == (3, 1, 6, 7)
    # a mask without its image is an error that names it
    Image.fromarray(masks[0], "L").save(tmp_path / "masks" / "lonely.png")
    with pytest.raises(ValueError, match="lonely"):
        read_segmentation_folder(tmp_path)
