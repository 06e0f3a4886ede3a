"""PyTorch's ``torch.utils`` namespace: ``soma.utils.data`` is ``soma.data`` under that name."""

from soma.utils import data

__all__ = ["data"]
