"""Samplers: the order in which a loader visits a dataset's indices.

Iterating a sampler yields Python ints, as in PyTorch. soma's samplers also answer
``epoch_indices()``: the whole pass as one int64 array, drawing exactly the randomness that
iterating would. ``BatchSampler.array_batches()`` slices that array into index batches, so the
loader's fast path never touches indices one at a time.

Randomness: ``generator=None`` draws from the global generator (``soma.manual_seed``); a
``soma.Generator`` keeps its state across epochs, so each epoch gets a new order and the sequence
of orders is reproducible from the generator's seed.
"""

from collections.abc import Iterator, Sequence

from soma.autograd.factory import multinomial
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random

_xp = get_xp()


class Sampler:
    """Base class: subclasses define ``__iter__`` (and usually ``__len__``)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, …, len(data_source) − 1.

    Example:
        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def epoch_indices(self):
        return _xp.arange(len(self.data_source), dtype=_xp.int64)


class RandomSampler(Sampler):
    """A random permutation of the indices (or ``num_samples`` draws with replacement).

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement.
        num_samples: how many indices per epoch (default ``len(data_source)``); without
            replacement, a value above the length chains several permutations.
        generator: a ``soma.Generator`` (default: the global generator).

    Example:
        >>> import soma
        >>> sorted(RandomSampler(range(5), generator=soma.Generator().manual_seed(0)))
        [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        data_source,
        replacement: bool = False,
        num_samples: int | None = None,
        generator=None,
    ):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean, got {replacement!r}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer, "
                f"got {self.num_samples!r}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def epoch_indices(self):
        """As PyTorch, for the same numbers: without a generator, a new one seeded by one
        64-bit draw of the global stream; then ``count // n + 1`` permutations (the last one
        cut to ``count mod n``), or ``count`` draws in [0, n) with replacement."""
        generator = self.generator
        if generator is None:
            seed = int(_random.stream(None).bits(1, _xp.int64)[0])
            generator = _random.Generator(seed=seed)
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            return _xp.asarray(generator.stream.integers(count, 0, n, _xp.int64))
        perms = [generator.stream.permutation(n) for _ in range(count // n + 1)]
        return _xp.asarray(_xp.concatenate(perms)[:count])

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order.

    Example:
        >>> import soma
        >>> sorted(SubsetRandomSampler([7, 3, 9], generator=soma.Generator().manual_seed(0)))
        [3, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = indices
        self.generator = generator
        self._index_array = _xp.asarray(indices, dtype=_xp.int64).reshape(-1)

    def epoch_indices(self):
        return self._index_array[
            _random.stream(self.generator).permutation(len(self._index_array))
        ]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    Example:
        >>> import soma
        >>> g = soma.Generator().manual_seed(0)
        >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, generator=g))
        [1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples should be a positive integer, "
                f"got {num_samples!r}"
            )
        w = _xp.asarray(weights, dtype=_xp.float64).reshape(-1)
        if w.size == 0 or (w < 0).any() or not w.sum() > 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be non-negative with a positive sum"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def epoch_indices(self):
        """``multinomial`` of the float64 weights, as PyTorch's sampler draws them."""
        weights = Tensor._wrap(self.weights)
        picks = multinomial(weights, self.num_samples, self.replacement, generator=self.generator)
        return picks.array

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``.

    Args:
        sampler: any sampler or iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the final batch when it is smaller than ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=True))
        [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def array_batches(self) -> Iterator:
        """The batches as int64 arrays (one draw of the sampler's randomness per epoch)."""
        epoch_indices = getattr(self.sampler, "epoch_indices", None)
        if epoch_indices is None:  # a sampler of unknown (maybe endless) length: chunk lazily
            for batch in self._list_batches():
                yield _xp.asarray(batch, dtype=_xp.int64)
            return
        order = epoch_indices()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield order[start : start + self.batch_size]

    def _list_batches(self) -> Iterator[list]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self) -> Iterator[list]:
        if getattr(self.sampler, "epoch_indices", None) is None:
            yield from self._list_batches()
            return
        for batch in self.array_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
