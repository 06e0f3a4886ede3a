"""Factorisations of symmetric matrices: the Cholesky factor and the symmetric eigen-
decomposition (eigh, eigvalsh), batched over leading dimensions, with gradients.

Both read only the lower triangle of their input, as PyTorch does by default; their gradients
are returned symmetrised, as PyTorch's are.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.unary import _float

_xp = get_xp()


def _t(a):
    return _xp.swapaxes(a, -1, -2)


def _symmetrise(g):
    return (g + _t(g)) / 2


def _square(a, op):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{op}: expected (*, n, n) square matrices, got shape {shape_str(a.shape)}"
        )


class Cholesky(Function):
    """L with A = L Lᵀ, L lower triangular with a positive diagonal."""

    @staticmethod
    def forward(ctx, a):
        try:
            lower = _xp.linalg.cholesky(a)
        except _xp.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: the input is not positive-definite") from None
        ctx.save(lower)
        return lower

    @staticmethod
    def backward(ctx, gl):
        (lower,) = ctx.saved
        # Murray (2016): Φ(Lᵀ gL) with Φ = lower triangle, diagonal halved; then
        # gA = ½ sym(L⁻ᵀ Φ L⁻¹)
        phi = _xp.tril(_t(lower) @ gl)
        n = phi.shape[-1]
        phi[..., _xp.arange(n), _xp.arange(n)] *= 0.5
        inv = _xp.linalg.inv(lower)
        return _symmetrise(_t(inv) @ phi @ inv)


def cholesky(A, *, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix: lower triangular L with
    ``A = L Lᵀ`` (``upper=True``: ``U = Lᵀ``)."""
    a = _float(A)
    _square(a, "cholesky")
    lower = Cholesky.apply(a)
    if upper:
        from soma.functional.shape import transpose

        return transpose(lower, -1, -2)
    return lower


class Eigh(Function):
    """(w, V) with A = V diag(w) Vᵀ, w ascending, V orthonormal."""

    @staticmethod
    def forward(ctx, a):
        w, v = _xp.linalg.eigh(a)
        ctx.save(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved
        inner = _xp.zeros(v.shape, dtype=v.dtype)
        if gv is not None:
            # F_ij = 1 / (w_j - w_i) off the diagonal: how eigenvectors turn as A changes
            gap = w[..., None, :] - w[..., :, None]
            n = w.shape[-1]
            gap[..., _xp.arange(n), _xp.arange(n)] = _xp.inf
            inner = (_t(v) @ gv) / gap
        if gw is not None:
            inner = inner + gw[..., :, None] * _xp.eye(w.shape[-1], dtype=v.dtype)
        return _symmetrise(v @ inner @ _t(v))


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of each symmetric matrix, as the
    named pair ``(eigenvalues, eigenvectors)``."""
    a = _float(A)
    _square(a, "eigh")
    if UPLO != "L":
        from soma.functional.shape import transpose

        a = transpose(a, -1, -2)
    w, v = Eigh.apply(a)
    return _EighResult(w, v)


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of each symmetric matrix."""
    return eigh(A, UPLO).eigenvalues


class _EighResult(tuple):
    """``(eigenvalues, eigenvectors)`` with PyTorch's field names."""

    __slots__ = ()

    def __new__(cls, w: Tensor, v: Tensor):
        return super().__new__(cls, (w, v))

    @property
    def eigenvalues(self):
        return self[0]

    @property
    def eigenvectors(self):
        return self[1]
