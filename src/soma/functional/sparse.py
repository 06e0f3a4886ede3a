"""Sparse COO tensors: the minimum graph networks use (PyTorch's ``torch.sparse_coo_tensor``).

A ``SparseTensor`` holds ``indices`` (sparse_dim, nnz), an integer array, and ``values``
(nnz,), a Tensor that may carry gradients: products with dense tensors differentiate to the
dense operand and to the values. Only scalar values are stored (no hybrid dense dimensions).

    A = soma.sparse_coo_tensor([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
    y = A @ x               # or soma.sparse.mm(A, x), soma.spmm(A, x)

The ops below are Functions on the values and the dense operand; the indices are constants.
"""

from soma.autograd.factory import tensor
from soma.autograd.function import Function
from soma.autograd.size import Size
from soma.autograd.tensor import Tensor
from soma.backend import dtypes, get_xp, scatter_add
from soma.functional._utils import shape_str

_xp = get_xp()


class _Layout:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"soma.{self.name}"


sparse_coo = _Layout("sparse_coo")


# ---------------------------------------------------------------------------- kernels
class SparseDenseMM(Function):
    """Y = A X with A sparse (rows r, columns c, values v): Y[r_k] += v_k X[c_k]."""

    @staticmethod
    def forward(ctx, v, x, *, rows, cols, n_rows):
        ctx.save(v, x)
        ctx.rows, ctx.cols = rows, cols
        y = _xp.zeros((n_rows, x.shape[1]), dtype=_xp.result_type(v, x))
        _add_rows(y, rows, v[:, None] * x[cols])
        return y

    @staticmethod
    def backward(ctx, gy):
        v, x = ctx.saved
        rows, cols = ctx.rows, ctx.cols
        gv = gx = None
        picked = gy[rows]  # dL/dY at each nonzero's row
        if ctx.needs_input_grad[0]:
            # dL/dv_k = Σ_j dL/dY[r_k, j] · X[c_k, j]
            gv = (picked * x[cols]).sum(axis=1).astype(v.dtype, copy=False)
        if ctx.needs_input_grad[1]:
            # dL/dX = Aᵀ dL/dY: X[c_k] receives v_k dL/dY[r_k]
            gx = _xp.zeros(x.shape, dtype=x.dtype)
            _add_rows(gx, cols, v[:, None].astype(x.dtype) * picked)
        return gv, gx


def _add_rows(target, rows, values):
    """target[rows[k]] += values[k] (rows repeat), for a fresh C-contiguous 2-D ``target``.

    NOTE: scattered as single elements of the flattened array: about 3x faster than adding
    whole rows (measured for embedding gradients, docs/DEVELOPING.md).
    """
    width = target.shape[1]
    flat = (rows[:, None] * width + _xp.arange(width)).reshape(-1)
    scatter_add(target.reshape(-1), flat, values.reshape(-1))


class ToDense(Function):
    """The dense array of a COO tensor: D[i_k] += v_k (duplicates add up)."""

    @staticmethod
    def forward(ctx, v, *, index, shape):
        ctx.index = index
        d = _xp.zeros(shape, dtype=v.dtype)
        scatter_add(d, index, v)
        return d

    @staticmethod
    def backward(ctx, gy):
        return (gy[ctx.index],)  # dL/dv_k = dL/dD[i_k]


class PickEntries(Function):
    """The entries of a dense array at given positions (``to_sparse``'s values)."""

    @staticmethod
    def forward(ctx, x, *, index):
        ctx.index, ctx.shape = index, x.shape
        return x[index]

    @staticmethod
    def backward(ctx, gy):
        gx = _xp.zeros(ctx.shape, dtype=gy.dtype)
        scatter_add(gx, ctx.index, gy)
        return (gx,)


class SumSegments(Function):
    """out[j] = Σ_{k: seg_k = j} v_k (``coalesce`` adding the values of repeated indices)."""

    @staticmethod
    def forward(ctx, v, *, segments, n):
        ctx.segments = segments
        out = _xp.zeros(n, dtype=v.dtype)
        scatter_add(out, segments, v)
        return out

    @staticmethod
    def backward(ctx, gy):
        return (gy[ctx.segments],)


