"""Linear systems and determinants of (batches of) square matrices: solve, inv, det, slogdet,
logdet. The kernels call NumPy's LAPACK-backed ``linalg``; each gradient is written with the
inverse (or a second solve), as in PyTorch's derivatives.
"""

from soma.autograd.function import Function
from soma.autograd.size import MinMax
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.functional._utils import shape_str, unbroadcast
from soma.functional.elementwise import where
from soma.functional.shape import squeeze, transpose, unsqueeze
from soma.functional.unary import _float

_xp = get_xp()


def _square(a, op):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{op}: expected (*, n, n) square matrices, got shape {shape_str(a.shape)}"
        )


def _t(a):
    return _xp.swapaxes(a, -1, -2)


class Solve(Function):
    """X = A⁻¹ B for (*, n, n) A and (*, n, k) B."""

    @staticmethod
    def forward(ctx, a, b):
        x = _xp.linalg.solve(a, b)
        ctx.save(a, x)
        ctx.shapes = (a.shape, b.shape)
        return x

    @staticmethod
    def backward(ctx, gx):
        a, x = ctx.saved
        # dL/dB = A⁻ᵀ gX,  dL/dA = -dL/dB Xᵀ
        gb = _xp.linalg.solve(_t(a), gx)
        ga = unbroadcast(-gb @ _t(x), ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        return ga, unbroadcast(gb, ctx.shapes[1]) if ctx.needs_input_grad[1] else None


def solve(A, B, *, left=True):
    """The solution X of ``A X = B`` (``left=False``: of ``X A = B``); B may be a vector."""
    a, b = _float(A), _float(B)
    _square(a, "solve")
    if not left:
        return transpose(solve(transpose(a, -1, -2), transpose(b, -1, -2)), -1, -2)
    if b.ndim == a.ndim - 1:  # a batch of vectors
        return squeeze(Solve.apply(a, unsqueeze(b, -1)), -1)
    return Solve.apply(a, b)


class Inverse(Function):
    """Y = A⁻¹."""

    @staticmethod
    def forward(ctx, a):
        y = _xp.linalg.inv(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved
        return -_t(y) @ gy @ _t(y)  # dL/dA = -A⁻ᵀ gY A⁻ᵀ


def inv(A):
    """The inverse of each square matrix (LinAlgError where one is singular)."""
    a = _float(A)
    _square(a, "inv")
    return Inverse.apply(a)


class Det(Function):
    """y = det A."""

    @staticmethod
    def forward(ctx, a):
        y = _xp.linalg.det(a)
        ctx.save(a, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved
        # d det A / dA = det(A) A⁻ᵀ (the adjugate, written without the inverse where det = 0)
        adj = _adjugate_t(a, y)
        return _xp.expand_dims(_xp.expand_dims(gy, -1), -1) * adj


def _adjugate_t(a, det):
    """det(A) A⁻ᵀ, the transposed adjugate, also for singular A (through the SVD)."""
    u, s, vt = _xp.linalg.svd(a)
    # adj(A)ᵀ = det(U) det(V) U diag(Π_{j≠i} s_j) Vᵀ
    n = s.shape[-1]
    prods = _xp.stack([_xp.prod(_xp.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
    sign = _xp.linalg.det(u) * _xp.linalg.det(vt)
    return (u * prods[..., None, :]) @ vt * sign[..., None, None]


def det(A):
    """The determinant of each square matrix."""
    a = _float(A)
    _square(a, "det")
    return Det.apply(a)


class LogAbsDet(Function):
    """y = ln |det A| (the sign is returned separately and carries no gradient)."""

    @staticmethod
    def forward(ctx, a):
        sign, y = _xp.linalg.slogdet(a)
        ctx.save(a)
        ctx.sign = sign
        return y

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved
        return _xp.expand_dims(_xp.expand_dims(gy, -1), -1) * _t(_xp.linalg.inv(a))  # A⁻ᵀ


def slogdet(A):
    """``(sign, log|det|)`` of each square matrix, as a named pair."""
    a = _float(A)
    _square(a, "slogdet")
    logabs = LogAbsDet.apply(a)
    sign = Tensor._wrap(_xp.asarray(_xp.linalg.slogdet(a.array)[0], dtype=a.array.dtype))
    return _SignLogAbsDet(sign, logabs)


def logdet(A):
    """``log det A`` (NaN where the determinant is negative, -inf where it is 0)."""
    sign, logabs = slogdet(A)
    return where(sign.array < 0, float("nan"), logabs)


class _SignLogAbsDet(MinMax):
    """A (sign, logabsdet) pair; ``values``/``indices`` are MinMax's names, kept for unpacking."""

    __slots__ = ()

    @property
    def sign(self):
        return self[0]

    @property
    def logabsdet(self):
        return self[1]
