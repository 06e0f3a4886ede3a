"""Losses for per-pixel labels: soft Dice and focal loss.

Both are composed of differentiable ops (softmax, log-softmax, gather, sums), so they need no
backward of their own; their gradients are those of the ops they are built on.

* ``dice_loss``: 1 − the soft Dice coefficient between the predicted class probabilities and
  the one-hot target, per class, averaged over the classes: it scores overlap rather than
  per-pixel agreement, so a small object counts as much as the background (Milletari, Navab &
  Ahmadi, "V-Net", 2016, who introduced it with squared terms in the denominator:
  ``squared=True``).
* ``focal_loss``: cross-entropy scaled by ``(1 − p_t)^γ``, which turns down the loss of pixels
  already classified well so the hard ones dominate (Lin, Goyal, Girshick, He & Dollár, "Focal
  Loss for Dense Object Detection", 2017); ``sigmoid_focal_loss`` is the binary form of
  ``torchvision.ops.sigmoid_focal_loss``.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.activation.softmax import log_softmax, softmax
from soma.functional.embedding import one_hot
from soma.functional.indexing import gather
from soma.functional.loss._reduction import _check_reduction, _reduce_tensor
from soma.functional.loss.classification import binary_cross_entropy_with_logits
from soma.functional.unary import sigmoid


def _probabilities_and_onehot(input, target, ignore_index, op):
    """(p, g): class probabilities and one-hot targets (N, C, M) over the M pixels, both zero at
    ignored pixels; binary (N, 1, …) inputs use the sigmoid."""
    if input.ndim < 2:
        raise ValueError(f"{op}: expected scores (N, C, ...), got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    x = input.reshape(n, c, -1)
    if tuple(target.shape) == tuple(input.shape) and target.is_floating_point():
        g = target.reshape(n, c, -1).to(input.dtype)  # probabilities or a binary mask
        valid = None
    else:
        expected = (n, *input.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(
                f"{op}: target shape {tuple(target.shape)} does not match scores "
                f"{tuple(input.shape)}: expected class indices of shape {expected}"
            )
        t = target.reshape(n, -1).long()
        valid = None
        if ignore_index is not None:
            keep = t != ignore_index
            valid = keep.unsqueeze(1).to(input.dtype)
            t = t * keep.long()  # ignored pixels point at class 0, then are masked out
        if c == 1:
            g = t.unsqueeze(1).to(input.dtype)
        else:
            g = one_hot(t, c).permute(0, 2, 1).to(input.dtype)
    p = sigmoid(x) if c == 1 else softmax(x, dim=1)
    if valid is not None:
        p, g = p * valid, g * valid
    return p, g


def dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    smooth: float = 1.0,
    squared: bool = False,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Soft Dice loss: ``1 − (2 Σ p·g + s) / (Σ p + Σ g + s)`` per class, over all pixels of the
    batch, averaged over the classes (``reduction="none"``: one value per class).

    ``p`` are the softmax probabilities of ``input`` (the sigmoid for one channel), ``g`` the
    one-hot target, ``s`` = ``smooth`` keeps classes absent from both at a loss of 0.

    Args:
        input: scores (logits) (N, C, ...); C = 1 for a binary mask.
        target: class indices (N, ...) or a float target of the input's shape.
        smooth: the additive smoothing ``s``.
        squared: V-Net's form, ``Σ p² + Σ g²`` in the denominator.
        ignore_index: pixels with this target count for no class.
        reduction: ``"mean"`` (over classes), ``"sum"`` or ``"none"`` (per class, (C,)).

    Example:
        >>> import soma
        >>> x = soma.tensor([[[[9.0, -9.0]], [[-9.0, 9.0]]]])  # (1, 2, 1, 2), certain
        >>> round(dice_loss(x, soma.tensor([[[0, 1]]])).item(), 4)
        0.0
    """
    _check_reduction(reduction, "dice_loss")
    p, g = _probabilities_and_onehot(input, target, ignore_index, "dice_loss")
    intersection = (p * g).sum(dim=(0, 2))
    if squared:
        total = (p * p).sum(dim=(0, 2)) + (g * g).sum(dim=(0, 2))
    else:
        total = p.sum(dim=(0, 2)) + g.sum(dim=(0, 2))
    dice = (2 * intersection + smooth) / (total + smooth)
    return _reduce_tensor(1 - dice, reduction)


def focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha=None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class focal loss ``−α_t (1 − p_t)^γ log p_t`` per sample or pixel.

    ``p_t`` is the softmax probability of the target class; γ = 0 and no α is cross-entropy.

    Args:
        input: scores (N, C) or (N, C, d1, ...).
        target: class indices (N) or (N, d1, ...).
        gamma: the focusing exponent γ (2 in the paper).
        alpha: class weights α_c, a sequence or Tensor of C values (None: all 1).
        ignore_index: targets with this value contribute nothing and are not counted.
        reduction: ``"mean"`` over the counted targets, ``"sum"`` or ``"none"``.

    Example:
        >>> import soma
        >>> x, t = soma.tensor([[2.0, 0.0]]), soma.tensor([0])
        >>> ce = soma.nn.functional.cross_entropy(x, t).item()
        >>> p = 1 / (1 + 2.718281828459045 ** -2)
        >>> abs(focal_loss(x, t).item() - (1 - p) ** 2 * ce) < 1e-6
        True
    """
    _check_reduction(reduction, "focal_loss")
    if input.ndim < 2 or tuple(target.shape) != (input.shape[0], *input.shape[2:]):
        raise ValueError(
            f"focal_loss: expected scores (N, C, ...) and class indices (N, ...), got shapes "
            f"{tuple(input.shape)} and {tuple(target.shape)}"
        )
    t = target.long()
    keep = t != ignore_index
    t = (t * keep.long()).unsqueeze(1)
    log_pt = gather(log_softmax(input, dim=1), 1, t).squeeze(1)
    pt = log_pt.exp()
    loss = -((1 - pt) ** gamma) * log_pt
    if alpha is not None:
        a = alpha if isinstance(alpha, Tensor) else Tensor._wrap(_as_array(alpha, input))
        loss = loss * a.to(input.dtype)[t.squeeze(1)]
    loss = loss * keep.to(input.dtype)
    if reduction == "mean":
        return loss.sum() / keep.sum().clamp(min=1).to(input.dtype)
    return _reduce_tensor(loss, reduction)


def _as_array(values, like):
    xp = get_xp(like.array)
    return xp.asarray(values, dtype=like.array.dtype)


def sigmoid_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> Tensor:
    """Binary focal loss on logits, ``torchvision.ops.sigmoid_focal_loss``'s formula:
    ``α_t (1 − p_t)^γ · BCE(x, t)`` with ``p_t = p·t + (1 − p)(1 − t)`` and
    ``α_t = α·t + (1 − α)(1 − t)`` (``alpha < 0`` turns the weighting off).

    Args:
        input: logits of any shape.
        target: 0/1 (or soft) targets of the same shape.
        alpha, gamma: as above (0.25 and 2 in the paper).
        reduction: ``"none"`` (torchvision's default), ``"mean"`` or ``"sum"``.
    """
    _check_reduction(reduction, "sigmoid_focal_loss")
    target = target.to(input.dtype)
    p = sigmoid(input)
    ce = binary_cross_entropy_with_logits(input, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return _reduce_tensor(loss, reduction)


__all__ = ["dice_loss", "focal_loss", "sigmoid_focal_loss"]
