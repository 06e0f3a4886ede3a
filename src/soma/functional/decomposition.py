"""Matrix factorisations with gradients, batched over leading dimensions: the Cholesky factor
and the symmetric eigendecomposition (eigh, eigvalsh), the singular value decomposition (svd,
svdvals) and QR.

cholesky and eigh read only the lower triangle of their input, as PyTorch does by default, and
return symmetrised gradients, as PyTorch's are.
"""

from soma.autograd.function import Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str
from soma.functional.elementwise import where
from soma.functional.linalg import matmul
from soma.functional.shape import transpose
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


class SVD(Function):
    """(U, S, Vh) with A = U diag(S) Vh, the reduced decomposition (k = min(m, n))."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = _xp.linalg.svd(a, full_matrices=False)
        ctx.save(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved
        v = _t(vh)
        k = s.shape[-1]
        eye = _xp.eye(k, dtype=s.dtype)
        inner = _xp.zeros(u.shape[:-2] + (k, k), dtype=s.dtype)
        if gs is not None:
            inner = inner + gs[..., :, None] * eye
        sq = s * s
        gap = sq[..., None, :] - sq[..., :, None]  # s_j² - s_i²
        with _xp.errstate(divide="ignore"):
            f = _xp.where(eye > 0, 0.0, 1.0 / _xp.where(eye > 0, 1.0, gap))
        smat = s[..., None, :] * eye  # diag(s)
        # Townsend (2016): the rotation of the singular vectors as A changes
        extra = 0.0
        if gu is not None:
            ugu = _t(u) @ gu
            inner = inner + (f * (ugu - _t(ugu))) @ smat
            proj = gu - u @ ugu  # (I - U Uᵀ) gU
            extra = extra + (proj / s[..., None, :]) @ vh
        if gvh is not None:
            gv = _t(gvh)
            vgv = _t(v) @ gv
            inner = inner + smat @ (f * (vgv - _t(vgv)))
            proj = gv - v @ vgv  # (I - V Vᵀ) gV
            extra = extra + u @ _t(proj / s[..., None, :])
        return u @ inner @ vh + extra


def svd(A, full_matrices=True, *, driver=None):
    """The singular value decomposition ``A = U diag(S) Vh`` as ``(U, S, Vh)``.

    Only the reduced form (``full_matrices=False``) carries gradients; ``full_matrices=True``
    is computed without a graph when ``A`` is not square. ``driver`` picks a cuSOLVER routine
    in PyTorch; on the CPU it must be None, as there.
    """
    _no_driver("svd", driver)
    a = _float(A)
    if a.ndim < 2:
        raise RuntimeError(f"svd: expected (*, m, n) matrices, got shape {shape_str(a.shape)}")
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        u, s, vh = _xp.linalg.svd(a.array, full_matrices=True)
        return _SVDResult(Tensor._wrap(u), Tensor._wrap(s), Tensor._wrap(vh))
    return _SVDResult(*SVD.apply(a))


def svdvals(A, *, driver=None):
    """The singular values of each matrix, in descending order."""
    return svd(A, full_matrices=False, driver=driver)[1]


def _no_driver(name, driver):
    if driver is not None:
        raise RuntimeError(
            f"linalg.{name}: keyword argument `driver=` is only supported on CUDA inputs with "
            f"cuSOLVER backend (soma runs on the CPU), got driver={driver!r}"
        )


class _SVDResult(tuple):
    """``(U, S, Vh)`` with PyTorch's field names."""

    __slots__ = ()

    def __new__(cls, u, s, vh):
        return super().__new__(cls, (u, s, vh))

    U = property(lambda self: self[0])
    S = property(lambda self: self[1])
    Vh = property(lambda self: self[2])


