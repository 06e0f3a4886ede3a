"""What every dataset reader returns: labelled images, splits, and their metadata.

``load(name)`` gives a ``DatasetSplits``: ``.train``, ``.val`` (``None`` unless ``val_split`` is
set) and ``.test`` datasets plus what a model and a training script need to know (number of
classes, input shape, class names, per-channel mean/std of the training images).
"""

from dataclasses import dataclass

from soma._registry import Registry
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend.random import Generator
from soma.data.dataloader import DataLoader
from soma.data.dataset import TensorDataset

_xp = get_xp()

# Datasets by name: ``@register_dataset(name, description)`` on a ``load_*`` function that
# returns ``DatasetSplits``; ``soma.data.load``, ``available()`` and the CLI read it.
DATASETS = Registry("dataset")
register_dataset = DATASETS.register


def _to_float(images):
    """uint8 pixels → float32 in [0, 1] (as torchvision's ToTensor); other dtypes unchanged."""
    array = images.array if isinstance(images, Tensor) else images
    if array.dtype != _xp.uint8:
        return images
    scaled = array.astype(_xp.float32)
    scaled /= 255
    return Tensor._wrap(scaled) if isinstance(images, Tensor) else scaled


class ImageDataset(TensorDataset):
    """Labelled images ``(N, C, H, W)``; samples are ``(image, label)``.

    Images may be stored as uint8 (served as float32 in [0, 1], converted per batch, so the
    stored array stays four times smaller) or as floats (served as stored). Batches are one
    fancy-index of the stored arrays; ``transform`` sees float images, one (C, H, W) image when
    indexing and a whole (N, C, H, W) batch on the loader's fast path.

    Attributes:
        data: the stored image array ``(N, C, H, W)``.
        targets: the int64 label array ``(N,)``.
        classes: class names, index = label.

    Example:
        >>> import numpy as np
        >>> images = np.full((2, 1, 2, 2), 255, np.uint8)
        >>> ds = ImageDataset(images, np.array([0, 1]), classes=["a", "b"])
        >>> image, label = ds[1]
        >>> image.dtype, float(image.max()), int(label), ds.classes[int(label)]
        (dtype('float32'), 1.0, 1, 'b')
    """

    def __init__(self, images, labels, transform=None, target_transform=None, classes=()):
        images = images.array if isinstance(images, Tensor) else _xp.asarray(images)
        labels = labels.array if isinstance(labels, Tensor) else _xp.asarray(labels)
        if images.ndim != 4 or labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(
                f"ImageDataset: expected images (N, C, H, W) and integer labels (N,), got shapes "
                f"{images.shape} and {labels.shape} ({labels.dtype})"
            )
        super().__init__(
            images,
            labels.astype(_xp.int64, copy=False),
            transform=transform,
            target_transform=target_transform,
        )
        self.classes = list(classes)

    @property
    def data(self):
        return self.tensors[0].array

    @property
    def targets(self):
        return self.tensors[1].array

    def _finish(self, fields):
        fields[0] = _to_float(fields[0])
        return super()._finish(fields)

    def take(self, indices) -> "ImageDataset":
        """A new dataset holding copies of the samples at ``indices`` (same transforms)."""
        return ImageDataset(
            self.data[indices],
            self.targets[indices],
            self.transform,
            self.target_transform,
            self.classes,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(samples={len(self)}, image_shape={self.data.shape[1:]}, "
            f"dtype={self.data.dtype})"
        )


def take(dataset: TensorDataset, indices) -> TensorDataset:
    """The rows of a (Image)TensorDataset at ``indices``, as a dataset of the same kind."""
    if isinstance(dataset, ImageDataset):
        return dataset.take(indices)
    return TensorDataset(
        *(t.array[indices] for t in dataset.tensors),
        transform=dataset.transform,
        target_transform=dataset.target_transform,
    )


def _rng(seed: int):
    return Generator().manual_seed(seed).numpy


def stratified_split(labels, fraction: float, seed: int):
    """Split indices into (rest, part) with ``round(fraction · n_c)`` of each class in ``part``.

    Both index arrays are sorted, so samples keep their original relative order.

    Example:
        >>> import numpy as np
        >>> rest, part = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), 0.5, seed=0)
        >>> len(rest), len(part), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])[part].tolist())
        (5, 5, [0, 0, 1, 1, 1])
    """
    labels = _xp.asarray(labels)
    n = labels.shape[0]
    perm = _rng(seed).permutation(n)
    order = perm[_xp.argsort(labels[perm], kind="stable")]  # grouped by class, shuffled inside
    _, starts, counts = _xp.unique(labels[order], return_index=True, return_counts=True)
    sizes = _xp.floor(counts * fraction + 0.5).astype(_xp.int64)
    rank = _xp.arange(n) - _xp.repeat(starts, counts)
    chosen = rank < _xp.repeat(sizes, counts)
    return _xp.sort(order[~chosen]), _xp.sort(order[chosen])


def random_split_indices(n: int, fraction: float, seed: int):
    """(rest, part) index arrays with ``round(fraction · n)`` random indices in ``part``."""
    perm = _rng(seed).permutation(n)
    size = int(_xp.floor(n * fraction + 0.5))
    return _xp.sort(perm[size:]), _xp.sort(perm[:size])


def channel_stats(images) -> tuple:
    """Per-channel mean and std (population) of images (N, C, H, W), uint8 read as [0, 1].

    uint8 images are counted with one histogram per channel: exact and without a float copy.
    """
    if images.dtype == _xp.uint8:
        values = _xp.arange(256, dtype=_xp.float64) / 255
        means, stds = [], []
        for c in range(images.shape[1]):  # a loop over channels (1 or 3)
            counts = _xp.bincount(images[:, c].reshape(-1), minlength=256)
            p = counts / counts.sum()
            mean = float(p @ values)
            means.append(mean)
            stds.append(float(_xp.sqrt(p @ (values - mean) ** 2)))
        return tuple(means), tuple(stds)
    axes = (0, 2, 3)
    mean = images.mean(axis=axes, dtype=_xp.float64)
    std = images.std(axis=axes, dtype=_xp.float64)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


@dataclass
class DatasetSplits:
    """A dataset's splits and metadata, as returned by ``soma.data.load``.

    Attributes:
        name: the dataset's registry name.
        train, val, test: the splits (``val`` is ``None`` when no validation split was asked).
        num_classes: number of classes (``None`` for regression).
        input_shape: shape of one input sample, e.g. ``(1, 8, 8)``.
        classes: class names (index = label).
        mean, std: per-channel statistics of the training inputs (for ``Normalize``).
        task: ``"classification"`` or ``"regression"``.
    """

    name: str
    train: TensorDataset
    test: TensorDataset
    val: TensorDataset | None = None
    num_classes: int | None = None
    input_shape: tuple = ()
    classes: tuple = ()
    mean: tuple = ()
    std: tuple = ()
    task: str = "classification"

    def loader(
        self, split: str = "train", batch_size: int = 64, shuffle: bool | None = None, **kwargs
    ) -> DataLoader:
        """A ``DataLoader`` over one split (shuffled by default for ``"train"`` only)."""
        dataset = getattr(self, split, None) if split in ("train", "val", "test") else None
        if dataset is None:
            raise ValueError(
                f"DatasetSplits({self.name}): no split named {split!r} "
                f"(have train, test{', val' if self.val is not None else ''})"
            )
        shuffle = (split == "train") if shuffle is None else shuffle
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{s}={len(d)}"
            for s, d in (("train", self.train), ("val", self.val), ("test", self.test))
            if d is not None
        )
        return (
            f"DatasetSplits({self.name}: {sizes}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def split_off_val(train: TensorDataset, val_split: float, seed: int, stratify: bool):
    """(train, val) with a ``val_split`` fraction of ``train`` moved to val (``val`` None at 0)."""
    if not 0 <= val_split < 1:
        raise ValueError(f"val_split must be in [0, 1), got {val_split}")
    if val_split == 0:
        return train, None
    if stratify:
        rest, part = stratified_split(train.tensors[1].array, val_split, seed)
    else:
        rest, part = random_split_indices(len(train), val_split, seed)
    return take(train, rest), take(train, part)


def load_image_splits(
    cls, name: str, root, val_split: float, seed: int, download: bool, transform=None, **kwargs
) -> DatasetSplits:
    """``DatasetSplits`` from a PyTorch-style image dataset class ``cls(root, train=…)``.

    ``transform`` goes to the training split only (augmentation); val and test stay plain.
    """
    train = cls(root, train=True, download=download, **kwargs)
    test = cls(root, train=False, download=download, **kwargs)
    train, val = split_off_val(train, val_split, seed, stratify=True)
    train.transform = transform
    mean, std = channel_stats(train.data)
    return DatasetSplits(
        name,
        train,
        test,
        val,
        num_classes=len(train.classes),
        input_shape=tuple(train.data.shape[1:]),
        classes=tuple(train.classes),
        mean=mean,
        std=std,
    )
