"""``soma.nn.parallel``: PyTorch's home of ``DistributedDataParallel``.

The implementation lives in ``soma.distributed`` (MPI underneath); it is imported on first use
so that ``import soma.nn`` never needs mpi4py.
"""


def __getattr__(name):
    # NOTE: lazy: soma.distributed sits above nn in the tree and imports it.
    if name == "DistributedDataParallel":
        from soma.distributed.data_parallel import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'soma.nn.parallel' has no attribute {name!r}")