class QR(Function):
    """(Q, R) with A = Q R, Q with orthonormal columns, R upper triangular (m >= n)."""

    @staticmethod
    def forward(ctx, a):
        q, r = _xp.linalg.qr(a, mode="reduced")
        ctx.save(q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        q, r = ctx.saved
        gq = _xp.zeros_like(q) if gq is None else gq
        gr = _xp.zeros_like(r) if gr is None else gr
        # M = R gRᵀ - gQᵀ Q; gA = (gQ + Q copyltu(M)) R⁻ᵀ, copyltu mirroring the lower triangle
        mm = r @ _t(gr) - _t(gq) @ q
        low = _xp.tril(mm, -1)
        sym = low + _t(low) + _xp.tril(_xp.triu(mm))
        b = gq + q @ sym
        return _t(_xp.linalg.solve(r, _t(b)))  # b R⁻ᵀ


def qr(A, mode="reduced"):
    """The QR decomposition ``A = Q R`` as ``(Q, R)`` (``mode='reduced'``; gradients need
    m >= n)."""
    a = _float(A)
    if a.ndim < 2:
        raise RuntimeError(f"qr: expected (*, m, n) matrices, got shape {shape_str(a.shape)}")
    if mode != "reduced" or a.shape[-2] < a.shape[-1]:
        q, r = _xp.linalg.qr(a.array, mode="complete" if mode == "complete" else "reduced")
        return _QRResult(Tensor._wrap(q), Tensor._wrap(r))
    return _QRResult(*QR.apply(a))


class _QRResult(tuple):
    """``(Q, R)`` with PyTorch's field names."""

    __slots__ = ()

    def __new__(cls, q, r):
        return super().__new__(cls, (q, r))

    Q = property(lambda self: self[0])
    R = property(lambda self: self[1])


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore–Penrose pseudo-inverse ``V diag(1/s) Uᵀ``, singular values below
    ``max(atol, rtol · max(s))`` treated as zero (default rtol: ``max(m, n) · eps``, or 0 when
    a positive ``atol`` is given, as PyTorch)."""
    a = _float(A)
    u, s, vh = svd(a, full_matrices=False)
    atol = 0.0 if atol is None else float(atol)
    if rtol is None:
        rtol = 0.0 if atol > 0 else max(a.shape[-2:]) * float(_xp.finfo(a.array.dtype).eps)
    cutoff = s.array.max(axis=-1, keepdims=True) * rtol if s.array.size else 0.0
    cutoff = _xp.maximum(cutoff, atol)
    keep = s.array > cutoff
    safe = where(Tensor._wrap(keep), s, 1.0)
    inv_s = where(Tensor._wrap(keep), 1.0 / safe, 0.0)
    return (_t_tensor(vh) * inv_s.unsqueeze(-2)) @ _t_tensor(u)


def _t_tensor(x):
    return transpose(x, -1, -2)


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: the pseudo-inverse with relative cutoff ``rcond``."""
    return pinv(input, rtol=rcond)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X minimising ‖A X − B‖ (through the pseudo-inverse), as
    ``(solution, residuals, rank, singular_values)``; only ``solution`` is filled in (the
    others are empty, as PyTorch's default CPU driver leaves them)."""
    a, b = _float(A), _float(B)
    solution = matmul(pinv(a, rtol=rcond), b)
    empty = Tensor._wrap(_xp.zeros((0,), dtype=a.array.dtype))
    rank = Tensor._wrap(_xp.zeros((0,), dtype=_xp.int64))
    return _LstsqResult(solution, empty, rank, empty)


class _LstsqResult(tuple):
    """``(solution, residuals, rank, singular_values)`` with PyTorch's field names."""

    __slots__ = ()

    def __new__(cls, *parts):
        return super().__new__(cls, parts)

    solution = property(lambda self: self[0])
    residuals = property(lambda self: self[1])
    rank = property(lambda self: self[2])
    singular_values = property(lambda self: self[3])


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above ``max(atol, rtol · σ_max)`` (default rtol:
    ``max(m, n) · eps``)."""
    a = _float(A)
    s = _xp.linalg.svd(a.array, compute_uv=False)
    if rtol is None:
        rtol = 0.0 if atol else max(a.shape[-2:]) * float(_xp.finfo(a.array.dtype).eps)
    top = s.max(axis=-1, keepdims=True) if s.size else _xp.zeros(s.shape[:-1] + (1,))
    cutoff = _xp.maximum(atol or 0.0, rtol * top)
    return Tensor._wrap(_xp.asarray((s > cutoff).sum(axis=-1), dtype=_xp.int64))
