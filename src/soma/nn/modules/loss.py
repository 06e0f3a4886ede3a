"""Loss modules: each stores its options and calls the function in ``soma.nn.functional``.

Class weights (``weight``, ``pos_weight``) are buffers, as in PyTorch, so they follow
``.to()`` and appear in the ``state_dict``. The deprecated ``size_average``/``reduce`` arguments
are not accepted: use ``reduction``.
"""

from soma import functional as F
from soma.autograd.tensor import Tensor
from soma.nn.module import Module
from soma.nn.registry import register_loss


class _Loss(Module):
    _reductions = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self._reductions:
            names = ", ".join(repr(r) for r in self._reductions)
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {names}; got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction='{self.reduction}'" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


@register_loss("mse", "mean squared error")
class MSELoss(_Loss):
    """Mean squared error, the lecture's loss for regression: mean((y − t)²).

    Example:
        >>> import soma
        >>> MSELoss()(soma.tensor([1.0, 2.0]), soma.tensor([0.0, 4.0]))
        tensor(2.5)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


@register_loss("l1", "mean absolute error", aliases=("mae",))
class L1Loss(_Loss):
    """Mean absolute error: mean(|y − t|)."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


@register_loss("huber", "Huber: squared below delta, absolute above")
class HuberLoss(_Loss):
    """Squared error within ``delta`` of the target, linear beyond it."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(), f"delta={self.delta}"]))


@register_loss("smooth_l1", "smooth L1: Huber divided by beta")
class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``: quadratic within ``beta``, L1 beyond."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(), f"beta={self.beta}"]))


class KLDivLoss(_Loss):
    """KL(target ‖ q) with the input holding log q; ``reduction='batchmean'`` is the true KL."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


@register_loss("bce", "binary cross-entropy of probabilities")
class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (after a sigmoid); logs clamped at -100."""

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


@register_loss("bce_with_logits", "binary cross-entropy of logits (stable)")
class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of ``sigmoid(input)`` computed stably from the logits.

    Example:
        >>> import soma
        >>> BCEWithLogitsLoss()(soma.tensor([2.0, -1.0]), soma.tensor([1.0, 0.0]))
        tensor(0.2201)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


@register_loss("cross_entropy", "softmax cross-entropy of logits and class indices")
class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of ``softmax(input)`` along dim 1 against class indices or probabilities.

    Args:
        weight: a rescaling weight per class, shape (C,).
        ignore_index: class-index targets equal to it count for nothing.
        reduction: 'mean' (over the summed weights of counted targets), 'sum' or 'none'.
        label_smoothing: ε in [0, 1]: the target becomes (1-ε) one_hot + ε/C.

    Shape:
        input (N, C), (N, C, d1, ...) or (C,); target (N,), (N, d1, ...) or () of class
        indices, or the input's shape of probabilities.

    Example:
        >>> import soma
        >>> loss = CrossEntropyLoss()(soma.zeros(4, 10), soma.tensor([1, 0, 4, 9]))
        >>> round(loss.item(), 4)  # log 10
        2.3026
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self):
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(filter(None, parts))


@register_loss("nll", "negative log-likelihood of log-probabilities")
class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of the target classes, given log-probabilities."""

    def __init__(
        self, weight: Tensor | None = None, *, ignore_index: int = -100, reduction: str = "mean"
    ):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x1, x2) for target 1, max(0, cos(x1, x2) − margin) for target −1."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)

    def extra_repr(self):
        return ", ".join(filter(None, [f"margin={self.margin}", super().extra_repr()]))
