"""``DistributedSampler``: each process's share of the dataset for data-parallel training.

With N processes the (optionally shuffled) indices are padded to a multiple of N by repeating
the first ones (or cut down to one with ``drop_last``), then rank r takes every N-th index
starting at r, so the shares are disjoint, equal in size and together cover the dataset:

    indices = [0 … n−1] (shuffled with seed + epoch)   →   padded to N·⌈n/N⌉   →   [r::N]

Every rank must draw the same order, so shuffling uses a generator seeded with
``seed + epoch``; call ``set_epoch(e)`` at the start of each epoch for a new order.

NOTE: the shuffled order comes from soma's generator, so it is not the permutation PyTorch's
``torch.randperm`` would give for the same seed; padding, ``drop_last`` and the split between
ranks follow PyTorch exactly.
"""

import math
from collections.abc import Iterator

from soma.backend import get_xp
from soma.backend.random import Generator
from soma.data.sampler import Sampler

_xp = get_xp()


def _default(value, what):
    if value is not None:
        return value
    # lazy: soma.distributed stays out of `import soma` (soma._LAZY_SUBMODULES) until used
    from soma.distributed.process_group import communicator

    comm = communicator()
    return comm.Get_size() if what == "num_replicas" else comm.Get_rank()


class DistributedSampler(Sampler):
    """Restrict sampling to this process's share of the dataset.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: number of processes (default: the process group's world size).
        rank: this process's rank (default: from the process group).
        shuffle: shuffle the indices, with ``seed + epoch`` (default True).
        seed: shared by every rank (default 0).
        drop_last: drop the tail instead of padding, so that no sample is seen twice.

    Example:
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=0, shuffle=False))
        [0, 2, 4]
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(
        self,
        dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        num_replicas = _default(num_replicas, "num_replicas")
        rank = _default(rank, "rank")
        if not isinstance(num_replicas, int) or num_replicas <= 0:
            raise ValueError(
                f"DistributedSampler: num_replicas must be positive, got {num_replicas!r}"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use a new order this epoch (every rank must call it with the same number)."""
        self.epoch = epoch

    def epoch_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            stream = Generator().manual_seed(self.seed + self.epoch).stream
            indices = _xp.asarray(stream.permutation(n))
        else:
            indices = _xp.arange(n, dtype=_xp.int64)
        if self.drop_last:
            indices = indices[: self.total_size]
        elif self.total_size > n:
            repeats = math.ceil((self.total_size - n) / n)
            indices = _xp.concatenate([indices] + [indices] * repeats)[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
