"""Margin and ranking losses: margin ranking, hinge embedding, soft margin, multi-class and
multi-label margins, and the triplet loss of metric learning.

Each is a composite of existing ops (its gradient comes from theirs), following PyTorch's
formula step for step so that the values and the gradients at the kinks agree.
"""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.activation.smooth import logsigmoid, softplus
from soma.functional.distance import pairwise_distance
from soma.functional.elementwise import clamp, minimum, where
from soma.functional.indexing import gather
from soma.functional.loss._reduction import _check_reduction, _reduce_tensor
from soma.functional.reduction import sum as _sum


def _check_same(op, **tensors):
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) != 1:
        listed = ", ".join(f"{name} {shape_str(s)}" for name, s in shapes.items())
        raise ValueError(f"{op}: the shapes must match; got {listed}")


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """``max(0, −y(x1 − x2) + margin)``: x1 should rank above x2 where y = 1, below where −1.

    Example:
        >>> import soma
        >>> x1, x2 = soma.tensor([0.5, 0.2]), soma.tensor([0.1, 0.4])
        >>> margin_ranking_loss(x1, x2, soma.tensor([1.0, 1.0]), reduction="none")
        tensor([0.0000, 0.2000])
    """
    _check_reduction(reduction, "margin_ranking_loss")
    _check_same("margin_ranking_loss", input1=input1, input2=input2, target=target)
    loss = clamp(-target * (input1 - input2) + margin, min=0.0)
    return _reduce_tensor(loss, reduction)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """``x`` where y = 1, ``max(0, margin − x)`` where y = −1 (x: a distance, y: similar or not).

    Example:
        >>> import soma
        >>> hinge_embedding_loss(soma.tensor([0.3, 0.4]), soma.tensor([1, -1]), reduction="none")
        tensor([0.3000, 0.6000])
    """
    _check_reduction(reduction, "hinge_embedding_loss")
    margin_part = where(target != 1, clamp(margin - input, min=0.0), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce_tensor(margin_part + self_part, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(−y x))`` with targets y ∈ {1, −1}.

    Example:
        >>> import soma
        >>> soft_margin_loss(soma.tensor([0.0]), soma.tensor([1.0]))       # log 2
        tensor(0.6931)
    """
    _check_reduction(reduction, "soft_margin_loss")
    _check_same("soft_margin_loss", input=input, target=target)
    return _reduce_tensor(softplus(-input * target), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor = None, reduction: str = "mean"
) -> Tensor:
    """Per-class logistic losses averaged over the C classes (one-vs-all, multi-label):

        ℓ = −(1/C) Σ_c w_c [y_c log σ(x_c) + (1 − y_c) log σ(−x_c)]

    Shape:
        input and target (N, C) or (C,); output (N,) for 'none'.
    """
    _check_reduction(reduction, "multilabel_soft_margin_loss")
    _check_same("multilabel_soft_margin_loss", input=input, target=target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    dim = input.ndim - 1
    loss = _sum(loss, dim) / input.shape[dim]
    return _reduce_tensor(loss, reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: ``(1/C) Σ_{i≠y} w_y max(0, margin − x_y + x_i)^p``.

    Shape:
        input (N, C) with target (N,) class indices, or (C,) with a 0-d target.

    Example:
        >>> import soma
        >>> x = soma.tensor([[0.1, 0.2, 0.4, 0.8]])
        >>> multi_margin_loss(x, soma.tensor([3]))       # (0.3 + 0.4 + 0.6) / 4
        tensor(0.3250)
    """
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p = 1 and p = 2 are supported, got {p}")
    if input.ndim not in (1, 2) or target.ndim != input.ndim - 1:
        raise ValueError(
            f"multi_margin_loss: expected input (N, C) with target (N,), or (C,) with a 0-d "
            f"target; got input {shape_str(input.shape)}, target {shape_str(target.shape)}"
        )
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1, 1).long()
    n_classes = x.shape[1]
    z = clamp(margin - gather(x, 1, t) + x, min=0.0)
    if p == 2:
        z = z * z
    not_target = t.array != _arange(n_classes, t.array)
    z = where(Tensor._wrap(not_target), z, 0.0)
    if weight is not None:
        z = z * gather(weight.reshape(1, -1).expand(x.shape[0], n_classes), 1, t)
    loss = _sum(z, 1) / n_classes
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce_tensor(loss, reduction)


