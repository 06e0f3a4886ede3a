"""``DistributedDataParallel``: the same model on every process, gradients averaged over MPI.

Each of the N processes runs the model on its own slice of the batch. At wrap time rank 0's
parameters and buffers are broadcast, so every replica starts equal; after each backward the
gradients are averaged, so every optimizer takes the same step and the replicas stay equal.
The average of the N local mean losses' gradients is the gradient of the mean loss over the
merged batch of N·B samples: data parallelism changes where the work runs, not the result.

Overlap: the parameters are grouped into buckets of at most ``bucket_cap_mb`` (in reverse
registration order, roughly the order backward produces them). A post-accumulate hook on every
parameter counts the gradient contributions still to come (counted by walking the graph once
per forward); when a bucket's gradients are all final its all-reduce starts
(``MPI_Iallreduce``) while backward goes on with earlier layers. When the last gradient is in,
the outstanding reductions are awaited and the averages written back into ``.grad``.
"""

import contextlib

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.distributed.collectives import Work
from soma.distributed.process_group import _mpi, communicator, is_initialized
from soma.nn.module import Module

_xp = get_xp()


class _Bucket:
    """Parameters whose gradients are reduced together, in one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.dtype = params[0].array.dtype
        self.sizes = [p.array.size for p in params]
        self.buffer = _xp.empty(sum(self.sizes), dtype=self.dtype)
        self.pending = len(params)

    def launch(self, comm):
        """Copy the local gradients into the buffer and start summing it over every rank."""
        offset = 0
        for p, n in zip(self.params, self.sizes):
            view = self.buffer[offset : offset + n]
            if p.grad is None:
                view[...] = 0
            else:
                view[...] = p.grad.array.reshape(-1)
            offset += n
        return comm.Iallreduce(_mpi().IN_PLACE, self.buffer, op=_mpi().SUM)

    def write_back(self, world_size, had_grad):
        """Divide the sums by the number of ranks and store them as the gradients."""
        self.buffer /= world_size
        offset = 0
        for p, n in zip(self.params, self.sizes):
            mean = self.buffer[offset : offset + n].reshape(p.array.shape)
            offset += n
            if p.grad is not None:
                p.grad.array[...] = mean
            elif had_grad or _xp.any(mean):
                p.grad = Tensor._wrap(mean.copy())


def _bucketed(params, cap_bytes):
    """Group parameters (same dtype per bucket) into buckets of at most ``cap_bytes``."""
    buckets, current, size = [], [], 0
    for p in params:
        nbytes = p.array.nbytes
        if current and (size + nbytes > cap_bytes or p.array.dtype != current[0].array.dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _tensors_in(output):
    """The Tensors inside a forward's output (a Tensor, or tuples/lists/dicts of them)."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors_in(item)]
    return []


def _count_uses(outputs, wanted):
    """1 for each wanted leaf (by id) that ``outputs`` reach, else 0: the engine sums a leaf's
    contributions and calls its post-accumulate hook once per backward pass."""
    uses = dict.fromkeys(wanted, 0)
    seen, stack = set(), [t._ctx for t in outputs if t._ctx is not None]
    while stack:
        ctx = stack.pop()
        if id(ctx) in seen:
            continue
        seen.add(id(ctx))
        for parent, needed in zip(ctx._parents, ctx.needs_input_grad):
            if not needed:
                continue
            if parent._ctx is None:
                if id(parent) in uses:
                    uses[id(parent)] = 1
            else:
                stack.append(parent._ctx)
    return uses


