"""Lookup-table layers: ``Embedding`` (one learned vector per id) and ``EmbeddingBag``."""

from soma.autograd.factory import empty
from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.functional.embedding import embedding, embedding_bag
from soma.nn import init
from soma.nn.module import Module
from soma.nn.parameter import Parameter


def _check_table(layer, num_embeddings, embedding_dim, padding_idx):
    for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"{layer}: padding_idx must be within num_embeddings "
            f"({num_embeddings}), got {padding_idx}"
        )
    return padding_idx % num_embeddings


def _table(layer, num_embeddings, embedding_dim, weight, dtype):
    if weight is None:
        return Parameter(empty(num_embeddings, embedding_dim, dtype=dtype)), True
    if tuple(weight.shape) != (num_embeddings, embedding_dim):
        raise ValueError(
            f"{layer}: _weight of shape {tuple(weight.shape)} does not match "
            f"(num_embeddings, embedding_dim) = ({num_embeddings}, {embedding_dim})"
        )
    return Parameter(weight.array if isinstance(weight, Tensor) else weight), False


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors, looked up by integer id (e.g. word ids).

    Args:
        num_embeddings: number of ids (the table's rows).
        embedding_dim: length of each vector.
        padding_idx: this id's vector starts at zero and gets no gradient.
        max_norm: looked-up vectors longer than this are rescaled in place.
        norm_type: the p of the p-norm for ``max_norm`` (default 2).
        scale_grad_by_freq: scale gradients by the inverse frequency of the ids in the batch.

    Shape:
        input (*) integer ids → output (*, embedding_dim)

    The table is initialised from N(0, 1), as in PyTorch.

    Example:
        >>> import soma
        >>> emb = Embedding(10, 3, padding_idx=0)
        >>> tuple(emb(soma.tensor([[1, 2, 0]])).shape)
        (1, 3, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx=None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight=None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.padding_idx = _check_table("Embedding", num_embeddings, embedding_dim, padding_idx)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.weight, fresh = _table("Embedding", num_embeddings, embedding_dim, _weight, dtype)
        self.weight.requires_grad = not _freeze
        if fresh:
            self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, generator=generator)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx=None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> "Embedding":
        """An ``Embedding`` holding ``embeddings`` (2-D); frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                f"{tuple(embeddings.shape)}"
            )
        rows, dim = embeddings.shape
        return cls(
            rows,
            dim,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=embeddings,
            _freeze=freeze,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


class EmbeddingBag(Module):
    """Sums, means or maxima of embeddings over bags of ids (see ``functional.embedding_bag``).

    Example:
        >>> import soma
        >>> bag = EmbeddingBag(10, 3, mode="sum")
        >>> tuple(bag(soma.tensor([1, 2, 4, 5]), soma.tensor([0, 2])).shape)
        (2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight=None,
        include_last_offset: bool = False,
        padding_idx=None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got '{mode}'")
        self.padding_idx = _check_table("EmbeddingBag", num_embeddings, embedding_dim, padding_idx)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.mode = max_norm, norm_type, mode
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.include_last_offset = include_last_offset
        self.weight, fresh = _table("EmbeddingBag", num_embeddings, embedding_dim, _weight, dtype)
        if fresh:
            self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx=None,
    ) -> "EmbeddingBag":
        rows, dim = embeddings.shape
        bag = cls(
            rows,
            dim,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            embeddings,
            include_last_offset,
            padding_idx,
        )
        bag.weight.requires_grad = not freeze
        return bag

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode='{self.mode}'"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
