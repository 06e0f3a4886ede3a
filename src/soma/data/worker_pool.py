"""Loading batches in worker processes: ``DataLoader(num_workers=N)``.

Each worker is a process (forked on Linux, as PyTorch does) holding the dataset. The main
process sends it index batches; the worker fetches the samples, applies the dataset's
transforms, collates them, and places every array of the batch in shared memory
(``multiprocessing.shared_memory``), sending back only the names, shapes and dtypes. The main
process copies each array out of shared memory once and frees the block, so no batch is
pickled and nothing is left behind in ``/dev/shm``.

Up to ``prefetch_factor`` batches per worker are in flight; results are handed out in the
sampler's order. Worker w is seeded with ``base_seed + w`` (``base_seed`` drawn from the
loader's generator for each epoch), for soma's, Python's and NumPy's global generators;
``get_worker_info()`` tells code running in a worker which worker it is. An exception in a
worker is raised in the main process with the worker's traceback; Ctrl-C, errors and the end of
the iteration stop and join every worker (``persistent_workers=True`` keeps them for the next
epoch), and a worker whose parent has died exits on its own.
"""

import multiprocessing
import os
import queue
import random
import signal
import traceback
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random

_xp = get_xp()
_POLL_SECONDS = 1.0  # how often an idle worker checks that its parent is still alive


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` inside a worker)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_CURRENT = {"info": None}


def get_worker_info():
    """The ``WorkerInfo`` of the current worker process, or None in the main process."""
    return _CURRENT["info"]


# ------------------------------------------------------------------ batches through shared memory
class _Shared:
    """An array parked in a shared-memory block: (block name, shape, dtype, was it a Tensor)."""

    __slots__ = ("name", "shape", "dtype", "tensor")

    def __init__(self, name, shape, dtype, tensor):
        self.name, self.shape, self.dtype, self.tensor = name, shape, dtype, tensor


def _to_shared(data):
    """Copy every array (or Tensor) inside ``data`` into shared memory; keep the structure."""
    if isinstance(data, Tensor) or isinstance(data, _xp.ndarray):
        array = data.array if isinstance(data, Tensor) else data
        block = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
        _xp.ndarray(array.shape, array.dtype, buffer=block.buf)[...] = array
        parked = _Shared(block.name, array.shape, array.dtype.str, isinstance(data, Tensor))
        block.close()
        return parked
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_to_shared(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_to_shared(d) for d in data)
    if isinstance(data, dict):
        return {k: _to_shared(v) for k, v in data.items()}
    return data


def _from_shared(data, free=True):
    """The inverse of ``_to_shared``: arrays copied out, blocks freed (unless ``free=False``)."""
    if isinstance(data, _Shared):
        block = shared_memory.SharedMemory(name=data.name)
        try:
            array = _xp.ndarray(data.shape, _xp.dtype(data.dtype), buffer=block.buf).copy()
        finally:
            block.close()
            if free:
                block.unlink()
        return Tensor._wrap(array) if data.tensor else array
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_from_shared(d, free) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_from_shared(d, free) for d in data)
    if isinstance(data, dict):
        return {k: _from_shared(v, free) for k, v in data.items()}
    return data


# ------------------------------------------------------------------ the worker process
def _seed_worker(seed):
    _random.manual_seed(seed)
    random.seed(seed)
    _xp.random.seed(seed % 2**32)


def _worker_loop(
    worker_id, num_workers, dataset, fetch, index_queue, result_queue, seed, init_fn, parent
):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _CURRENT["info"] = WorkerInfo(worker_id, num_workers, seed, dataset)
    _seed_worker(seed)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:  # noqa: BLE001  (reported to the main process, which raises it)
        result_queue.put((None, worker_id, None, traceback.format_exc()))
        return
    while True:
        try:
            task = index_queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:  # the main process died: do not outlive it
                return
            continue
        if task is None:
            return
        position, indices = task
        try:
            result_queue.put((position, worker_id, _to_shared(fetch(indices)), None))
        except Exception:  # noqa: BLE001  (reported to the main process, which raises it)
            result_queue.put((position, worker_id, None, traceback.format_exc()))


class WorkerError(RuntimeError):
    """An exception raised inside a DataLoader worker (its traceback is in the message)."""


class WorkerPool:
    """N worker processes that turn index batches into collated batches, in order."""

    def __init__(
        self, dataset, fetch, num_workers, prefetch_factor, init_fn, base_seed, context=None
    ):
        if context is None:
            ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        elif isinstance(context, str):
            ctx = multiprocessing.get_context(context)
        else:
            ctx = context
        # NOTE: start Python's shared-memory tracker here, before forking: otherwise every
        # worker starts its own, which reports the blocks the main process frees as leaked
        resource_tracker.ensure_running()
        self.num_workers = num_workers
        self.in_flight = num_workers * prefetch_factor
        self.result_queue = ctx.Queue()
        self.index_queues = [ctx.Queue() for _ in range(num_workers)]
        self.workers = []
        for w in range(num_workers):
            process = ctx.Process(
                target=_worker_loop,
                args=(
                    w,
                    num_workers,
                    dataset,
                    fetch,
                    self.index_queues[w],
                    self.result_queue,
                    base_seed + w,
                    init_fn,
                    os.getpid(),
                ),
                daemon=True,
            )
            process.start()
            self.workers.append(process)
        self.alive = True

    def run(self, index_batches, timeout=0):
        """Yield the collated batch of every index batch, in order."""
        batches = iter(index_batches)
        sent = received = 0
        waiting = {}
        exhausted = False
        try:
            while True:
                while not exhausted and sent - received < self.in_flight:
                    try:
                        indices = next(batches)
                    except StopIteration:
                        exhausted = True
                        break
                    self.index_queues[sent % self.num_workers].put((sent, indices))
                    sent += 1
                if received == sent and exhausted:
                    return
                while received not in waiting:
                    position, worker_id, data, error = self._next_result(timeout)
                    if error is not None:
                        raise WorkerError(
                            f"DataLoader worker {worker_id} raised an exception:\n{error}"
                        )
                    waiting[position] = data
                yield _from_shared(waiting.pop(received))
                received += 1
        finally:
            for data in waiting.values():  # results nobody will read: free their memory
                _from_shared(data)

    def _next_result(self, timeout):
        limit = timeout if timeout and timeout > 0 else None
        while True:
            try:
                return self.result_queue.get(timeout=limit or _POLL_SECONDS)
            except queue.Empty:
                if limit is not None:
                    raise RuntimeError(
                        f"DataLoader timed out after {timeout} seconds waiting for a worker"
                    ) from None
                dead = [w for w, p in enumerate(self.workers) if not p.is_alive()]
                if dead:
                    raise WorkerError(
                        f"DataLoader worker(s) {dead} exited unexpectedly (exit codes "
                        f"{[self.workers[w].exitcode for w in dead]})"
                    ) from None

    def shutdown(self):
        """Stop and join every worker; drain what they left in the queue."""
        if not self.alive:
            return
        self.alive = False
        for q in self.index_queues:
            q.put(None)
        for process in self.workers:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=1)
        while True:
            try:
                _, _, data, _ = self.result_queue.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            if data is not None:
                _from_shared(data)
        for q in self.index_queues + [self.result_queue]:
            q.close()
            q.join_thread()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001  (interpreter shutdown: nothing left to report to)
            pass