# ---------------------------------------------------------------------------- the type
class SparseTensor:
    """A sparse tensor in coordinate (COO) format, as PyTorch's ``layout=torch.sparse_coo``.

    Build one with ``sparse_coo_tensor`` or ``Tensor.to_sparse()``.
    """

    is_sparse = True
    layout = sparse_coo

    def __init__(self, indices, values: Tensor, shape, coalesced: bool = False):
        self._indices_array = indices
        self._values_tensor = values
        self._shape = tuple(int(s) for s in shape)
        self._coalesced = coalesced

    # ------------------------------------------------------------------ description
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        return self.shape if dim is None else self._shape[dim]

    @property
    def ndim(self):
        return len(self._shape)

    def dim(self):
        return len(self._shape)

    def sparse_dim(self):
        return len(self._shape)

    def dense_dim(self):
        return 0

    @property
    def dtype(self):
        return self._values_tensor.dtype

    @property
    def device(self):
        return self._values_tensor.device

    @property
    def is_cuda(self):
        return False

    def _nnz(self):
        return self._indices_array.shape[1]

    def is_coalesced(self):
        return self._coalesced

    def _indices(self):
        return Tensor._wrap(self._indices_array)

    def _values(self):
        return self._values_tensor

    def indices(self):
        """The (sparse_dim, nnz) indices; only of a coalesced tensor, as in PyTorch."""
        self._check_coalesced("indices")
        return self._indices()

    def values(self):
        """The (nnz,) values; only of a coalesced tensor, as in PyTorch."""
        self._check_coalesced("values")
        return self._values()

    def _check_coalesced(self, what):
        if not self._coalesced:
            raise RuntimeError(
                f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first"
            )

    # ------------------------------------------------------------------ gradients
    @property
    def requires_grad(self):
        return self._values_tensor.requires_grad

    def requires_grad_(self, requires_grad=True):
        self._values_tensor.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self._values_tensor.is_leaf

    @property
    def grad(self):
        """The gradient of a leaf sparse tensor: ∂L/∂A at its stored positions, coalesced.

        (Repeated indices share one entry of the dense tensor, so their values have the same
        gradient; PyTorch reports it once.)
        """
        g = self._values_tensor.grad
        if g is None:
            return None
        if self._coalesced:
            return SparseTensor(self._indices_array, g, self._shape, True)
        keys = _xp.ravel_multi_index(tuple(self._indices_array), self._shape)
        unique, first = _xp.unique(keys, return_index=True)
        indices = _xp.stack(_xp.unravel_index(unique, self._shape)).astype(_xp.int64)
        values = Tensor._wrap(g.array[first])
        return SparseTensor(indices.reshape(len(self._shape), -1), values, self._shape, True)

    def detach(self):
        return SparseTensor(
            self._indices_array, self._values_tensor.detach(), self._shape, self._coalesced
        )

    # ------------------------------------------------------------------ conversions
    def coalesce(self):
        """Indices sorted (row-major) with duplicates summed; differentiable in the values."""
        if self._coalesced:
            return self
        keys = _xp.ravel_multi_index(tuple(self._indices_array), self._shape)
        unique, segments = _xp.unique(keys, return_inverse=True)
        values = SumSegments.apply(
            self._values_tensor, segments=segments.reshape(-1), n=unique.size
        )
        indices = _xp.stack(_xp.unravel_index(unique, self._shape)).astype(_xp.int64)
        return SparseTensor(indices.reshape(len(self._shape), -1), values, self._shape, True)

    def to_dense(self):
        """The dense Tensor (repeated indices add up); differentiable in the values."""
        return ToDense.apply(
            self._values_tensor, index=tuple(self._indices_array), shape=self._shape
        )

    def to_sparse(self):
        return self

    def to(self, *args, **kwargs):
        values = self._values_tensor.to(*args, **kwargs)
        return SparseTensor(self._indices_array, values, self._shape, self._coalesced)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    # ------------------------------------------------------------------ math
    def t(self):
        return self.transpose(0, 1)

    def transpose(self, dim0, dim1):
        order = list(range(self.ndim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        shape = tuple(self._shape[d] for d in order)
        return SparseTensor(self._indices_array[order], self._values_tensor, shape)

    def mm(self, other):
        return mm(self, other)

    def matmul(self, other):
        return mm(self, other)

    def __matmul__(self, other):
        return mm(self, other)

    def __rmatmul__(self, other):
        return mm(other, self)

    def __mul__(self, other):
        if isinstance(other, (int, float)):
            return SparseTensor(
                self._indices_array, self._values_tensor * other, self._shape, self._coalesced
            )
        raise TypeError(
            "sparse * dense is not supported by soma; multiply by a number or use .to_dense()"
        )

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __truediv__(self, other):
        return self * (1.0 / other)

    def __repr__(self):
        return (
            f"tensor(indices={self._indices_array.tolist()},\n"
            f"       values={self._values_tensor.detach().array.tolist()},\n"
            f"       size={self._shape}, nnz={self._nnz()}, layout=soma.sparse_coo)"
        )


# ---------------------------------------------------------------------------- public functions
def sparse_coo_tensor(
    indices,
    values,
    size=None,
    *,
    dtype=None,
    device=None,
    requires_grad=False,
    check_invariants=None,
    is_coalesced=None,
) -> SparseTensor:
    """A sparse COO tensor with ``values`` at ``indices``, as ``torch.sparse_coo_tensor``.

    Args:
        indices: (sparse_dim, nnz) integer coordinates (array, list or Tensor).
        values: (nnz,) values (a Tensor keeps its graph: gradients reach it).
        size: the dense shape (default: one past the largest index in each dimension).
        dtype: cast the values.
        requires_grad: make the values a leaf that collects gradients.
        check_invariants: PyTorch's switch for the bounds check; soma always checks them.
        is_coalesced: declare the indices sorted and unique (unchecked, as PyTorch).

    Example:
        >>> import soma
        >>> a = sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3.0, 4.0, 5.0], (2, 3))
        >>> a.to_dense().tolist()
        [[0.0, 0.0, 3.0], [4.0, 0.0, 5.0]]
    """
    idx = indices.array if isinstance(indices, Tensor) else _xp.asarray(indices)
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"sparse_coo_tensor: indices must be a 2-D integer array (sparse_dim, nnz), got "
            f"shape {shape_str(idx.shape)} of {idx.dtype}"
        )
    if isinstance(values, Tensor):
        vals = values if dtype is None else values.to(dtype)
    else:
        vals = tensor(values, dtype=dtype)
    if vals.ndim != 1 or vals.shape[0] != idx.shape[1]:
        raise ValueError(
            f"sparse_coo_tensor: values must be 1-D with one entry per index (nnz = "
            f"{idx.shape[1]}), got shape {shape_str(vals.shape)}"
        )
    idx = idx.astype(_xp.int64)
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else (0,) * len(idx)
    size = tuple(size)
    if len(size) != idx.shape[0]:
        raise ValueError(
            f"sparse_coo_tensor: {idx.shape[0]} index rows for a size of {len(size)} dimensions"
        )
    if idx.shape[1] and ((idx.min(axis=1) < 0) | (idx.max(axis=1) >= _xp.asarray(size))).any():
        raise ValueError(f"sparse_coo_tensor: indices out of bounds for size {size}")
    if requires_grad:
        vals = vals.detach().requires_grad_(True)
    return SparseTensor(idx, vals, size, bool(is_coalesced))


def to_sparse(x: Tensor, sparse_dim=None) -> SparseTensor:
    """The nonzero entries of a dense tensor as a coalesced COO tensor (``Tensor.to_sparse``).

    Gradients of the values reach ``x`` at those entries.
    """
    if getattr(x, "is_sparse", False):
        return x
    if sparse_dim is not None and sparse_dim != x.ndim:
        raise ValueError(
            f"to_sparse: only sparse_dim = ndim ({x.ndim}) is supported, got {sparse_dim}"
        )
    index = _xp.nonzero(x.array)
    values = PickEntries.apply(x, index=index)
    indices = _xp.stack(index).astype(_xp.int64).reshape(x.ndim, -1)
    return SparseTensor(indices, values, tuple(x.shape), coalesced=True)


def mm(a, b) -> Tensor:
    """Product of a sparse (n, m) and a dense (m, k) or (m,) tensor, dense (n, k) or (n,).

    Gradients reach the dense operand and the sparse values. ``dense @ sparse`` is computed
    as ``(sparseᵀ @ denseᵀ)ᵀ``. Also ``soma.sparse.mm``, ``soma.spmm`` and ``A @ x``.

    Example:
        >>> import soma
        >>> a = soma.sparse_coo_tensor([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
        >>> (a @ soma.tensor([[1.0], [10.0]])).tolist()
        [[20.0], [3.0]]
    """
    a_sparse, b_sparse = getattr(a, "is_sparse", False), getattr(b, "is_sparse", False)
    if a_sparse and b_sparse:
        raise TypeError("mm: sparse @ sparse is not supported by soma; densify one operand")
    if b_sparse:  # dense @ sparse = (sparseᵀ @ denseᵀ)ᵀ
        return mm(b.t(), a) if a.ndim == 1 else mm(b.t(), a.t()).t()
    if a.ndim != 2:
        raise ValueError(f"mm: the sparse operand must be 2-D, got {shape_str(a.shape)}")
    vector = b.ndim == 1
    x = b.reshape(-1, 1) if vector else b
    if x.ndim != 2 or x.shape[0] != a.shape[1]:
        raise ValueError(
            f"mm: shapes {shape_str(a.shape)} (sparse) and {shape_str(b.shape)} cannot be "
            "multiplied"
        )
    rows, cols = a._indices_array
    y = SparseDenseMM.apply(a._values_tensor, x, rows=rows, cols=cols, n_rows=a.shape[0])
    return y.reshape(-1) if vector else y


def sparse_sum(input: SparseTensor, dim=None) -> Tensor:
    """Sum of all stored values (``torch.sparse.sum`` without ``dim``), a 0-d dense Tensor."""
    if dim is not None:
        return input.to_dense().sum(dim)
    return input._values_tensor.sum()
