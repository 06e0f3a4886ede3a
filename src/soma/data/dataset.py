"""Datasets: what a ``DataLoader`` draws samples from.

A map-style dataset answers ``len(ds)`` and ``ds[i]``. A dataset that can also hand over many
samples at once implements ``get_batch(indices)``: given an int64 index array it returns the
samples already batched (each field an array with a leading batch axis), so a loader builds a
batch with one fancy-index per field instead of one Python call per sample. ``TensorDataset``
does; ``Subset`` and ``ConcatDataset`` pass the call through when the datasets they wrap do.
A dataset without batch access sets ``get_batch = None`` (the ``Dataset`` default); a subclass
that overrides ``__getitem__`` but not ``get_batch`` is loaded sample by sample.
"""

import bisect
import math
import warnings
from collections.abc import Sequence

from soma.autograd.factory import as_tensor
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random

_xp = get_xp()


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    ``ds1 + ds2`` concatenates two datasets (a ``ConcatDataset``).
    """

    get_batch = None  # no batch access unless a subclass provides ``get_batch(indices)``

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets that are a stream of samples: subclasses define ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets, one after another (what ``a + b`` gives for them)."""

    def __init__(self, datasets):
        super().__init__()
        self.datasets = list(datasets)

    def __iter__(self):
        for dataset in self.datasets:
            if not isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ChainDataset only supports IterableDataset, got {type(dataset).__name__}"
                )
            yield from dataset

    def __len__(self):
        return sum(len(dataset) for dataset in self.datasets)


def _defining_class(cls, name):
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def batch_fetcher(dataset):
    """``dataset.get_batch`` if the loader may use it, else ``None`` (per-sample path).

    A subclass that redefines ``__getitem__`` below the class providing ``get_batch`` (say, a
    ``TensorDataset`` subclass with custom per-sample logic) is served sample by sample, so its
    ``__getitem__`` is never bypassed.
    """
    fetch = getattr(dataset, "get_batch", None)
    if fetch is None or "get_batch" in vars(dataset):  # None, or set on the instance
        return fetch
    cls = type(dataset)
    getitem_cls, batch_cls = _defining_class(cls, "__getitem__"), _defining_class(cls, "get_batch")
    if getitem_cls is not batch_cls and issubclass(getitem_cls, batch_cls):
        return None
    return fetch


def _row(array, index):
    """Row ``index`` of ``array`` as a view (``a[i, ...]`` keeps a 0-d array, not a scalar)."""
    return array[index, ...]