def _arange(n, like):
    return get_xp().arange(n, dtype=like.dtype)[None, :]


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """Triplet loss: ``max(0, d(a, p) − d(a, n) + margin)``, d the p-norm pairwise distance.

    With ``swap`` (Balntas et al., 2016), d(a, n) is replaced by min(d(a, n), d(p, n)).

    Shape:
        anchor, positive, negative (N, D) or (D,); output (N,) for 'none'.

    Example:
        >>> import soma
        >>> a, pos, neg = soma.tensor([[0.0, 0.0]]), soma.tensor([[0.0, 1.0]]), soma.tensor([[3.0, 0.0]])
        >>> triplet_margin_loss(a, pos, neg, margin=2.5, eps=0.0)       # 1 − 3 + 2.5
        tensor(0.5000)
    """
    _check_reduction(reduction, "triplet_margin_loss")
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise ValueError(
            "triplet_margin_loss: anchor, positive and negative must all be (N, D) or all "
            f"(D,); got {shape_str(anchor.shape)}, {shape_str(positive.shape)}, "
            f"{shape_str(negative.shape)}"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce_tensor(clamp(margin + d_pos - d_neg, min=0.0), reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """Triplet loss with any distance: ``max(0, d(a, p) − d(a, n) + margin)``.

    ``distance_function(x1, x2)`` returns one distance per row (default:
    ``pairwise_distance``); ``swap`` uses min(d(a, n), d(p, n)).

    Example:
        >>> import soma
        >>> a, pos, neg = soma.zeros(1, 2), soma.ones(1, 2), soma.full((1, 2), 3.0)
        >>> l1 = lambda x, y: (x - y).abs().sum(-1)
        >>> triplet_margin_with_distance_loss(a, pos, neg, distance_function=l1, margin=5.0)
        tensor(1.)
    """
    _check_reduction(reduction, "triplet_margin_with_distance_loss")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be > 0, got {margin}")
    distance = distance_function if distance_function is not None else pairwise_distance
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance(positive, negative))
    return _reduce_tensor(clamp(margin + d_pos - d_neg, min=0.0), reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: every labelled class should score 1 above every other class,

        ℓ = (1/C) Σ_{j ∈ labels} Σ_{i ∉ labels} max(0, 1 − (x_j − x_i))

    ``target`` holds class indices, the labels of a sample up to its first −1 (PyTorch's
    layout), the same shape as ``input``: (N, C) or (C,).

    Example:
        >>> import soma
        >>> x = soma.tensor([[0.1, 0.2, 0.4, 0.8]])
        >>> multilabel_margin_loss(x, soma.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)
    """
    _check_reduction(reduction, "multilabel_margin_loss")
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"multilabel_margin_loss: expected input and target of the same shape, (N, C) or "
            f"(C,); got input {shape_str(input.shape)}, target {shape_str(target.shape)}"
        )
    x = input if input.ndim == 2 else input.reshape(1, -1)
    labels = _label_mask(target.array.reshape(x.shape))
    # z[n, j, i] = max(0, 1 − x_j + x_i), counted where j is a label and i is not
    z = clamp(1 - x.unsqueeze(2) + x.unsqueeze(1), min=0.0)
    pairs = labels[:, :, None] & ~labels[:, None, :]
    z = where(Tensor._wrap(pairs), z, 0.0)
    loss = _sum(z, (1, 2)) / x.shape[1]
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce_tensor(loss, reduction)


def _label_mask(target):
    """(N, C) bool: the classes listed in each row of ``target`` before its first −1."""
    xp = get_xp()
    n, c = target.shape
    listed = xp.cumprod(target >= 0, axis=1).astype(bool)  # positions before the first −1
    mask = xp.zeros((n, c), dtype=bool)
    rows = xp.repeat(xp.arange(n)[:, None], c, axis=1)
    mask[rows[listed], target[listed]] = True
    return mask
