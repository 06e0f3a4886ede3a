"""Segmentation loss modules: ``DiceLoss``, ``FocalLoss`` and ``DiceCELoss`` (cross-entropy plus
Dice, the usual pairing: cross-entropy gives every pixel a gradient from the start, Dice keeps
small classes from being drowned by the background). Each calls ``soma.nn.functional``."""

from soma import functional as F
from soma.nn.modules.loss import _Loss
from soma.nn.registry import register_loss


@register_loss("dice", "soft Dice loss over the classes (segmentation)")
class DiceLoss(_Loss):
    """Soft Dice loss over the classes (see ``soma.nn.functional.dice_loss``).

    Example:
        >>> import soma
        >>> x = soma.tensor([[[[9.0, -9.0]], [[-9.0, 9.0]]]])  # certain: classes [0, 1]
        >>> round(DiceLoss()(x, soma.tensor([[[1, 0]]])).item(), 2)  # all wrong: 1 − 1/3
        0.67
    """

    def __init__(
        self,
        smooth: float = 1.0,
        squared: bool = False,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ):
        super().__init__(reduction)
        self.smooth, self.squared, self.ignore_index = smooth, squared, ignore_index

    def forward(self, input, target):
        return F.dice_loss(
            input,
            target,
            smooth=self.smooth,
            squared=self.squared,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self):
        return f"smooth={self.smooth}, squared={self.squared}"


@register_loss("focal", "focal loss: cross-entropy scaled by (1 - p_t)^gamma")
class FocalLoss(_Loss):
    """Multi-class focal loss ``−α_t (1 − p_t)^γ log p_t`` (see ``F.focal_loss``)."""

    def __init__(
        self, gamma: float = 2.0, alpha=None, ignore_index: int = -100, reduction: str = "mean"
    ):
        super().__init__(reduction)
        self.gamma, self.alpha, self.ignore_index = gamma, alpha, ignore_index

    def forward(self, input, target):
        return F.focal_loss(
            input,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self):
        return f"gamma={self.gamma}"


@register_loss("dice_ce", "cross-entropy + soft Dice (segmentation)")
class DiceCELoss(_Loss):
    """``cross_entropy + dice_weight · dice_loss`` on the same scores and class indices."""

    def __init__(self, dice_weight: float = 1.0, smooth: float = 1.0, ignore_index: int = -100):
        super().__init__("mean")
        self.dice_weight, self.smooth, self.ignore_index = dice_weight, smooth, ignore_index

    def forward(self, input, target):
        ce = F.cross_entropy(input, target, ignore_index=self.ignore_index)
        dice = F.dice_loss(input, target, smooth=self.smooth, ignore_index=self.ignore_index)
        return ce + self.dice_weight * dice

    def extra_repr(self):
        return f"dice_weight={self.dice_weight}"


__all__ = ["DiceCELoss", "DiceLoss", "FocalLoss"]
