"""Lookup tables: ``embedding`` (rows of a weight matrix picked by integer ids), ``embedding_bag``
(sums, means or maxima of such rows per bag) and ``one_hot``.

The backward pass of a lookup adds each output row's gradient into the table row it came
from; repeated ids accumulate. It is one unbuffered scatter-add on the flattened table
(``np.add.at`` with flat element indices), which measured fastest among the NumPy schemes
tried (2-D ``add.at``, sort + ``reduceat``, one-hot matrix products, rounds of unique rows).
"""

from soma.autograd.errors import DTypeError, ShapeError
from soma.autograd.function import Function
from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp, scatter_add
from soma.functional._utils import shape_str
from soma.functional.elementwise import div, masked_fill, mul
from soma.functional.reduction import max as _max
from soma.functional.reduction import sum as _sum

_xp = get_xp()


class Embedding(Function):
    """y[...] = weight[ids[...]]: one table row per id."""

    @staticmethod
    def forward(ctx, weight, ids, *, padding_idx, scale_grad_by_freq):
        ctx.save(ids)
        ctx.table_shape = weight.shape
        ctx.options = (padding_idx, scale_grad_by_freq)
        return _xp.take(weight, ids, axis=0)

    @staticmethod
    def backward(ctx, gy):
        (ids,) = ctx.saved
        padding_idx, scale_grad_by_freq = ctx.options
        rows, dim = ctx.table_shape
        flat_ids = ids.reshape(-1)
        g = gy.reshape(-1, dim)
        if scale_grad_by_freq:
            counts = _xp.bincount(flat_ids, minlength=rows)
            g = g / counts[flat_ids][:, None].astype(g.dtype)
        # dL/dweight[r] = Σ_{i: ids[i] = r} gy[i]   (the padding row gets none)
        gw = _xp.zeros(ctx.table_shape, dtype=gy.dtype)
        element = (flat_ids[:, None] * dim + _xp.arange(dim)).reshape(-1)
        scatter_add(gw.reshape(-1), element, g.reshape(-1))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw, None


def _check_ids(op, ids, rows):
    if not isinstance(ids, Tensor):
        ids = Tensor._wrap(_xp.asarray(ids))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer ids (int64 or int32), got dtype {ids.dtype}")
    if ids.numel() and (ids.array.min() < 0 or ids.array.max() >= rows):
        bad = ids.array[(ids.array < 0) | (ids.array >= rows)].reshape(-1)[0]
        raise IndexError(f"{op}: id {bad} is out of range for a table of {rows} rows")
    return ids


def _padding_row(op, padding_idx, rows):
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {rows} rows")
    return padding_idx % rows


