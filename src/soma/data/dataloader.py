"""``DataLoader``: iterate a dataset in (shuffled) batches of soma Tensors.

Two paths give the same batches:

* **fast path**: when the dataset has batch access (``get_batch``, e.g. ``TensorDataset``) and
  the collate function is the default, a batch is one fancy-index per field, ``x[indices]``,
  with no Python work per sample;
* **per-sample path**: otherwise the loader fetches ``dataset[i]`` for each index (or
  ``dataset.__getitems__(indices)``) and merges them with ``collate_fn``.

Order, last-batch handling, ``len`` and seeding follow PyTorch: ``shuffle=True`` draws a new
permutation every epoch from ``generator`` (or the global generator), ``drop_last`` drops a
short final batch, ``len(loader)`` counts batches.
"""

from collections.abc import Callable, Iterator

from soma.backend import get_xp
from soma.backend import random as _random
from soma.data.collate import default_collate, default_convert
from soma.data.dataset import IterableDataset, batch_fetcher
from soma.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from soma.data.worker_pool import WorkerPool

_xp = get_xp()


def _check_options(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers):
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(
            f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}"
        )
    if isinstance(dataset, IterableDataset):
        if shuffle not in (None, False):
            raise ValueError(
                f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                f"but got shuffle={shuffle}"
            )
        if sampler is not None or batch_sampler is not None:
            raise ValueError(
                "DataLoader with IterableDataset: sampler and batch_sampler must be None"
            )
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    exclusive = batch_size != 1 or shuffle or sampler is not None or drop_last
    if batch_sampler is not None and exclusive:
        raise ValueError(
            "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
            "sampler, and drop_last"
        )
    if batch_size is None and drop_last:
        raise ValueError(
            "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
            "with drop_last"
        )


