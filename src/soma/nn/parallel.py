"""``nn.DataParallel`` on one device: a pass-through wrapper, as PyTorch's is without GPUs.

``model = nn.DataParallel(model)`` keeps the model as ``model.module`` and calls it unchanged,
so its ``state_dict`` keys gain the ``module.`` prefix exactly as in PyTorch.
"""

from soma.nn.module import Module


class DataParallel(Module):
    """Runs ``module`` on the one (CPU) device; ``device_ids``/``output_device`` are accepted.

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


__all__ = ["DataParallel"]
