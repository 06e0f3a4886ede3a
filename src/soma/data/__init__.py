"""Getting batches to the model: datasets, samplers, collation, loaders, transforms.

Also importable as ``soma.utils.data`` (PyTorch's name). A ``DataLoader`` over a
``TensorDataset`` builds each batch with one fancy-index per tensor: no per-sample Python.

Example:
    >>> import soma
    >>> from soma.data import DataLoader, load
    >>> splits = load("digits")
    >>> x, y = next(iter(DataLoader(splits.train, batch_size=32, shuffle=True)))
    >>> tuple(x.shape), x.dtype, y.dtype
    ((32, 1, 8, 8), dtype('float32'), dtype('int64'))
"""

from soma.data import datasets, mask_transforms, transforms
from soma.data.collate import default_collate, default_convert
from soma.data.dataloader import DataLoader
from soma.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from soma.data.datasets import DatasetSplits, ImageDataset, load, load_digits
from soma.data.distributed_sampler import DistributedSampler
from soma.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from soma.data.worker_pool import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DatasetSplits",
    "DistributedSampler",
    "ImageDataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WorkerInfo",
    "WeightedRandomSampler",
    "datasets",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "load",
    "load_digits",
    "random_split",
    "transforms",
    "mask_transforms",
]