@no_grad()
def _renorm_rows_(weight, ids, max_norm, norm_type):
    """Rescale, in place, the looked-up rows whose norm exceeds ``max_norm`` (as PyTorch does)."""
    rows = _xp.unique(ids.array)
    table = weight.array
    norms = _xp.linalg.norm(table[rows].astype(_xp.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    scale = max_norm / (norms[over] + 1e-7)
    table[rows[over]] *= scale[:, None].astype(table.dtype)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx=None,
    max_norm=None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` picked by the integer ids in ``input``.

    Args:
        input: integer ids of any shape, each in ``[0, num_embeddings)``.
        weight: the table, (num_embeddings, embedding_dim).
        padding_idx: this row gets no gradient (its vector stays as it is).
        max_norm: rows looked up with a larger ``norm_type``-norm are rescaled to it, in place.
        scale_grad_by_freq: divide each row's gradient by how often its id occurs in the batch.

    Shape:
        input (*) → output (*, embedding_dim)

    Example:
        >>> import soma
        >>> table = soma.arange(6.0).reshape(3, 2)
        >>> embedding(soma.tensor([2, 0]), table).tolist()
        [[4.0, 5.0], [0.0, 1.0]]
    """
    if weight.ndim != 2:
        raise ValueError(
            f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
            f"shape {shape_str(weight.shape)}"
        )
    if sparse:
        raise NotImplementedError(
            "embedding: sparse gradients are not supported; use sparse=False"
        )
    rows = weight.shape[0]
    ids = _check_ids("embedding", input, rows)
    padding_idx = _padding_row("embedding", padding_idx, rows)
    if max_norm is not None:
        _renorm_rows_(weight, ids, max_norm, norm_type)
    return Embedding.apply(
        weight, ids.array, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class ids → int64 one-hot vectors along a new last dimension.

    Args:
        num_classes: length of the vectors; -1 means one more than the largest id.

    Example:
        >>> import soma
        >>> one_hot(soma.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    ids = tensor.array if isinstance(tensor, Tensor) else _xp.asarray(tensor)
    if ids.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: expected an integer tensor, got dtype {ids.dtype}")
    if ids.size and ids.min() < 0:  # PyTorch: RuntimeError; ShapeError is both
        raise ShapeError(f"one_hot: class ids must be non-negative, got {int(ids.min())}")
    top = int(ids.max()) + 1 if ids.size else 0
    if num_classes == -1:
        num_classes = top
    elif top > num_classes:
        raise ShapeError(f"one_hot: class id {top - 1} does not fit num_classes={num_classes}")
    out = (ids[..., None] == _xp.arange(num_classes)).astype(_xp.int64)
    return Tensor._wrap(out)


def _bags(op, ids, offsets, include_last_offset):
    """Bags as a padded (bags, longest) grid: positions into ``ids`` and a validity mask."""
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(
                f"{op}: offsets must be None when input is 2-D (one bag per row), "
                f"got input of shape {shape_str(ids.shape)}"
            )
        bags, length = ids.shape
        return _xp.arange(bags * length).reshape(bags, length), _xp.ones(ids.shape, dtype=bool)
    if ids.ndim != 1 or offsets is None:
        given = "no offsets" if offsets is None else "offsets"
        raise ValueError(
            f"{op}: expected 2-D input, or 1-D input with offsets; got input of "
            f"shape {shape_str(ids.shape)} and {given}"
        )
    starts = _xp.asarray(
        offsets.array if isinstance(offsets, Tensor) else offsets, dtype=_xp.int64
    ).reshape(-1)
    ends = starts[1:] if include_last_offset else _xp.append(starts[1:], ids.shape[0])
    starts = starts[:-1] if include_last_offset else starts
    if len(starts) and (starts[0] != 0 or _xp.any(ends < starts) or ends[-1] > ids.shape[0]):
        raise ValueError(
            f"{op}: offsets {starts.tolist()} must start at 0 and be non-decreasing "
            f"within the {ids.shape[0]} ids"
        )
    longest = int((ends - starts).max()) if len(starts) else 0
    positions = starts[:, None] + _xp.arange(longest)
    valid = positions < ends[:, None]
    return _xp.where(valid, positions, 0), valid


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets=None,
    max_norm=None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights=None,
    include_last_offset: bool = False,
    padding_idx=None,
) -> Tensor:
    """Sum, mean or max of the embeddings of each bag of ids, without materialising per-id rows
    outside the bags.

    Args:
        input: (bags, ids_per_bag) ids, or 1-D ids split into bags at ``offsets``.
        offsets: start of each bag in a 1-D ``input`` (with ``include_last_offset``, the last
            entry is the end of the last bag).
        mode: ``"sum"``, ``"mean"`` or ``"max"``; an empty bag gives zeros.
        per_sample_weights: a weight per id, multiplied in before summing (``mode="sum"`` only).
        padding_idx: ids equal to it are left out of their bag.

    Shape:
        output (bags, embedding_dim)

    Example:
        >>> import soma
        >>> table = soma.arange(6.0).reshape(3, 2)
        >>> embedding_bag(soma.tensor([0, 2, 1]), table, soma.tensor([0, 2]), mode="sum").tolist()
        [[4.0, 6.0], [2.0, 3.0]]
    """

    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got '{mode}'")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"embedding_bag: per_sample_weights needs mode='sum', got mode='{mode}'")
    ids = _check_ids("embedding_bag", input, weight.shape[0])
    positions, valid = _bags("embedding_bag", ids, offsets, include_last_offset)
    flat_ids = ids.array.reshape(-1)
    grid_ids = flat_ids[positions] if flat_ids.size else _xp.zeros(positions.shape, _xp.int64)
    padding_idx = _padding_row("embedding_bag", padding_idx, weight.shape[0])
    if padding_idx is not None:
        valid = valid & (grid_ids != padding_idx)
    rows = embedding(Tensor._wrap(grid_ids), weight, None, max_norm, norm_type, scale_grad_by_freq)
    keep = Tensor._wrap(valid[..., None].astype(weight.dtype))
    if mode == "max":
        out = _max(masked_fill(rows, ~valid[..., None], float("-inf")), 1).values
        return masked_fill(out, ~valid.any(axis=1)[:, None], 0.0)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[Tensor._wrap(positions)]
        keep = mul(keep, psw.unsqueeze(-1))
    out = _sum(mul(rows, keep), 1)
    if mode == "mean":
        counts = _xp.maximum(valid.sum(axis=1, keepdims=True), 1).astype(weight.dtype)
        out = div(out, Tensor._wrap(counts))
    return out