class DataLoader:
    """Batches of a dataset, in order or shuffled, as soma Tensors.

    Args:
        dataset: a map-style dataset (``len`` and ``[i]``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` yields single samples (no batching).
        shuffle: visit the samples in a new random order every epoch.
        sampler: the order of indices (exclusive with ``shuffle``).
        batch_sampler: yields whole index batches (exclusive with batch_size, shuffle, sampler,
            drop_last).
        num_workers: load batches in this many worker processes (see ``worker_pool.py``);
            0 loads in the calling process. Datasets with batch access (``TensorDataset``)
            keep their one-slice-per-batch path in the calling process, which is faster than
            any worker; per-sample datasets (files, per-sample transforms) use the workers.
        prefetch_factor: batches each worker loads ahead (default 2 with workers).
        persistent_workers: keep the worker processes alive from one epoch to the next.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        collate_fn: merges a list of samples into a batch (default ``default_collate``).
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        generator: ``soma.Generator`` for shuffling (default: the global generator).
        transform: soma addition: applied to each batch's inputs (the first field, a Tensor
            (N, …)), e.g. a ``soma.data.transforms`` augmentation drawing independent
            randomness per image.

    Example:
        >>> import soma
        >>> from soma.data import TensorDataset
        >>> ds = TensorDataset(soma.arange(10).float().reshape(5, 2), soma.arange(5))
        >>> [tuple(y.tolist()) for x, y in DataLoader(ds, batch_size=2)]
        [(0, 1), (2, 3), (4,)]
        >>> len(DataLoader(ds, batch_size=2, drop_last=True))
        2
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        transform: Callable | None = None,
    ):
        _check_options(
            dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers
        )
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.transform = transform
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._pool = None
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_sampler is not None:
            batch_size, drop_last = None, False  # as in PyTorch: the batch sampler decides
        elif batch_size is not None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (
            isinstance(dataset, IterableDataset) and batch_size is not None
        )
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self) -> Iterator:
        # PyTorch's iterator draws a base seed for worker processes at once, with or without
        # workers: drawn here too, so that a seeded script's later draws match PyTorch's
        self._base_seed = int(_random.stream(self.generator).bits(1, _xp.int64)[0])
        if isinstance(self.dataset, IterableDataset):
            return self._iter_stream()
        if self.batch_sampler is None:
            return self._iter_samples()
        return self._iter_batches()

    # ------------------------------------------------------------------ the three ways to iterate
    def _iter_batches(self):
        return self.iter_plan(self._index_batches())

    def epoch_plan(self) -> list | None:
        """The index batches of one epoch, drawn now (the sampler's randomness, as iterating
        would draw it), or None when the order cannot be known ahead (iterable datasets,
        samplers without ``epoch_indices``). ``iter_plan`` turns them into batches; a trainer
        keeps the plan so that an interrupted epoch can continue at the same batch."""
        if isinstance(self.dataset, IterableDataset) or self.batch_sampler is None:
            return None
        sampler = getattr(self.batch_sampler, "sampler", None)
        if getattr(self.batch_sampler, "array_batches", None) is None or not hasattr(
            sampler, "epoch_indices"
        ):
            return None
        return list(self.batch_sampler.array_batches())

    def iter_plan(self, plan):
        """Batches for the given index batches (int64 arrays), fetched, collated, transformed."""
        fetch = batch_fetcher(self.dataset)
        fast = fetch is not None and self.collate_fn is default_collate
        if self.num_workers and not fast:
            yield from self._iter_workers(iter(plan), _Fetch(self, batched=True))
            return
        for indices in plan:
            if fast:
                batch = default_convert(fetch(indices))
            else:
                batch = self.collate_fn(self._fetch_samples(indices.tolist()))
            yield self._transform(batch)

    def _index_batches(self):
        array_batches = getattr(self.batch_sampler, "array_batches", None)
        if array_batches is not None:
            yield from array_batches()
            return
        for batch in self.batch_sampler:
            yield _xp.asarray(batch, dtype=_xp.int64)

    def _fetch_samples(self, indices: list) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(indices)
        return [self.dataset[i] for i in indices]

    def _iter_samples(self):
        if self.num_workers:
            yield from self._iter_workers(iter(self.sampler), _Fetch(self, batched=False))
            return
        for index in self.sampler:
            yield self._transform(self.collate_fn(self.dataset[index]))

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self._transform(self.collate_fn(sample))
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._transform(self.collate_fn(batch))
                batch = []
        if batch and not self.drop_last:
            yield self._transform(self.collate_fn(batch))

    def _iter_workers(self, tasks, fetch):
        """Batches loaded by the worker processes (started here, or kept from last epoch)."""
        pool = self._pool
        if pool is None or not pool.alive:
            base_seed = getattr(self, "_base_seed", None)
            if base_seed is None:  # batches of a trainer's epoch plan, not of ``iter(loader)``
                base_seed = int(_random.stream(self.generator).bits(1, _xp.int64)[0])
            pool = WorkerPool(
                self.dataset,
                fetch,
                self.num_workers,
                self.prefetch_factor,
                self.worker_init_fn,
                base_seed,
                self.multiprocessing_context,
            )
            if self.persistent_workers:
                self._pool = pool
        try:
            for batch in pool.run(tasks, self.timeout):
                yield self._transform(batch)
        except BaseException:
            pool.shutdown()  # an error or Ctrl-C: never leave workers behind
            self._pool = None
            raise
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    def _transform(self, batch):
        """Apply ``transform`` to the inputs: the first field, or the whole batch if it is one."""
        if self.transform is None:
            return batch
        if isinstance(batch, (tuple, list)):
            fields = list(batch)
            fields[0] = self.transform(fields[0])
            if hasattr(batch, "_fields"):  # a namedtuple
                return type(batch)(*fields)
            return type(batch)(fields) if isinstance(batch, tuple) else fields
        if isinstance(batch, dict):
            raise TypeError(
                "DataLoader: transform= needs batches that are arrays or "
                "(inputs, ...) sequences, got a dict; transform inside the "
                "dataset instead"
            )
        return self.transform(batch)


class _Fetch:
    """What a worker does with one task: fetch the samples and collate them."""

    def __init__(self, loader, batched):
        self.dataset = loader.dataset
        self.collate_fn = loader.collate_fn
        self.batched = batched

    def __call__(self, task):
        if not self.batched:
            return self.collate_fn(self.dataset[task])
        indices = task.tolist() if hasattr(task, "tolist") else list(task)
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if callable(getitems) else [self.dataset[i] for i in indices]
        return self.collate_fn(samples)
