"""Batches of sequences of different lengths: padding and PyTorch's packed layout.

A ``PackedSequence`` stores the sequences sorted longest first and interleaved by time step:
``data`` holds time step 0 of every sequence, then time step 1 of those still running, and so
on; ``batch_sizes[t]`` says how many sequences run at step ``t``. Recurrent layers accept it
directly and skip the padding.

Example:
    >>> import soma
    >>> from soma.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([soma.tensor([1., 2., 3.]), soma.tensor([4., 5.])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]], [3, 2])
"""

from typing import NamedTuple

from soma.autograd.factory import full
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional.indexing import index_select
from soma.functional.shape import cat, reshape, transpose

_xp = get_xp()


class PackedSequence(NamedTuple):
    """Sequences of different lengths packed by time step (see the module docstring)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> "PackedSequence":
        return self._replace(data=self.data.to(*args, **kwargs))

    def double(self) -> "PackedSequence":
        return self._replace(data=self.data.double())

    def float(self) -> "PackedSequence":
        return self._replace(data=self.data.float())

    @property
    def is_cuda(self) -> bool:
        return False


def _int_array(values):
    if isinstance(values, Tensor):
        values = values.array
    return _xp.asarray(values, dtype=_xp.int64).reshape(-1)


def packed_positions(batch_sizes, steps=None):
    """Flat row indices, in a (steps, batch) time-major grid, of the entries of packed data."""
    sizes = _int_array(batch_sizes)
    steps = len(sizes) if steps is None else steps
    running = _xp.zeros(steps, dtype=_xp.int64)
    running[: len(sizes)] = sizes
    return _xp.flatnonzero(_xp.arange(sizes[0])[None, :] < running[:, None])


def packed_to_padded(data: Tensor, batch_sizes, padding_value=0.0, steps=None) -> Tensor:
    """Packed data (N, *) → time-major padded (steps, batch, *), still sorted longest first."""
    sizes = _int_array(batch_sizes)
    steps = len(sizes) if steps is None else steps
    batch = int(sizes[0])
    padded = full((steps * batch,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded[Tensor._wrap(packed_positions(sizes, steps))] = data
    return reshape(padded, (steps, batch) + tuple(data.shape[1:]))


def padded_to_packed(padded: Tensor, batch_sizes) -> Tensor:
    """Time-major padded (steps, batch, *) sorted longest first → packed data (N, *)."""
    steps, batch = padded.shape[:2]
    flat = reshape(padded, (steps * batch,) + tuple(padded.shape[2:]))
    return flat[Tensor._wrap(packed_positions(batch_sizes, steps))]


def invert_permutation(permutation):
    if permutation is None:
        return None
    perm = _int_array(permutation)
    inverse = _xp.empty_like(perm)
    inverse[perm] = _xp.arange(len(perm))
    return Tensor._wrap(inverse)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch whose sequence ``b`` has ``lengths[b]`` valid steps.

    Args:
        input: (seq, batch, *) or, with ``batch_first``, (batch, seq, *).
        lengths: the length of each sequence (a list or a 1-D integer tensor).
        enforce_sorted: require lengths in decreasing order; with False, the batch is sorted
            here and the permutation kept so outputs come back in the original order.
    """
    lengths = _int_array(lengths)
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or len(lengths) != input.shape[batch_dim]:
        raise ValueError(
            f"pack_padded_sequence: {len(lengths)} lengths for an input of shape "
            f"{tuple(input.shape)} (batch dimension {batch_dim})"
        )
    if len(lengths) and lengths.min() <= 0:
        raise ValueError(
            f"pack_padded_sequence: every length must be at least 1, got {lengths.tolist()}"
        )
    sorted_indices = None
    if enforce_sorted:
        if _xp.any(lengths[1:] > lengths[:-1]):
            raise ValueError(
                f"pack_padded_sequence: lengths {lengths.tolist()} are not sorted in "
                f"decreasing order; sort them or pass enforce_sorted=False"
            )
    else:
        order = _xp.argsort(-lengths, kind="stable")
        sorted_indices = Tensor._wrap(order)
        lengths = lengths[order]
        input = index_select(input, batch_dim, sorted_indices)
    if batch_first:
        input = transpose(input, 0, 1)
    steps = int(lengths[0])
    if steps > input.shape[0]:
        raise ValueError(
            f"pack_padded_sequence: a length of {steps} exceeds the {input.shape[0]} "
            f"time steps of the input"
        )
    batch_sizes = (lengths[None, :] > _xp.arange(steps)[:, None]).sum(axis=1)
    data = padded_to_packed(input[:steps], batch_sizes)
    return PackedSequence(
        data,
        Tensor._wrap(batch_sizes.astype(_xp.int64)),
        sorted_indices,
        invert_permutation(sorted_indices),
    )


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
):
    """Undo ``pack_padded_sequence``: ``(padded, lengths)`` in the original batch order.

    Args:
        total_length: pad to this many steps (at least the longest sequence).
    """
    data, batch_sizes, _, unsorted_indices = sequence
    sizes = _int_array(batch_sizes)
    steps = len(sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: total_length={total_length} is shorter than "
                f"the longest sequence ({steps} steps)"
            )
        steps = total_length
    padded = packed_to_padded(data, sizes, padding_value, steps)
    lengths = (sizes[None, :] > _xp.arange(sizes[0])[:, None]).sum(axis=1)
    if unsorted_indices is not None:
        padded = index_select(padded, 1, unsorted_indices)
        lengths = lengths[unsorted_indices.array]
    if batch_first:
        padded = transpose(padded, 0, 1)
    return padded, Tensor._wrap(lengths.astype(_xp.int64))


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack sequences of shapes (Lᵢ, *) into (max L, batch, *) (or batch first), padded.

    Example:
        >>> import soma
        >>> pad_sequence([soma.ones(2), soma.ones(1)], batch_first=True).tolist()
        [[1.0, 1.0], [1.0, 0.0]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'right' or 'left', got '{padding_side}'"
        )
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of sequences")
    lengths = _xp.asarray([s.shape[0] for s in sequences], dtype=_xp.int64)
    rest = tuple(sequences[0].shape[1:])
    steps = int(lengths.max())
    grid = _xp.arange(steps)[None, :]
    if padding_side == "right":
        valid = grid < lengths[:, None]
    else:
        valid = grid >= steps - lengths[:, None]
    data = cat(sequences, 0)
    padded = full((len(sequences) * steps,) + rest, padding_value, dtype=data.dtype)
    padded[Tensor._wrap(_xp.flatnonzero(valid))] = data
    padded = reshape(padded, (len(sequences), steps) + rest)
    return padded if batch_first else transpose(padded, 0, 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes (Lᵢ, *) (see ``pack_padded_sequence``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Split a padded batch back into a list of sequences of the given lengths."""
    if not batch_first:
        padded_sequences = transpose(padded_sequences, 0, 1)
    return [padded_sequences[b, : int(n)] for b, n in enumerate(_int_array(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """Split a ``PackedSequence`` back into a list of sequences."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
