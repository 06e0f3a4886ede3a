"""Collective operations on soma Tensors, over MPI.

Each call works in place on the tensors it is given, as PyTorch's do. With ``async_op=True``
it starts the MPI operation (``MPI_Iallreduce`` …) and returns a ``Work`` handle at once;
``work.wait()`` completes it. Otherwise it returns None after the operation has finished.

Reductions: ``ReduceOp.SUM``, ``AVG`` (a sum divided by the world size: MPI has no average),
``PRODUCT``, ``MIN``, ``MAX`` and, for integer and bool tensors, ``BAND``, ``BOR``, ``BXOR``.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.distributed.process_group import _mpi, communicator

_xp = get_xp()


class ReduceOp:
    """The reductions ``all_reduce`` and ``reduce_scatter`` accept (PyTorch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


def _mpi_op(op):
    MPI = _mpi()
    table = {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.BAND: MPI.BAND,
        ReduceOp.BOR: MPI.BOR,
        ReduceOp.BXOR: MPI.BXOR,
    }
    key = str(op).lower().rsplit(".", 1)[-1] if not isinstance(op, str) else op.lower()
    if key not in table:
        raise ValueError(
            f"distributed: unknown reduce op {op!r}; use one of soma.distributed.ReduceOp"
        )
    return key, table[key]


class Work:
    """A started collective: ``wait()`` finishes it, ``is_completed()`` asks without waiting."""

    def __init__(self, requests, finish=None):
        self._requests = list(requests)
        self._finish = finish
        self._done = False

    def wait(self, timeout=None) -> bool:
        if not self._done:
            _mpi().Request.Waitall(self._requests)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and _mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None


def _buffer(tensor, what):
    """A C-contiguous array the MPI call can write into, and how to copy it back afterwards."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a soma Tensor, got {type(tensor).__name__}")
    array = tensor.array
    if array.flags.c_contiguous and array.flags.writeable:
        return array, None
    staged = _xp.ascontiguousarray(array)

    def write_back():
        tensor.array[...] = staged

    return staged, write_back


def _run(requests, finish, async_op):
    work = Work(requests, finish)
    if async_op:
        return work
    work.wait()
    return None


def _then(*steps):
    steps = [s for s in steps if s is not None]
    if not steps:
        return None

    def run_all():
        for step in steps:
            step()

    return run_all


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across every process; each ends with the result, in place.

    Example (2 ranks, each holding ``[rank + 1.]``): after ``all_reduce(t)`` both hold ``[3.]``;
    with ``op=ReduceOp.AVG``, ``[1.5]``.
    """
    comm = communicator()
    key, mpi_op = _mpi_op(op)
    if key == ReduceOp.AVG and not _xp.issubdtype(tensor.array.dtype, _xp.floating):
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {tensor.dtype}")
    buf, write_back = _buffer(tensor, "all_reduce")
    request = comm.Iallreduce(_mpi().IN_PLACE, buf, op=mpi_op)
    average = None
    if key == ReduceOp.AVG:
        size = comm.Get_size()

        def average():
            buf[...] /= size

    return _run([request], _then(average, write_back), async_op)


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into the same tensor on every other rank."""
    comm = communicator()
    _check_rank(src, comm, "broadcast", "src")
    buf, write_back = _buffer(tensor, "broadcast")
    return _run([comm.Ibcast(buf, root=src)], write_back, async_op)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Every rank's ``tensor``, in rank order, copied into ``tensor_list`` on every rank."""
    comm = communicator()
    _check_list(tensor_list, tensor, comm, "all_gather", "tensor_list")
    send = _xp.ascontiguousarray(tensor.array)
    recv = _xp.empty((comm.Get_size(),) + send.shape, dtype=send.dtype)
    request = comm.Iallgather(send, recv)
    return _run([request], _scatter_rows(recv, tensor_list), async_op)


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False
):
    """Every rank's ``input_tensor`` concatenated along dimension 0 into ``output_tensor``."""
    comm = communicator()
    expected = (comm.Get_size() * input_tensor.shape[0],) + tuple(input_tensor.shape[1:])
    if tuple(output_tensor.shape) != expected:
        raise ValueError(
            f"all_gather_into_tensor: output shape {tuple(output_tensor.shape)} should be "
            f"{expected} (world size × input rows)"
        )
    buf, write_back = _buffer(output_tensor, "all_gather_into_tensor")
    request = comm.Iallgather(_xp.ascontiguousarray(input_tensor.array), buf)
    return _run([request], write_back, async_op)


