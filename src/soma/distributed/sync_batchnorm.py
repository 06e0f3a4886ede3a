"""``SyncBatchNorm``: batch normalization whose statistics span every process's batch.

With plain BatchNorm under data parallelism each rank normalises with its own slice's mean
and variance (as PyTorch's DDP does). SyncBatchNorm sums the per-channel statistics over all
ranks first, so N ranks × B samples normalise exactly as one process would with N·B:

    forward:   μ = Σ_all x / M,   σ² = Σ_all (x − μ)² / M,   y = (x − μ)/√(σ² + ε)·γ + β
    backward:  dx = γ/√(σ² + ε) · (g − Σ_all g / M − x̂ · Σ_all g·x̂ / M)

with M the number of values per channel over all ranks. dγ = Σ g·x̂ and dβ = Σ g stay local:
DistributedDataParallel averages them with the other gradients.
"""

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.distributed.process_group import _mpi, communicator, is_initialized
from soma.nn.modules.batchnorm import _BatchNorm

_xp = get_xp()


def _allreduce(array, comm):
    comm.Allreduce(_mpi().IN_PLACE, array, op=_mpi().SUM)
    return array


def _view(x):
    """x as (N, C, L) and the per-channel broadcast shape."""
    n, c = x.shape[:2]
    return x.reshape(n, c, -1), (1, c, 1)


class SyncBatchNormTrain(Function):
    """Batch normalization with statistics summed over every rank (training mode)."""

    @staticmethod
    def forward(ctx, x, w, b, *, eps, running, comm):
        x3, shape = _view(x)
        local = _xp.concatenate([x3.sum(axis=(0, 2)), [x3.shape[0] * x3.shape[2]]])
        totals = _allreduce(local.astype(_xp.float64), comm)
        m = totals[-1]
        mean = (totals[:-1] / m).astype(x.dtype)
        xc = x3 - mean.reshape(shape)
        var = _allreduce(_xp.einsum("ncl,ncl->c", xc, xc).astype(_xp.float64), comm) / m
        invstd = (1.0 / _xp.sqrt(var + eps)).astype(x.dtype)
        xhat = xc * invstd.reshape(shape)
        y = xhat * w.reshape(shape) + b.reshape(shape) if w is not None else xhat
        if running is not None:
            update = running
            update(mean, (var * m / max(m - 1, 1)).astype(x.dtype))
        ctx.save(xhat, invstd, w)
        ctx.m, ctx.comm, ctx.shape = m, comm, x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xhat, invstd, w = ctx.saved
        g3, shape = _view(gy)
        sum_g = g3.sum(axis=(0, 2))
        sum_gx = _xp.einsum("ncl,ncl->c", g3, xhat)
        gw = sum_gx if ctx.needs_input_grad[1] else None
        gb = sum_g.copy() if ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            totals = _allreduce(_xp.concatenate([sum_g, sum_gx]).astype(_xp.float64), ctx.comm)
            c = sum_g.shape[0]
            mean_g = (totals[:c] / ctx.m).astype(gy.dtype).reshape(shape)
            mean_gx = (totals[c:] / ctx.m).astype(gy.dtype).reshape(shape)
            scale = invstd if w is None else invstd * w
            gx = (scale.reshape(shape) * (g3 - mean_g - xhat * mean_gx)).reshape(ctx.shape)
        return gx, gw, gb


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over the whole distributed batch (PyTorch's ``nn.SyncBatchNorm``).

    Accepts (N, C, *) input of any rank ≥ 2. Outside training, or without an initialized
    process group, it behaves exactly as ``BatchNorm``. Convert an existing model with
    ``SyncBatchNorm.convert_sync_batchnorm(model)``.
    """

    _dims = (2, 3, 4, 5)

    def forward(self, input):
        if not (self.training and is_initialized() and communicator().Get_size() > 1):
            return super().forward(input)
        self._check_channels(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        running = None
        if self.track_running_stats:
            rm, rv = self.running_mean.array, self.running_var.array

            def running(mean, unbiased_var):
                rm[...] = (1 - factor) * rm + factor * mean
                rv[...] = (1 - factor) * rv + factor * unbiased_var

        return SyncBatchNormTrain.apply(
            input, self.weight, self.bias, eps=self.eps, running=running, comm=communicator()
        )

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm that
        holds the same parameters and running statistics."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            sync = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
            )
            if module.affine:
                sync.weight = module.weight
                sync.bias = module.bias
            if module.track_running_stats:
                sync.running_mean = module.running_mean
                sync.running_var = module.running_var
                sync.num_batches_tracked = module.num_batches_tracked
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module