class DistributedDataParallel(Module):
    """Wrap a model for data-parallel training over MPI (PyTorch's API).

    Args:
        module: the model; its state is broadcast from rank 0 at wrap time.
        broadcast_buffers: copy rank 0's buffers (BatchNorm running statistics) to every rank
            before each forward, as PyTorch does (default True).
        bucket_cap_mb: largest bucket of gradients reduced in one call (default 25 MB).
        find_unused_parameters: treat parameters that the forward did not use as having a zero
            gradient (without it, such a parameter makes the next forward raise, as in
            PyTorch).
        device_ids, output_device, process_group, gradient_as_bucket_view, static_graph:
            accepted for compatibility.

    Example (under ``mpiexec -n 2``)::

        dist.init_process_group("mpi")
        model = nn.parallel.DistributedDataParallel(Net())
        loss_fn(model(x_local), y_local).backward()   # .grad now holds the average
        optimizer.step()
    """

    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        process_group=None,
        bucket_cap_mb=25,
        find_unused_parameters=False,
        check_reduction=False,
        gradient_as_bucket_view=False,
        static_graph=False,
        **kwargs,
    ):
        super().__init__()
        if not is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: call soma.distributed.init_process_group('mpi') "
                "first (and launch with `mpiexec -n N ...`)"
            )
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self._comm = communicator()
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._sync_state(with_parameters=True)
        cap = int(bucket_cap_mb * 1024 * 1024)
        self._buckets = _bucketed(list(reversed(self._params)), cap)
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._remaining = {}
        self._requests = []
        self._had_grad = {}
        self._grad_hook_handles = [
            p.register_post_accumulate_grad_hook(self._on_gradient) for p in self._params
        ]

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        self._check_previous_reduction()
        if self.broadcast_buffers and self.training:
            self._sync_state(with_parameters=False)
        output = self.module(*inputs, **kwargs)
        outputs = [t for t in _tensors_in(output) if t.requires_grad]
        if self.require_backward_grad_sync and outputs:
            self._prepare_for_backward(outputs)
        return output

    def _sync_state(self, with_parameters):
        """Broadcast rank 0's buffers (and parameters) to every rank."""
        tensors = [b for b in self.module.buffers() if b is not None]
        if with_parameters:
            tensors = list(self.module.parameters()) + tensors
        for t in tensors:
            self._comm.Bcast(t.array if t.array.flags.c_contiguous else _contiguous(t), root=0)

    def _prepare_for_backward(self, outputs):
        uses = _count_uses(outputs, [id(p) for p in self._params])
        unused = [p for p in self._params if uses[id(p)] == 0]
        self._remaining = {k: n for k, n in uses.items() if n}
        self._had_grad = {id(p): p.grad is not None for p in self._params}
        self._requests = [None] * len(self._buckets)
        for bucket in self._buckets:
            bucket.pending = sum(1 for p in bucket.params if uses[id(p)])
        if unused and not self.find_unused_parameters:
            # NOTE: PyTorch notices this only at the next forward, after an optimizer step
            # with gradients that were never averaged; failing here never trains on them.
            self._remaining = {}
            names = {id(p): n for n, p in self.module.named_parameters()}
            raise RuntimeError(
                "DistributedDataParallel: these parameters were not used to compute the "
                f"output, so they would get no averaged gradient: "
                f"{', '.join(names.get(id(p), '?') for p in unused)}. Use them, freeze them "
                "(requires_grad=False), or pass find_unused_parameters=True."
            )
        for index, bucket in enumerate(self._buckets):
            if bucket.pending == 0:
                self._requests[index] = bucket.launch(self._comm)
        if not self._remaining:
            self._finish()

    # ------------------------------------------------------------------ backward
    def _on_gradient(self, param):
        key = id(param)
        left = self._remaining.get(key)
        if not left:
            return
        if left > 1:
            self._remaining[key] = left - 1
            return
        del self._remaining[key]
        bucket = self._bucket_of[key]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._requests[self._buckets.index(bucket)] = bucket.launch(self._comm)
        if not self._remaining:
            self._finish()

    def _finish(self):
        """Wait for every bucket's reduction and write the averaged gradients back."""
        Work([r for r in self._requests if r is not None]).wait()
        size = self._comm.Get_size()
        for bucket in self._buckets:
            had = any(self._had_grad.get(id(p)) for p in bucket.params)
            bucket.write_back(size, had)
        self._requests = []

    def _check_previous_reduction(self):
        if self._remaining:
            names = {id(p): n for n, p in self.module.named_parameters()}
            missing = [names.get(k, "?") for k in self._remaining]
            self._remaining, self._requests = {}, []
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior "
                "iteration before starting a new one: these parameters received no gradient "
                f"in the last backward: {', '.join(missing)}. Use every parameter in the loss, "
                "or pass find_unused_parameters=True."
            )

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally (no averaging) inside this block, e.g. for gradient
        accumulation; the first backward after it averages the accumulated sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def _contiguous(t):
    t.array = _xp.ascontiguousarray(t.array)
    return t.array