def reduce_scatter(
    output: Tensor, input_list: list, op=ReduceOp.SUM, group=None, async_op: bool = False
):
    """Reduce the i-th tensor of every rank's ``input_list`` into rank i's ``output``."""
    comm = communicator()
    _check_list(input_list, output, comm, "reduce_scatter", "input_list")
    key, mpi_op = _mpi_op(op)
    send = _xp.ascontiguousarray(_xp.stack([t.array for t in input_list]))
    buf, write_back = _buffer(output, "reduce_scatter")
    request = comm.Ireduce_scatter_block(send, buf, op=mpi_op)
    average = None
    if key == ReduceOp.AVG:
        size = comm.Get_size()

        def average():
            buf[...] /= size

    return _run([request], _then(average, write_back), async_op)


def gather(
    tensor: Tensor,
    gather_list: list | None = None,
    dst: int = 0,
    group=None,
    async_op: bool = False,
):
    """Every rank's ``tensor``, in rank order, copied into ``gather_list`` on rank ``dst``."""
    comm = communicator()
    _check_rank(dst, comm, "gather", "dst")
    send = _xp.ascontiguousarray(tensor.array)
    if comm.Get_rank() == dst:
        _check_list(gather_list, tensor, comm, "gather", "gather_list")
        recv = _xp.empty((comm.Get_size(),) + send.shape, dtype=send.dtype)
        return _run(
            [comm.Igather(send, recv, root=dst)], _scatter_rows(recv, gather_list), async_op
        )
    if gather_list:
        raise ValueError("gather: gather_list must be given only on the destination rank")
    return _run([comm.Igather(send, None, root=dst)], None, async_op)


def scatter(
    tensor: Tensor,
    scatter_list: list | None = None,
    src: int = 0,
    group=None,
    async_op: bool = False,
):
    """Rank ``src``'s ``scatter_list[i]`` copied into ``tensor`` on rank i."""
    comm = communicator()
    _check_rank(src, comm, "scatter", "src")
    buf, write_back = _buffer(tensor, "scatter")
    if comm.Get_rank() == src:
        _check_list(scatter_list, tensor, comm, "scatter", "scatter_list")
        send = _xp.ascontiguousarray(_xp.stack([t.array for t in scatter_list]))
        return _run([comm.Iscatter(send, buf, root=src)], write_back, async_op)
    if scatter_list:
        raise ValueError("scatter: scatter_list must be given only on the source rank")
    return _run([comm.Iscatter(None, buf, root=src)], write_back, async_op)


def _scatter_rows(rows, tensor_list):
    def copy_out():
        for target, row in zip(tensor_list, rows):
            target.array[...] = row

    return copy_out


def _check_rank(rank, comm, op, name):
    if not 0 <= rank < comm.Get_size():
        raise ValueError(
            f"{op}: {name}={rank} is not a rank of this group (0 … {comm.Get_size() - 1})"
        )


def _check_list(tensors, like, comm, op, name):
    size = comm.Get_size()
    if tensors is None or len(tensors) != size:
        got = "None" if tensors is None else f"{len(tensors)} tensors"
        raise ValueError(f"{op}: {name} must hold one tensor per rank ({size}), got {got}")
    for t in tensors:
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(
                f"{op}: every tensor in {name} must have shape {tuple(like.shape)} and dtype "
                f"{like.dtype}; got {tuple(t.shape)} {t.dtype}"
            )
