"""``fit(..., distributed=True)``: the training loop as one rank of a data-parallel MPI job.

Launched with ``mpiexec -n N`` (or ``soma launch -n N -- …``), every rank runs the same
program. The trainer then

* wraps the model in ``DistributedDataParallel`` for its forward passes (gradients are averaged
  across ranks; ``trainer.model`` stays the plain model, so checkpoints hold its own names);
* gives each rank its share of the training data through a ``DistributedSampler`` (the loader's
  ``batch_size`` is per rank, as in PyTorch: the global batch is N × batch_size), with
  ``set_epoch`` at every epoch;
* sums the epoch's loss and metric counters over the ranks, so every rank logs the metrics of
  the whole epoch and callbacks such as early stopping decide alike on all of them;
* agrees on interruptions: a SIGINT/SIGTERM seen by any rank stops every rank at the same batch;
* writes files (checkpoints, logs, the progress display) on rank 0 only.

The validation data is evaluated whole on every rank (the same numbers everywhere, no
reduction needed).
"""

import inspect

from soma.backend import get_xp
from soma.data import DataLoader, DistributedSampler
from soma.distributed import DistributedDataParallel, get_rank, get_world_size, init_process_group
from soma.distributed.process_group import _mpi, communicator, is_initialized

_xp = get_xp()

# Callbacks that only write files or print: kept on rank 0 alone.
WRITERS = ("ModelCheckpoint", "CSVLogger", "JSONLogger", "ProgressBar", "PlainProgress")


class DataParallelRun:
    """This process's part in a data-parallel run (see the module docstring)."""

    def __init__(self):
        if not is_initialized():
            init_process_group("mpi")
        self.rank, self.world = get_rank(), get_world_size()
        self.comm = communicator()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model):
        return DistributedDataParallel(model)

    def callbacks(self, callbacks):
        """The callbacks this rank runs: all on rank 0, the non-writing ones elsewhere."""
        if self.is_main:
            return callbacks
        return [cb for cb in callbacks if type(cb).__name__ not in WRITERS]

    def shard(self, loader):
        """A loader over this rank's share of ``loader``'s dataset, with its batch size."""
        shuffle = type(getattr(loader, "sampler", None)).__name__ == "RandomSampler"
        sampler = DistributedSampler(
            loader.dataset, self.world, self.rank, shuffle=shuffle, drop_last=loader.drop_last
        )
        return DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            sampler=sampler,
            collate_fn=loader.collate_fn,
            drop_last=loader.drop_last,
            transform=loader.transform,
            num_workers=loader.num_workers,
        )

    def start_epoch(self, loader, epoch: int) -> None:
        sampler = getattr(loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)

    def reduce_counters(self, loss_mean, metrics) -> None:
        """Sum the running loss and every metric's counters over the ranks, in place."""
        for acc in [loss_mean, *metrics]:
            if acc is None:
                continue
            config = set(inspect.signature(type(acc).__init__).parameters)
            for key, value in sorted(vars(acc).items()):
                if key in config or isinstance(value, bool):
                    continue
                if isinstance(value, _xp.ndarray):
                    setattr(acc, key, self._sum_array(value))
                elif isinstance(value, (int, float)):
                    total = self._sum_array(_xp.asarray([value], dtype=_xp.float64))[0]
                    setattr(acc, key, type(value)(total))

    def _sum_array(self, value):
        MPI = _mpi()
        # arrays that grow with the data (a confusion matrix) may differ in size: pad to the
        # largest first
        shape = _xp.asarray(value.shape, dtype=_xp.int64)
        largest = _xp.empty_like(shape)
        self.comm.Allreduce(shape, largest, op=MPI.MAX)
        padded = _xp.zeros(tuple(largest), dtype=value.dtype)
        padded[tuple(slice(0, n) for n in value.shape)] = value
        total = _xp.empty_like(padded)
        self.comm.Allreduce(_xp.ascontiguousarray(padded), total, op=MPI.SUM)
        return total

    def agree_on_signal(self, received):
        """The signal any rank received (the largest number), or None: all stop together."""
        mine = _xp.asarray([received or 0], dtype=_xp.int64)
        agreed = _xp.empty_like(mine)
        self.comm.Allreduce(mine, agreed, op=_mpi().MAX)
        return int(agreed[0]) or None