def _apply(transform, value):
    return value if transform is None else transform(value)


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension: ``ds[i] = (x[i], y[i], ...)``.

    Args:
        *tensors: soma Tensors or NumPy arrays with the same length along dimension 0.
        transform: optional callable applied to the first tensor's rows, as a soma Tensor: one
            sample when indexing, a whole batch (N, …) in ``get_batch`` (the loader's fast
            path); ``soma.data.transforms`` accept both.
        target_transform: optional callable applied to the second tensor's rows.

    Example:
        >>> import soma
        >>> ds = TensorDataset(soma.arange(6).reshape(3, 2), soma.tensor([0, 1, 0]))
        >>> len(ds), ds[1]
        (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *tensors, transform=None, target_transform=None):
        self.tensors = tuple(as_tensor(t) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if not self.tensors or None in lengths or len(set(lengths)) != 1:
            shapes = [tuple(t.shape) for t in self.tensors]
            raise ValueError(
                f"TensorDataset: expected one or more tensors with the same size in dimension 0, "
                f"got shapes {shapes}"
            )
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return self._finish([Tensor._wrap(_row(t.array, index)) for t in self.tensors])

    def get_batch(self, indices) -> tuple:
        """The samples at ``indices`` (an int array), one fancy-index per tensor."""
        return self._finish([Tensor._wrap(t.array[indices]) for t in self.tensors])

    def _finish(self, fields):
        fields[0] = _apply(self.transform, fields[0])
        if len(fields) > 1:
            fields[1] = _apply(self.target_transform, fields[1])
        return tuple(fields)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Example:
        >>> ds = Subset(list("abcde"), [4, 0])
        >>> len(ds), ds[0], ds[-1]
        (2, 'e', 'a')
    """

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices
        self._index_array = _xp.asarray(indices, dtype=_xp.int64).reshape(-1)
        if batch_fetcher(dataset) is None:
            self.get_batch = None  # NOTE: the wrapped dataset has no batch access; neither do we

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list) -> list:
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def get_batch(self, indices):
        """The wrapped dataset's batch at the mapped indices."""
        return self.dataset.get_batch(self._index_array[indices])


class ConcatDataset(Dataset):
    """Several datasets one after the other: indices run through the first, then the second …

    Example:
        >>> ds = ConcatDataset([[1, 2], [3, 4, 5]])
        >>> len(ds), ds[2], ds[-1], ds.cumulative_sizes
        (5, 3, 5, [2, 5])
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)
        if any(batch_fetcher(d) is None for d in self.datasets):
            self.get_batch = None  # NOTE: one part lacks batch access, so the whole does

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        if index < 0:
            if -index > len(self):
                raise IndexError(
                    f"ConcatDataset: index {index} out of range for length {len(self)}"
                )
            index = len(self) + index
        part = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[part - 1] if part > 0 else 0
        return self.datasets[part][index - start]

    def get_batch(self, indices):
        """Batches from each part, reassembled in the order of ``indices``."""
        indices = _xp.asarray(indices, dtype=_xp.int64)
        indices = _xp.where(indices < 0, indices + len(self), indices)
        ends = _xp.asarray(self.cumulative_sizes)
        parts = _xp.searchsorted(ends, indices, side="right")
        if indices.size and (indices.min() < 0 or parts.max() >= len(self.datasets)):
            raise IndexError(f"ConcatDataset: index out of range for length {len(self)}")
        starts = _xp.concatenate([[0], ends[:-1]])
        order = _xp.argsort(parts, kind="stable")
        pieces = []
        for p in _xp.unique(parts).tolist():  # a loop over parts, not samples
            chosen = indices[parts == p] - starts[p]
            pieces.append(self.datasets[p].get_batch(chosen))
        return _merge_batches(pieces, _xp.argsort(order, kind="stable"))


def _merge_batches(pieces, inverse):
    """Concatenate batched structures along axis 0, then restore the requested order."""
    first = pieces[0]
    if isinstance(first, dict):
        return {k: _merge_batches([p[k] for p in pieces], inverse) for k in first}
    if isinstance(first, (tuple, list)):
        merged = [_merge_batches([p[i] for p in pieces], inverse) for i in range(len(first))]
        return type(first)(merged) if isinstance(first, tuple) else merged
    arrays = [p.array if isinstance(p, Tensor) else p for p in pieces]
    out = _xp.concatenate(arrays, axis=0)[inverse]
    return Tensor._wrap(out) if isinstance(first, Tensor) else out


def _fraction_lengths(n: int, fractions) -> list:
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(
                f"random_split: fraction at index {i} is not between 0 and 1, got {frac}"
            )
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):  # hand out the remainder round-robin
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: split at index {i} is empty", stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Args:
        dataset: any map-style dataset.
        lengths: integer lengths summing to ``len(dataset)``, or fractions summing to 1
            (each split gets ``floor(frac * n)``, the remainder goes round-robin from the first).
        generator: the ``soma.Generator`` drawing the permutation (default: the global one).

    Example:
        >>> import soma
        >>> a, b = random_split(range(10), [0.3, 0.7], generator=soma.Generator().manual_seed(0))
        >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
        (3, 7, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fraction_lengths(n, lengths)
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of "
            f"the input dataset ({n})"
        )
    perm = _random.stream(generator).permutation(n).tolist()
    subsets, offset = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, perm[offset : offset + length]))
        offset += length
    return subsets
