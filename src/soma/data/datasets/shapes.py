"""Synthetic segmentation data that needs no download.

* ``make_shapes``: ellipses, rectangles and triangles (random size, aspect, rotation and
  brightness) on a noisy background, apart from each other; the mask labels each pixel 0
  (background), 1 (ellipse), 2 (rectangle) or 3 (triangle).
* ``make_digit_canvas``: several of scikit-learn's 8×8 digits, enlarged, placed without overlap
  on a larger canvas; the mask labels each pixel of a digit with its class + 1 (0 is the
  background), and ``labels`` lists the digits placed on each canvas.

Both are seeded (``seed=``) and of any size; ``load("shapes")`` and ``load("digit_canvas")``
wrap them as ``DatasetSplits`` with ``task="segmentation"``. The test split has a fixed seed,
so it does not move with the user's seed.
"""

import math

from soma.backend import get_xp
from soma.data.datasets.base import (
    DatasetSplits,
    _rng,
    channel_stats,
    random_split_indices,
    register_dataset,
)
from soma.data.datasets.digits import Digits
from soma.data.datasets.masks import SegmentationDataset

_xp = get_xp()

SHAPE_CLASSES = ("background", "ellipse", "rectangle", "triangle")
DIGIT_CANVAS_CLASSES = ("background", *(str(d) for d in range(10)))
TEST_SEED = 20150518  # NOTE: fixed on purpose: the test set must not move with the user's seed


def _shape_mask(kind: int, yy, xx, cy, cx, r, aspect, theta):
    """Boolean mask of one shape: 1 ellipse, 2 rectangle, 3 triangle, centred at (cy, cx)."""
    u = (xx - cx) * math.cos(theta) + (yy - cy) * math.sin(theta)
    v = -(xx - cx) * math.sin(theta) + (yy - cy) * math.cos(theta)
    if kind == 1:
        return (u / r) ** 2 + (v / (r * aspect)) ** 2 <= 1
    if kind == 2:
        return (abs(u) <= r * 0.85) & (abs(v) <= r * 0.85 * aspect)
    # an equilateral triangle with circumradius r: inside all three edges' half-planes
    inside = _xp.ones(u.shape, dtype=bool)
    for k in range(3):
        a = 2 * math.pi * k / 3 + math.pi / 2
        inside &= u * math.cos(a) + v * math.sin(a) >= -r / 2
    return inside


