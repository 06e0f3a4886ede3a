"""The process group: which process this is, how many there are, and the MPI communicator.

soma's data parallelism runs on MPI (``mpi4py``, the ``dist`` extra), the engine CPU clusters
already run: start N copies of a program with ``mpiexec -n N python train.py`` and call
``init_process_group("mpi")`` in each. Rank and world size come from MPI, not from environment
variables. Only the default group (every process) exists.

A process that raises an uncaught exception after ``init_process_group`` aborts the whole MPI
job (``MPI_Abort``), so the other ranks exit at once instead of waiting forever in a
collective for a partner that is gone.
"""

import sys
import time

_STATE = {"comm": None, "previous_excepthook": None}

_REFUSED_BACKENDS = {
    "gloo": "PyTorch's gloo backend",
    "nccl": "NVIDIA's NCCL (GPUs)",
    "ucc": "UCC",
    "xccl": "Intel's XCCL",
}


def _mpi():
    """The ``mpi4py.MPI`` module, or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI  # optional dependency: the `dist` extra
    except ImportError as error:
        raise ImportError(
            "soma.distributed needs mpi4py and an MPI library: pip install 'soma[dist]' "
            "(mpi4py with the MPICH wheel), then launch with `mpiexec -n N python script.py` "
            "or `soma launch -n N -- soma train ...`"
        ) from error
    return MPI


def is_available() -> bool:
    """True when mpi4py can be imported (the ``dist`` extra is installed)."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    """PyTorch's name: True when the MPI backend can be used."""
    return is_available()


def is_gloo_available() -> bool:
    return False


def is_nccl_available() -> bool:
    return False


def init_process_group(
    backend: str | None = "mpi",
    init_method=None,
    timeout=None,
    world_size: int = -1,
    rank: int = -1,
    **kwargs,
) -> None:
    """Join the job's process group (every process started by ``mpiexec``).

    Args:
        backend: ``"mpi"`` (or None). ``gloo``/``nccl`` are PyTorch's engines and are refused.
        world_size, rank: accepted for PyTorch compatibility; when given they must agree with
            what MPI reports.

    Example (run under ``mpiexec -n 2``)::

        import soma.distributed as dist
        dist.init_process_group("mpi")
        print(dist.get_rank(), dist.get_world_size())
    """
    name = "mpi" if backend is None else str(backend).lower()
    if name in _REFUSED_BACKENDS:
        raise ValueError(
            f"init_process_group: soma runs data parallelism on MPI; backend {backend!r} "
            f"({_REFUSED_BACKENDS[name]}) is not available. Use backend='mpi' and launch with "
            f"`mpiexec -n N ...`"
        )
    if name != "mpi":
        raise ValueError(f"init_process_group: unknown backend {backend!r}; soma offers 'mpi'")
    if _STATE["comm"] is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    for given, actual, what in (
        (world_size, comm.Get_size(), "world_size"),
        (rank, comm.Get_rank(), "rank"),
    ):
        if given not in (-1, None) and given != actual:
            raise ValueError(
                f"init_process_group: {what}={given} disagrees with MPI's {actual} "
                f"(the number of processes is set by `mpiexec -n N`)"
            )
    _STATE["comm"] = comm
    _install_abort_on_error(comm)


def _install_abort_on_error(comm):
    """Make an uncaught exception on any rank end every rank (MPI_Abort), not hang them."""
    previous = sys.excepthook

    def abort_all(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.write(
            f"soma.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed with "
            f"{kind.__name__}: {value}; aborting every rank\n"
        )
        sys.stderr.flush()
        # mpiexec forwards each rank's output through its proxy; an abort at once can drop what
        # is still in flight (seen on a loaded machine: the whole message lost), so wait a beat.
        time.sleep(0.5)
        comm.Abort(1)

    _STATE["previous_excepthook"] = previous
    sys.excepthook = abort_all


def is_initialized() -> bool:
    """True after ``init_process_group`` and before ``destroy_process_group``."""
    return _STATE["comm"] is not None


def communicator():
    """The MPI communicator of the default group (raises if the group is not initialized)."""
    comm = _STATE["comm"]
    if comm is None:
        raise RuntimeError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return comm


def get_rank(group=None) -> int:
    """This process's index in the group, 0 … world_size − 1."""
    return communicator().Get_rank()


def get_world_size(group=None) -> int:
    """How many processes the group has."""
    return communicator().Get_size()


def get_backend(group=None) -> str:
    communicator()
    return "mpi"


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every process has reached this point."""
    communicator().Barrier()


def destroy_process_group(group=None) -> None:
    """Leave the group (MPI itself stays initialized until the process exits)."""
    if _STATE["previous_excepthook"] is not None:
        sys.excepthook = _STATE["previous_excepthook"]
    _STATE["comm"] = None
    _STATE["previous_excepthook"] = None


def is_main_process() -> bool:
    """True on rank 0, or when no process group is in use (one process writes logs)."""
    return not is_initialized() or get_rank() == 0
