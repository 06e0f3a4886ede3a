"""Loss modules: each stores its options and calls the function in ``soma.nn.functional``.

Class weights (``weight``, ``pos_weight``) are buffers, as in PyTorch, so they follow
``.to()`` and appear in the ``state_dict``. The deprecated ``size_average``/``reduce`` arguments
are not accepted: use ``reduction``.
"""

from soma import functional as F
from soma.autograd.tensor import Tensor
from soma.functional.loss.ctc import ctc_loss
from soma.functional.loss.probabilistic import gaussian_nll_loss, poisson_nll_loss
from soma.functional.loss.ranking import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
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


class NLLLoss2d(NLLLoss):
    """PyTorch's older name of ``NLLLoss`` for (N, C, H, W) inputs: the same loss."""


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x1, x2) for target 1, max(0, cos(x1, x2) − margin) for target −1."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


# ------------------------------------------------------------ issue 11: ranking, probabilistic, CTC
class MarginRankingLoss(_Loss):
    """``max(0, −y(x1 − x2) + margin)``; see ``F.margin_ranking_loss``."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``x`` where y = 1, ``max(0, margin − x)`` where y = −1; see ``F.hinge_embedding_loss``."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_embedding_loss(input, target, self.margin, self.reduction)


class SoftMarginLoss(_Loss):
    """``log(1 + exp(−y x))``; see ``F.soft_margin_loss``."""

    def forward(self, input, target):
        return soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-vs-all logistic loss averaged over classes; see ``F.multilabel_soft_margin_loss``."""

    def forward(self, input, target):
        return multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss; see ``F.multi_margin_loss``."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):
        super().__init__(weight, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p}")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class TripletMarginLoss(_Loss):
    """``max(0, d(a, p) − d(a, n) + margin)``; see ``F.triplet_margin_loss``."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet loss with any distance function; see ``F.triplet_margin_with_distance_loss``."""

    def __init__(
        self,
        *,
        distance_function=None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}"
            )
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor, positive, negative):
        return triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss over class-index targets; see ``F.multilabel_margin_loss``."""

    def forward(self, input, target):
        return multilabel_margin_loss(input, target, self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of a predicted mean and variance; see
    ``F.gaussian_nll_loss``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of counts; see ``F.poisson_nll_loss``."""

    def __init__(
        self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction="mean"
    ):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return poisson_nll_loss(
            log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction
        )


class CTCLoss(_Loss):
    """Connectionist temporal classification loss; see ``F.ctc_loss``.

    Example:
        >>> import soma
        >>> lp = soma.randn(6, 2, 4).log_softmax(2)
        >>> loss = CTCLoss()(lp, soma.tensor([[1, 2], [3, 3]]), [6, 5], [2, 2])
        >>> loss.shape
        soma.Size([])
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
        )
