"""PyTorch's top-level spellings of things soma has under other names, and its small helpers.

``torch.det``/``inverse``/``slogdet``/``logdet`` are ``torch.linalg``'s functions under older
names; ``torch.svd`` and ``torch.qr`` are the older interfaces (``some=True``, and ``svd``
returns V, not Vᴴ); ``torch.range`` includes its end; the window functions build the tapers
signal code multiplies frames with. Everything here is composed from differentiable ops, so
gradients come from those ops' own backward passes.
"""

import math
import warnings
from collections import namedtuple

from soma.autograd.factory import arange, tensor, zeros
from soma.autograd.tensor import Tensor
from soma.backend import dtypes
from soma.functional import inverse as _inverse
from soma.functional._utils import binary_operands
from soma.functional.decomposition import qr as _linalg_qr
from soma.functional.decomposition import svd as _linalg_svd

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None

_SVD = namedtuple("svd", ["U", "S", "V"])
_QR = namedtuple("qr", ["Q", "R"])


def det(input):
    """det A (``torch.linalg.det``)."""
    return _inverse.det(input)


def inverse(input):
    """A⁻¹ (``torch.linalg.inv``)."""
    return _inverse.inv(input)


def slogdet(input):
    """(sign, log |det A|) (``torch.linalg.slogdet``)."""
    return _inverse.slogdet(input)


def logdet(input):
    """log det A: NaN where the determinant is negative, −inf where it is 0."""
    return _inverse.logdet(input)


def svd(input, some=True, compute_uv=True):
    """A = U diag(S) Vᴴ, returned as (U, S, V) — V itself, not ``linalg.svd``'s Vᴴ.

    ``some=True``: the reduced factors; ``compute_uv=False``: U and V are zero-filled
    (m × m and n × n), as PyTorch returns them.
    """
    u, s, vh = _linalg_svd(input, full_matrices=not some)
    if not compute_uv:
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        u = zeros(*batch, m, m, dtype=input.dtype)
        return _SVD(u, s.detach(), zeros(*batch, n, n, dtype=input.dtype))
    return _SVD(u, s, vh.transpose(-2, -1))


def qr(input, some=True):
    """A = QR; ``some=True`` gives the reduced factors (``linalg.qr``'s ``mode='reduced'``)."""
    q, r = _linalg_qr(input, mode="reduced" if some else "complete")
    return _QR(q, r)


def range(start, end, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    """Values from ``start`` to ``end`` *inclusive* in steps of ``step`` (PyTorch's older
    ``arange``; the default float dtype unless ``dtype`` says otherwise). Deprecated in PyTorch,
    which warns; so does soma."""
    warnings.warn(
        "torch.range is deprecated and will be removed in a future release because its behavior "
        "is inconsistent with Python's range builtin. Instead, use torch.arange, which produces "
        "values in [start, end).",
        UserWarning,
        stacklevel=2,
    )
    count = int(math.floor((end - start) / step)) + 1
    values = arange(count, dtype=dtypes.float64) * step + start
    return values.to(dtype or dtypes.get_default_dtype()).requires_grad_(requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding ``s`` (the default float dtype unless ``dtype`` says otherwise)."""
    return tensor(s, dtype=dtype or dtypes.get_default_dtype(), requires_grad=requires_grad)


# ---------------------------------------------------------------------------- predicates
def is_floating_point(input) -> bool:
    return input.is_floating_point()


def is_nonzero(input) -> bool:
    """The truth of a one-element tensor; more or fewer elements are an error, as in PyTorch."""
    if input.numel() != 1:
        kind = "no values" if input.numel() == 0 else "more than one value"
        raise RuntimeError(f"Boolean value of Tensor with {kind} is ambiguous")
    return bool(input.array.reshape(()))


def is_same_size(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def result_type(tensor1, tensor2):
    """The dtype a binary op gives for these operands (tensors or Python numbers)."""
    a, b = binary_operands(tensor1, tensor2)
    return next(x.dtype for x in (a, b) if isinstance(x, Tensor))


def promote_types(type1, type2):
    """The dtype two tensors of these dtypes promote to."""
    return dtypes.promote_types(dtypes.to_dtype(type1), dtypes.to_dtype(type2))


# ---------------------------------------------------------------------------- windows
def _window(name, window_length, periodic, dtype, taper):
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got {window_length}")
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if window_length <= 1:
        return tensor([1.0] * window_length, dtype=dtype)
    n = window_length + 1 if periodic else window_length
    k = arange(window_length, dtype=dtypes.float64)
    return taper(k, n - 1).to(dtype)


def hann_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """w[k] = ½ − ½ cos(2πk / (N − 1)), N = length (+1 when ``periodic``)."""
    w = _window("hann_window", window_length, periodic, dtype, _cosine_sum(0.5, 0.5, 0.0))
    return w.requires_grad_(requires_grad)


def hamming_window(
    window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, device=None,
    requires_grad=False,
):  # fmt: skip
    """w[k] = α − β cos(2πk / (N − 1))."""
    w = _window("hamming_window", window_length, periodic, dtype, _cosine_sum(alpha, beta, 0.0))
    return w.requires_grad_(requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """w[k] = 0.42 − 0.5 cos(2πk / (N − 1)) + 0.08 cos(4πk / (N − 1))."""
    w = _window("blackman_window", window_length, periodic, dtype, _cosine_sum(0.42, 0.5, 0.08))
    return w.requires_grad_(requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """w[k] = 1 − |2k / (N − 1) − 1| (a triangle)."""

    def triangle(k, span):
        return 1 - (2 * k / span - 1).abs()

    w = _window("bartlett_window", window_length, periodic, dtype, triangle)
    return w.requires_grad_(requires_grad)


def _cosine_sum(a0, a1, a2):
    def taper(k, span):
        phase = k * (2 * math.pi / span)
        return a0 - a1 * phase.cos() + a2 * (2 * phase).cos()

    return taper


__all__ = [
    "bartlett_window",
    "blackman_window",
    "det",
    "e",
    "hamming_window",
    "hann_window",
    "inf",
    "inverse",
    "is_floating_point",
    "is_nonzero",
    "is_same_size",
    "logdet",
    "nan",
    "newaxis",
    "pi",
    "promote_types",
    "qr",
    "range",
    "result_type",
    "scalar_tensor",
    "slogdet",
    "svd",
]
