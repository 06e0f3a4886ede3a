"""``soma.nn.parallel``: PyTorch's home of ``DataParallel`` and ``DistributedDataParallel``.

``DataParallel`` runs on the one (CPU) device: a pass-through wrapper, as PyTorch's is without
GPUs. ``DistributedDataParallel`` lives in ``soma.distributed`` (MPI underneath); it is
imported on first use so that ``import soma.nn`` never needs mpi4py.
"""

from soma.nn.module import Module


class DataParallel(Module):
    """Runs ``module`` on the one (CPU) device; ``device_ids``/``output_device`` are accepted.

    ``model = nn.DataParallel(model)`` keeps the model as ``model.module`` and calls it
    unchanged, so its ``state_dict`` keys gain the ``module.`` prefix exactly as in PyTorch.

    Example:
        >>> import soma
        >>> net = DataParallel(soma.nn.Linear(2, 1))
        >>> list(net.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def __getattr__(name):
    # NOTE: lazy: soma.distributed sits above nn in the tree and imports it.
    if name == "DistributedDataParallel":
        from soma.distributed.data_parallel import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'soma.nn.parallel' has no attribute {name!r}")


__all__ = ["DataParallel"]  # DistributedDataParallel is lazy (needs the dist extra)
