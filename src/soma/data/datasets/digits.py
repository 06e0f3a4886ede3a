"""The 8×8 handwritten digits bundled with scikit-learn: 1,797 images, no download needed.

soma's default dataset. The train/test split is fixed (stratified, 80/20, always the same
seed), so every run and every model sees the same test set; ``val_split`` carves a stratified
validation set out of the training images with the caller's ``seed``.
"""

import functools

from soma.backend import get_xp
from soma.data.datasets.base import (
    DatasetSplits,
    ImageDataset,
    load_image_splits,
    register_dataset,
    stratified_split,
)

_xp = get_xp()

TEST_FRACTION = 0.2
SPLIT_SEED = 1797  # NOTE: fixed on purpose: the test set must not move with the user's seed
CLASSES = tuple(str(d) for d in range(10))


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """Images (1797, 1, 8, 8) float32 in [0, 1] and labels (1797,) int64 (read once)."""
    try:
        # optional dependency (scikit-learn ships the digits images)
        from sklearn.datasets import load_digits as _sklearn_load_digits
    except ImportError:
        raise ImportError(
            "soma.data: the digits dataset is read from scikit-learn's bundled copy; "
            "install scikit-learn with `pip install soma[data]`"
        ) from None
    bunch = _sklearn_load_digits()
    images = (bunch.images / 16.0).astype(_xp.float32).reshape(-1, 1, 8, 8)  # pixels are 0..16
    labels = bunch.target.astype(_xp.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _split_indices():
    _, labels = _digits_arrays()
    return stratified_split(labels, TEST_FRACTION, SPLIT_SEED)


class Digits(ImageDataset):
    """The digits as a PyTorch-style dataset: ``Digits(train=True)`` or ``Digits(train=False)``.

    Args:
        root: unused (the data ships with scikit-learn); accepted for a uniform signature.
        train: the fixed 80% training split, else the 20% test split.
        transform, target_transform: applied to images / labels (see ``ImageDataset``).
        download: unused.

    Example:
        >>> ds = Digits(train=False)
        >>> len(ds), tuple(ds[0][0].shape)
        (359, (1, 8, 8))
    """

    def __init__(
        self,
        root=None,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
    ):
        images, labels = _digits_arrays()
        train_idx, test_idx = _split_indices()
        idx = train_idx if train else test_idx
        super().__init__(images[idx], labels[idx], transform, target_transform, CLASSES)


@register_dataset(
    "digits", "8x8 handwritten digits from scikit-learn (1,797 images, 10 classes; bundled)"
)
def load_digits(
    root=None, val_split: float = 0.0, seed: int = 0, download: bool = False, transform=None
) -> DatasetSplits:
    """Train (1,438) / test (359) digits, stratified, plus an optional stratified val split.

    Args:
        root, download: unused (the data ships with scikit-learn).
        val_split: fraction of the training images moved to ``.val``.
        seed: seeds the validation split only (the test split never moves).
        transform: applied to the training images only (augmentation).

    Example:
        >>> splits = load_digits(val_split=0.1)
        >>> len(splits.train), len(splits.val), len(splits.test), splits.input_shape
        (1293, 145, 359, (1, 8, 8))
    """
    return load_image_splits(Digits, "digits", root, val_split, seed, download, transform)
