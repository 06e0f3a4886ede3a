"""``soma.linalg``: PyTorch's ``torch.linalg`` names for the linear algebra soma has — norms,
solve / inv / det / slogdet, cholesky, eigh / eigvalsh, svd / svdvals, qr, cross, multi_dot, matrix_power, vecdot.

The kernels live in ``soma.functional`` (``linalg.py``, ``inverse.py``, ``decomposition.py``,
``distance.py``); eig is not implemented yet.
"""

import math

from soma.functional import amax, amin, matmul, matrix_power, vdot  # noqa: F401
from soma.functional import cross as _cross
from soma.functional import sum as _sum
from soma.functional.decomposition import (  # noqa: F401
    cholesky,
    eigh,
    eigvalsh,
    lstsq,
    matrix_rank,
    pinv,
    qr,
    svd,
    svdvals,
)
from soma.functional.distance import _pnorm
from soma.functional.inverse import det, inv, logdet, slogdet, solve  # noqa: F401
from soma.functional.matrix import diagonal as _diagonal
from soma.functional.reduction import singular_value_norm
from soma.functional.shape import movedim, reshape
from soma.functional.unary import _float
from soma.functional.unary import abs as _abs


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ``ord``-norm of the vectors along ``dim`` (all elements when None): ``ord`` may be
    any p >= 0, ``inf`` (largest |x|) or ``-inf`` (smallest |x|)."""
    x = _float(x) if dtype is None else x.to(dtype)
    every = dim is None or (isinstance(dim, (tuple, list)) and not dim)  # () means all, too
    dims = tuple(range(x.ndim)) if every else ((dim,) if isinstance(dim, int) else tuple(dim))
    dims = tuple(d % max(x.ndim, 1) for d in dims)
    if ord == -math.inf:
        return amin(_abs(x), dims if x.ndim else None, keepdim)
    if x.ndim == 0:
        return _pnorm(reshape(x, (1,)), ord, 0)
    rest = [d for d in range(x.ndim) if d not in dims]
    moved = movedim(x, dims, tuple(range(len(rest), x.ndim)))
    reduced = math.prod(x.shape[d] for d in dims)  # not -1: empty tensors leave it undetermined
    flat = reshape(moved, tuple(x.shape[d] for d in rest) + (reduced,))
    y = _pnorm(flat, ord, -1)
    if keepdim:
        shape = tuple(1 if d in dims else n for d, n in enumerate(x.shape))
        y = reshape(y, shape)
    return y


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The Frobenius norm (``'fro'``), the nuclear norm (``'nuc'``: Σ singular values), the
    spectral norm (``2``: the largest singular value; ``-2`` the smallest) or the largest
    absolute column (``1``) / row (``inf``) sum — with ``-1``/``-inf`` the smallest — of the
    matrices over ``dim`` (A cast to ``dtype``
    first when given)."""
    A = _float(A) if dtype is None else A.to(dtype)
    r, c = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (r, c), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        over, across = (r, c) if ord in (1, -1) else (c, r)
        sums = _sum(_abs(A), over, keepdim=True)
        pick = amax if ord > 0 else amin
        out = pick(sums, across, keepdim=True)
        return (
            out
            if keepdim
            else reshape(out, tuple(n for d, n in enumerate(A.shape) if d not in (r, c)))
        )
    if ord in ("nuc", 2, -2):  # from the singular values
        return singular_value_norm(A, ord, (r, c), keepdim)
    raise RuntimeError(f"linalg.matrix_norm: order {ord!r} not supported (fro, nuc, ±1, ±2, ±inf)")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` for one dim (or a flattened tensor), ``matrix_norm`` for two dims."""
    if ord is None and dim is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if isinstance(dim, (tuple, list)) and len(dim) not in (1, 2):
        raise RuntimeError(
            f"linalg.norm: dim must name 1 or 2 dimensions when given, got {list(dim)}"
        )
    if dim is None:
        dim = tuple(range(A.ndim)) if A.ndim <= 2 else None
    if isinstance(dim, (tuple, list)) and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def cross(input, other, *, dim=-1):
    """The 3-D cross product along ``dim`` (default: the last dimension)."""
    return _cross(input, other, dim)


def multi_dot(tensors):
    """The product of the matrices, left to right (1-D ends act as row / column vectors)."""
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def vecdot(x, y, *, dim=-1):
    """The dot product of the vectors along ``dim`` (broadcasting the rest)."""
    return _sum(x * y, dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of a batch of matrices (``torch.linalg.diagonal``'s defaults)."""
    return _diagonal(A, offset, dim1, dim2)


# PyTorch's keyword names, and out= where torch.linalg has it (soma/autograd/keywords.py)
from soma.autograd.keywords import adapt_namespace as _adapt_namespace  # noqa: E402

_adapt_namespace(
    globals(),
    out_names=frozenset(
        "cholesky cross det eigh eigvalsh inv matmul matrix_norm matrix_power matrix_rank "
        "multi_dot norm pinv qr slogdet solve svd svdvals vecdot vector_norm".split()
    ),
)
