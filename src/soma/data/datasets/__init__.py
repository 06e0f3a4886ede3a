"""Datasets in real file formats and synthetic ones, behind one API.

``load(name, root=None, val_split=0.0, seed=0, download=False, **options)`` returns a
``DatasetSplits`` (``.train``, ``.val``, ``.test`` and metadata) for every dataset here;
PyTorch-style classes (``Digits``, ``MNIST``, ``FashionMNIST``, ``CIFAR10``) give one split each.
"""

from soma.data.datasets.base import (
    DATASETS,
    DatasetSplits,
    ImageDataset,
    register_dataset,
    stratified_split,
)
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


def describe(name: str) -> str:
    """One line saying what the dataset is and where it comes from."""
    return DATASETS.get(name).description


def available() -> list:
    """The names ``load`` accepts."""
    return DATASETS.names()


def list_datasets() -> dict:
    """``{name: one-line description}`` of every registered dataset."""
    return DATASETS.descriptions()


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
    try:
        loader = DATASETS.get(name).builder
    except ValueError as error:
        raise ValueError(f"soma.data.load: {error}") from None
    return loader(root=root, val_split=val_split, seed=seed, download=download, **options)


__all__ = [
    "DATASETS",
    "describe",
    "list_datasets",
    "register_dataset",
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