def _grow(mask):
    """``mask`` grown by one pixel in the four directions."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def make_shapes(
    n: int = 1000,
    size: int = 64,
    max_shapes: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    overlap: bool = False,
):
    """Noisy grayscale images of random shapes and their class masks.

    Args:
        n: number of images.
        size: height and width.
        max_shapes: each image has 1 … ``max_shapes`` shapes.
        noise: standard deviation of the Gaussian pixel noise.
        seed: the random seed.
        overlap: let shapes overlap (a later one covers an earlier one). By default a shape
            that would touch another (within one pixel) is drawn again elsewhere, a few tries,
            then left out: where two shapes of similar brightness touch, no network could tell
            where one ends.

    Returns:
        images (n, 1, size, size) float32 and masks (n, size, size) int64 in 0 … 3.

    Example:
        >>> x, y = make_shapes(4, size=32, seed=0)
        >>> x.shape, y.shape, sorted(set(y.ravel().tolist())) == [0, 1, 2, 3]
        ((4, 1, 32, 32), (4, 32, 32), True)
    """
    rng = _rng(seed)
    yy, xx = _xp.mgrid[0:size, 0:size].astype(_xp.float64)
    images = _xp.empty((n, 1, size, size), _xp.float32)
    masks = _xp.zeros((n, size, size), _xp.int64)
    for i in range(n):
        background = rng.uniform(0.0, 0.35)
        image = _xp.full((size, size), background)
        taken = _xp.zeros((size, size), bool)  # drawn shapes, grown by one pixel
        for _ in range(rng.integers(1, max_shapes + 1)):
            for _ in range(10):
                kind = int(rng.integers(1, 4))
                r = rng.uniform(size / 7, size / 4)
                cy, cx = rng.uniform(r, size - r, 2)
                inside = _shape_mask(
                    kind, yy, xx, cy, cx, r, rng.uniform(0.55, 1.0), rng.uniform(0, math.pi)
                )
                if overlap or not (inside & taken).any():
                    break
            else:
                continue
            image[inside] = rng.uniform(0.55, 1.0)
            masks[i][inside] = kind
            taken |= _grow(inside)
        images[i, 0] = image + rng.normal(0.0, noise, image.shape)
    return images, masks


def make_digit_canvas(
    n: int = 1000,
    size: int = 48,
    digits: int = 3,
    scale: int = 2,
    noise: float = 0.05,
    seed: int = 0,
    train: bool = True,
):
    """Canvases with ``digits`` non-overlapping enlarged 8×8 digits each, with pixel masks.

    Digits come from the fixed train (or test) split of ``soma.data.Digits``, so a test canvas
    never shows a training digit. A digit's pixels brighter than 0.25 get its class + 1.

    Returns:
        images (n, 1, size, size) float32, masks (n, size, size) int64 in 0 … 10, and labels
        (n, digits) int64: the digits placed (−1 where one did not fit).

    Example:
        >>> x, y, labels = make_digit_canvas(2, size=48, seed=0)
        >>> x.shape, int(y.max()) <= 10, labels.shape
        ((2, 1, 48, 48), True, (2, 3))
    """
    source = Digits(train=train)
    pool, pool_labels = source.data[:, 0], source.targets
    rng = _rng(seed)
    side = 8 * scale
    images = rng.normal(0.0, noise, (n, 1, size, size)).astype(_xp.float32)
    masks = _xp.zeros((n, size, size), _xp.int64)
    labels = _xp.full((n, digits), -1, _xp.int64)
    for i in range(n):
        taken = _xp.zeros((size, size), bool)
        for k in range(digits):
            for _ in range(20):  # a few tries at a free spot
                top, left = rng.integers(0, size - side + 1, 2)
                if not taken[top : top + side, left : left + side].any():
                    break
            else:
                continue
            j = rng.integers(len(pool))
            digit = _xp.kron(pool[j], _xp.ones((scale, scale), _xp.float32))
            window = (slice(top, top + side), slice(left, left + side))
            images[i, 0][window] += digit
            masks[i][window][digit > 0.25] = pool_labels[j] + 1
            taken[window] = True
            labels[i, k] = pool_labels[j]
    return images, masks, labels


def _splits(name, train, test, classes, val_split, seed) -> DatasetSplits:
    val = None
    if val_split:
        rest, part = random_split_indices(len(train), val_split, seed)
        train, val = train.take(rest), train.take(part)
    mean, std = channel_stats(train.images)
    return DatasetSplits(
        name,
        train,
        test,
        val,
        num_classes=len(classes),
        input_shape=tuple(train.images.shape[1:]),
        classes=tuple(classes),
        mean=mean,
        std=std,
        task="segmentation",
    )


@register_dataset(
    "shapes", "64x64 ellipses, rectangles, triangles on noise, per-pixel masks (segmentation)"
)
def load_shapes(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    n_train: int = 1000,
    n_test: int = 200,
    transforms=None,
    **options,
) -> DatasetSplits:
    """The shapes as train/val/test ``SegmentationDataset`` s (``options`` to ``make_shapes``).

    Example:
        >>> s = load_shapes(n_train=8, n_test=4, size=32)
        >>> s.task, s.num_classes, s.input_shape, len(s.test)
        ('segmentation', 4, (1, 32, 32), 4)
    """
    train = SegmentationDataset(*make_shapes(n_train, seed=seed, **options), transforms)
    test = SegmentationDataset(*make_shapes(n_test, seed=TEST_SEED, **options))
    for ds in (train, test):
        ds.classes = list(SHAPE_CLASSES)
    return _splits("shapes", train, test, SHAPE_CLASSES, val_split, seed)


@register_dataset(
    "digit_canvas", "48x48 canvases of 3 digits with per-pixel masks, 11 classes (segmentation)"
)
def load_digit_canvas(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    n_train: int = 1000,
    n_test: int = 200,
    transforms=None,
    **options,
) -> DatasetSplits:
    """Digits on a canvas as train/val/test ``SegmentationDataset`` s (11 classes)."""
    x, y, _ = make_digit_canvas(n_train, seed=seed, train=True, **options)
    train = SegmentationDataset(x, y, transforms, classes=DIGIT_CANVAS_CLASSES)
    x, y, _ = make_digit_canvas(n_test, seed=TEST_SEED, train=False, **options)
    test = SegmentationDataset(x, y, classes=DIGIT_CANVAS_CLASSES)
    return _splits("digit_canvas", train, test, DIGIT_CANVAS_CLASSES, val_split, seed)


__all__ = [
    "DIGIT_CANVAS_CLASSES",
    "SHAPE_CLASSES",
    "load_digit_canvas",
    "load_shapes",
    "make_digit_canvas",
    "make_shapes",
]
