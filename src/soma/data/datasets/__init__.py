"""Datasets in real file formats and synthetic ones, behind one API.

``load(name, root=None, val_split=0.0, seed=0, download=False, **options)`` returns a
``DatasetSplits`` (``.train``, ``.val``, ``.test`` and metadata) for every dataset here;
PyTorch-style classes (``Digits``, ``MNIST``, ``FashionMNIST``, ``CIFAR10``) give one split each.
"""

from soma.data.datasets.base import DatasetSplits, ImageDataset, stratified_split
from soma.data.datasets.cifar import CIFAR10, load_cifar10
from soma.data.datasets.digits import Digits, load_digits
from soma.data.datasets.files import ChecksumError, DatasetFileError, download, soma_home
from soma.data.datasets.idx import read_idx, write_idx
from soma.data.datasets.mnist import MNIST, FashionMNIST, load_fashion_mnist, load_mnist
from soma.data.datasets.safe_pickle import UnsafePickleError, safe_loads
from soma.data.datasets.synthetic import (
    load_circles,
    load_moons,
    load_sin,
    load_spirals,
    load_xor,
    make_circles,
    make_moons,
    make_sin,
    make_spirals,
    make_xor,
)

_LOADERS = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "sin": load_sin,
    "xor": load_xor,
    "spirals": load_spirals,
    "moons": load_moons,
    "circles": load_circles,
}


# segmentation (images with per-pixel class masks)
from soma.data.datasets.masks import SegmentationDataset, read_segmentation_folder  # noqa: E402
from soma.data.datasets.shapes import (  # noqa: E402
    load_digit_canvas,
    load_shapes,
    make_digit_canvas,
    make_shapes,
)

_LOADERS["shapes"] = load_shapes
_LOADERS["digit_canvas"] = load_digit_canvas

_DESCRIPTIONS = {
    "digits": "8x8 handwritten digits from scikit-learn (1,797 images, 10 classes; bundled)",
    "mnist": "28x28 handwritten digits, IDX files (70,000 images, 10 classes; download)",
    "fashion_mnist": "28x28 clothing images, IDX files (70,000 images, 10 classes; download)",
    "cifar10": "32x32 colour photos, CIFAR-10 batches (60,000 images, 10 classes; download)",
    "sin": "regression of sin(3x) on [-1, 1], the lecture's first network (synthetic)",
    "xor": "the four XOR points, or a noisy sample of them (synthetic)",
    "spirals": "two interleaved spirals, 2 classes (synthetic)",
    "moons": "two interleaving half circles, 2 classes (synthetic)",
    "circles": "a small circle inside a large one, 2 classes (synthetic)",
    "shapes": "64x64 ellipses, rectangles, triangles on noise, per-pixel masks (segmentation)",
    "digit_canvas": "48x48 canvases of 3 digits with per-pixel masks, 11 classes (segmentation)",
}


def describe(name: str) -> str:
    """One line saying what the dataset is and where it comes from."""
    return _DESCRIPTIONS[_normalise(name)]


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_")


def available() -> list:
    """The names ``load`` accepts."""
    return sorted(_LOADERS)


def load(
    name: str, root=None, val_split: float = 0.0, seed: int = 0, download: bool = False, **options
) -> DatasetSplits:
    """Load a dataset by name as train/val/test splits with metadata.

    Args:
        name: one of ``available()``, e.g. ``"digits"``, ``"mnist"``, ``"cifar10"``, ``"moons"``.
        root: folder holding the files (default ``$SOMA_HOME/datasets`` or
            ``~/.cache/soma/datasets``); unused by bundled and synthetic datasets.
        val_split: fraction of the training set moved to ``.val`` (stratified for classes).
        seed: seeds the validation split (and the samples of synthetic datasets).
        download: fetch missing files (checksum-verified) into ``root``.
        **options: dataset-specific options (``transform=``, ``n_samples=``, ``noise=`` …).

    Example:
        >>> splits = load("digits")
        >>> splits.num_classes, len(splits.train), len(splits.test), splits.val is None
        (10, 1438, 359, True)
    """
    key = _normalise(name)
    if key not in _LOADERS:
        raise ValueError(f"soma.data.load: unknown dataset {name!r}; available: {available()}")
    return _LOADERS[key](root=root, val_split=val_split, seed=seed, download=download, **options)


__all__ = [
    "describe",
    "CIFAR10",
    "ChecksumError",
    "DatasetFileError",
    "DatasetSplits",
    "Digits",
    "FashionMNIST",
    "ImageDataset",
    "MNIST",
    "UnsafePickleError",
    "available",
    "download",
    "load",
    "load_cifar10",
    "load_circles",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_moons",
    "load_sin",
    "load_spirals",
    "load_xor",
    "make_circles",
    "make_moons",
    "make_sin",
    "make_spirals",
    "make_xor",
    "read_idx",
    "safe_loads",
    "soma_home",
    "stratified_split",
    "write_idx",
]
__all__ += [
    "SegmentationDataset",
    "load_digit_canvas",
    "load_shapes",
    "make_digit_canvas",
    "make_shapes",
    "read_segmentation_folder",
]
