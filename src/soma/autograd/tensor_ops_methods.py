"""Tensor methods of the operations added for PyTorch parity (issue 11 §3): trigonometric and
special functions, cumulative ops and order statistics, scatter / index_* / masks, matrices and
windows, products, statistics, and the in-place ``_`` forms PyTorch has for them.

Each is a one-line call into ``soma.functional`` (in-place forms assign the out-of-place result
back with ``_assign``), like the core table in ``tensor_methods.py``; ``Tensor`` inherits both.
"""

from soma import backend
from soma.autograd.size import dims_of

_xp = backend.get_xp()


class TensorOpsMethods:
    """Math, indexing, matrix and statistics methods, and their in-place forms."""

    __slots__ = ()

    # ------------------------------------------------------------------ element-wise math
    def tan(self):
        return _F.tan(self)

    def asin(self):
        return _F.asin(self)

    def acos(self):
        return _F.acos(self)

    def atan(self):
        return _F.atan(self)

    def atan2(self, other):
        return _F.atan2(self, other)

    def sinh(self):
        return _F.sinh(self)

    def cosh(self):
        return _F.cosh(self)

    def asinh(self):
        return _F.asinh(self)

    def acosh(self):
        return _F.acosh(self)

    def atanh(self):
        return _F.atanh(self)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def deg2rad(self):
        return _F.deg2rad(self)

    def rad2deg(self):
        return _F.rad2deg(self)

    def erf(self):
        return _F.erf(self)

    def erfc(self):
        return _F.erfc(self)

    def erfinv(self):
        return _F.erfinv(self)

    def exp2(self):
        return _F.exp2(self)

    def log10(self):
        return _F.log10(self)

    def logaddexp(self, other):
        return _F.logaddexp(self, other)

    def logaddexp2(self, other):
        return _F.logaddexp2(self, other)

    def logit(self, eps=None):
        return _F.logit(self, eps)

    def sinc(self):
        return _F.sinc(self)

    def lgamma(self):
        return _F.lgamma(self)

    def digamma(self):
        return _F.digamma(self)

    def polygamma(self, n):
        return _F.polygamma(n, self)

    def mvlgamma(self, p):
        return _F.mvlgamma(self, p)

    def xlogy(self, other):
        return _F.xlogy(self, other)

    def trunc(self):
        return _F.trunc(self)

    fix = trunc

    def frac(self):
        return _F.frac(self)

    def copysign(self, other):
        return _F.copysign(self, other)

    def hypot(self, other):
        return _F.hypot(self, other)

    def fmax(self, other):
        return _F.fmax(self, other)

    def fmin(self, other):
        return _F.fmin(self, other)

    def float_power(self, exponent):
        return _F.float_power(self, exponent)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _F.nan_to_num(self, nan, posinf, neginf)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _F.isclose(self, other, rtol, atol, equal_nan)

    def signbit(self):
        return _F.signbit(self)

    def addcmul(self, tensor1, tensor2, value=1):
        return _F.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, value=1):
        return _F.addcdiv(self, tensor1, tensor2, value=value)

    def fmod(self, other):
        return _F.fmod(self, other)

    def remainder(self, other):
        return _F.remainder(self, other)

    def floor_divide(self, other):
        return _F.floor_divide(self, other)

    def true_divide(self, other):
        return _F.div(self, other)

    def divide(self, other, *, rounding_mode=None):
        return _F.div(self, other, rounding_mode=rounding_mode)

    def multiply(self, other):
        return _F.mul(self, other)

    def subtract(self, other, *, alpha=1):
        return _F.sub(self, other, alpha=alpha)

    def negative(self):
        return _F.neg(self)

    def absolute(self):
        return _F.abs(self)

    def positive(self):
        return self

    def logical_and(self, other):
        return _F.logical_and(self, other)

    def logical_or(self, other):
        return _F.logical_or(self, other)

    def logical_xor(self, other):
        return _F.logical_xor(self, other)

    def logical_not(self):
        return _F.logical_not(self)

    def greater(self, other):
        return _F.gt(self, other)

    def greater_equal(self, other):
        return _F.ge(self, other)

    def less(self, other):
        return _F.lt(self, other)

    def less_equal(self, other):
        return _F.le(self, other)

    def not_equal(self, other):
        return _F.ne(self, other)

    # cumulative, order statistics and counting
    def cumprod(self, dim, dtype=None):
        return _F.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim):
        return _F.cummax(self, dim)

    def cummin(self, dim):
        return _F.cummin(self, dim)

    def logcumsumexp(self, dim):
        return _F.logcumsumexp(self, dim)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return _F.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return _F.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim=False):
        return _F.nanmedian(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return _F.mode(self, dim, keepdim)

    def msort(self):
        return _F.msort(self)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _F.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return _F.unique_consecutive(self, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return _F.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        return _F.histc(self, bins, min, max)

    def aminmax(self, *, dim=None, keepdim=False):
        return _F.aminmax(self, dim=dim, keepdim=keepdim)

    def count_nonzero(self, dim=None):
        return _F.count_nonzero(self, dim)

    def nansum(self, dim=None, keepdim=False, dtype=None):
        return _F.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim=False, dtype=None):
        return _F.nanmean(self, dim, keepdim, dtype=dtype)

    def argwhere(self):
        return _F.nonzero(self)

    # scatter, index_* and masks (out of place; the in-place forms are below)
    def scatter(self, dim, index, src=None, value=None, reduce=None):
        return _F.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_reduce(self, dim, index, src, reduce, include_self=True):
        return _F.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_add(self, dim, index, source, alpha=1):
        return _F.index_add(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim, index, source):
        return _F.index_copy(self, dim, index, source)

    def index_fill(self, dim, index, value):
        return _F.index_fill(self, dim, index, value)

    def masked_scatter(self, mask, source):
        return _F.masked_scatter(self, mask, source)

    def masked_select(self, mask):
        return _F.masked_select(self, mask)

    def take(self, index):
        return _F.take(self, index)

    def take_along_dim(self, indices, dim=None):
        return _F.take_along_dim(self, indices, dim)

    # matrices, windows and products
    def tril(self, diagonal=0):
        return _F.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _F.triu(self, diagonal)

    def diag(self, diagonal=0):
        return _F.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _F.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return _F.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset=0):
        return _F.diagflat(self, offset)

    def trace(self):
        return _F.trace(self)

    def rot90(self, k=1, dims=(0, 1)):
        return _F.rot90(self, k, dims)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return _F.repeat_interleave(self, repeats, dim, output_size=output_size)

    def unfold(self, dimension, size, step):
        # NOTE: not F.unfold (that is im2col, PyTorch's nn.functional.unfold)
        return _F.matrix.unfold(self, dimension, size, step)

    def movedim(self, source, destination):
        return _F.movedim(self, source, destination)

    moveaxis = movedim

    def outer(self, other):
        return _F.outer(self, other)

    ger = outer

    def inner(self, other):
        return _F.inner(self, other)

    def kron(self, other):
        return _F.kron(self, other)

    def mv(self, vec):
        return _F.mv(self, vec)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _F.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return _F.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return _F.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _F.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _F.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # arranging, statistics and more element-wise helpers
    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return _F.diff(self, n, dim, prepend, append)

    def cross(self, other, dim=None):
        return _F.cross(self, other, dim)

    def cov(self, *, correction=1, fweights=None, aweights=None):
        return _F.cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self):
        return _F.corrcoef(self)

    def dist(self, other, p=2):
        return _F.dist(self, other, p)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return _F.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return _F.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        return _F.histogram(self, bins, range=range, weight=weight, density=density)

    def renorm(self, p, dim, maxnorm):
        return _F.renorm(self, p, dim, maxnorm)

    def heaviside(self, values):
        return _F.heaviside(self, values)

    def isposinf(self):
        return _F.isposinf(self)

    def isneginf(self):
        return _F.isneginf(self)

    def isreal(self):
        return _F.isreal(self)

    def sgn(self):
        return _F.sgn(self)

    def gcd(self, other):
        return _F.gcd(self, other)

    def lcm(self, other):
        return _F.lcm(self, other)

    def ldexp(self, other):
        return _F.ldexp(self, other)

    def hardshrink(self, lambd=0.5):
        return _F.hardshrink(self, lambd)

    def prelu(self, weight):
        return _F.prelu(self, weight)

    def vdot(self, other):
        return _F.vdot(self, other)

    def pinverse(self, rcond=1e-15):
        return _F.decomposition.pinverse(self, rcond)

    def matrix_power(self, n):
        return _F.matrix_power(self, n)

    def ravel(self):
        return _F.ravel(self)

    def select(self, dim, index):
        return _F.select(self, dim, index)

    def tensor_split(self, indices_or_sections, dim=0):
        return _F.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, sections):
        return _F.hsplit(self, sections)

    def vsplit(self, sections):
        return _F.vsplit(self, sections)

    def dsplit(self, sections):
        return _F.dsplit(self, sections)

    def tile(self, *dims):
        return _F.tile(self, dims_of(dims))

    def swapdims(self, dim0, dim1):
        return _F.transpose(self, dim0, dim1)

    def fliplr(self):
        return _F.fliplr(self)

    def flipud(self):
        return _F.flipud(self)

    def sum_to_size(self, *size):
        shape = dims_of(size)
        lead = self.array.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and self.array.shape[lead + i] != 1
        )
        out = _F.sum(self, axes, keepdim=True) if axes else self
        return _F.reshape(out, shape)

    def select_scatter(self, src, dim, index):
        return _F.select_scatter(self, src, dim, index)

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        return _F.slice_scatter(self, src, dim, start, end, step)

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        return _F.diagonal_scatter(self, src, offset, dim1, dim2)

    def index_put(self, indices, values, accumulate=False):
        return _F.index_put(self, indices, values, accumulate)

    def put(self, index, source, accumulate=False):
        return _F.put(self, index, source, accumulate)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        # lazy: soma.autograd.factory imports tensor.py, which imports this module at load time
        from soma.autograd.factory import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)

    # NOTE: bound by ``tensor.py`` once ``Tensor`` exists (see ``tensor_methods.py``).

    # ------------------------------------------------------------------ PyTorch's older names
    def det(self):
        return _F.torch_spellings.det(self)

    def inverse(self):
        return _F.torch_spellings.inverse(self)

    def slogdet(self):
        return _F.torch_spellings.slogdet(self)

    def logdet(self):
        return _F.torch_spellings.logdet(self)

    def svd(self, some=True, compute_uv=True):
        return _F.torch_spellings.svd(self, some, compute_uv)

    def qr(self, some=True):
        return _F.torch_spellings.qr(self, some)

    def is_nonzero(self):
        return _F.torch_spellings.is_nonzero(self)

    def is_same_size(self, other):
        return _F.torch_spellings.is_same_size(self, other)


_F = None
