"""Datasets in real file formats and synthetic ones, behind one API.

``load(name, root=None, val_split=0.0, seed=0, download=False, **options)`` returns a
``DatasetSplits`` (``.train``, ``.val``, ``.test`` and metadata) for every dataset here;
PyTorch-style classes (``Digits``, ``MNIST``, ``FashionMNIST``, ``CIFAR10``) give one split each.
"""

from soma.data.datasets.base import DatasetSplits, ImageDataset, stratified_split
from soma.data.datasets.digits import Digits, load_digits

_LOADERS = {
    "digits": load_digits,
}


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_")


def available() -> list:
    """The names ``load`` accepts."""
    return sorted(_LOADERS)


def load(name: str, root=None, val_split: float = 0.0, seed: int = 0, download: bool = False,
         **options) -> DatasetSplits:
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
    "DatasetSplits",
    "Digits",
    "ImageDataset",
    "available",
    "load",
    "load_digits",
    "stratified_split",
]
