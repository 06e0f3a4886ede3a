"""Loss modules: each stores its options and calls the function in ``soma.nn.functional``."""

from soma import functional as F
from soma.nn.module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction='{self.reduction}'" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """Mean squared error, the lecture's loss for regression: mean((y − t)²)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)
