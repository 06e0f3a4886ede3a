"""Data-parallel training over MPI, with PyTorch's ``torch.distributed`` names.

Launch N copies of a program with ``mpiexec -n N python train.py`` (or
``soma launch -n N -- soma train …``); in each, ``init_process_group("mpi")`` joins the group,
``DistributedDataParallel`` keeps the model replicas equal by averaging gradients, and
``soma.data.DistributedSampler`` gives each rank its share of the data. Needs the ``dist``
extra (``mpi4py`` and the MPICH wheel); nothing here is imported by ``import soma``.
See ``docs/DISTRIBUTED.md``.
"""

from soma.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    broadcast,
    gather,
    reduce_scatter,
    scatter,
)
from soma.distributed.data_parallel import DistributedDataParallel
from soma.distributed.process_group import (
    barrier,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_main_process,
    is_mpi_available,
    is_nccl_available,
)
from soma.distributed.sync_batchnorm import SyncBatchNorm

__all__ = [
    "DistributedDataParallel",
    "ReduceOp",
    "SyncBatchNorm",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_gloo_available",
    "is_initialized",
    "is_main_process",
    "is_mpi_available",
    "is_nccl_available",
    "reduce_scatter",
    "scatter",
]
