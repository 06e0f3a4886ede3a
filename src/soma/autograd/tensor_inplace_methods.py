"""The in-place ``_`` forms PyTorch has for the operations of ``tensor_ops_methods.py`` (issue 11
§3), shape changes in place, and the random fills: each computes the out-of-place result and
takes its place with ``_assign`` (a write into the tensor's memory, or a rebinding in the graph).
"""

from functools import partial

from soma import backend

_xp = backend.get_xp()


class TensorInplaceMethods:
    """In-place math, indexing and matrix methods; in-place shape changes; random fills."""

    __slots__ = ()

    # in-place forms: compute out of place, then take the result's place (``_assign``)
    def tan_(self):
        return self._assign(_F.tan(self))

    def asin_(self):
        return self._assign(_F.asin(self))

    def acos_(self):
        return self._assign(_F.acos(self))

    def atan_(self):
        return self._assign(_F.atan(self))

    def atan2_(self, other):
        return self._assign(_F.atan2(self, other))

    def sinh_(self):
        return self._assign(_F.sinh(self))

    def cosh_(self):
        return self._assign(_F.cosh(self))

    def asinh_(self):
        return self._assign(_F.asinh(self))

    def acosh_(self):
        return self._assign(_F.acosh(self))

    def atanh_(self):
        return self._assign(_F.atanh(self))

    arcsin_, arccos_, arctan_, arctan2_ = asin_, acos_, atan_, atan2_
    arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_

    def sin_(self):
        return self._assign(_F.sin(self))

    def cos_(self):
        return self._assign(_F.cos(self))

    def deg2rad_(self):
        return self._assign(_F.deg2rad(self))

    def rad2deg_(self):
        return self._assign(_F.rad2deg(self))

    def log_(self):
        return self._assign(_F.log(self))

    def log1p_(self):
        return self._assign(_F.log1p(self))

    def log2_(self):
        return self._assign(_F.log2(self))

    def log10_(self):
        return self._assign(_F.log10(self))

    def expm1_(self):
        return self._assign(_F.expm1(self))

    def exp2_(self):
        return self._assign(_F.exp2(self))

    def erf_(self):
        return self._assign(_F.erf(self))

    def erfc_(self):
        return self._assign(_F.erfc(self))

    def erfinv_(self):
        return self._assign(_F.erfinv(self))

    def logit_(self, eps=None):
        return self._assign(_F.logit(self, eps))

    def lgamma_(self):
        return self._assign(_F.lgamma(self))

    def digamma_(self):
        return self._assign(_F.digamma(self))

    def polygamma_(self, n):
        return self._assign(_F.polygamma(n, self))

    def mvlgamma_(self, p):
        return self._assign(_F.mvlgamma(self, p))

    def sinc_(self):
        return self._assign(_F.sinc(self))

    def xlogy_(self, other):
        return self._assign(_F.xlogy(self, other))

    def floor_(self):
        return self._assign(_F.floor(self))

    def ceil_(self):
        return self._assign(_F.ceil(self))

    def round_(self, decimals=0):
        return self._assign(_F.round(self, decimals=decimals))

    def trunc_(self):
        return self._assign(_F.trunc(self))

    fix_ = trunc_

    def frac_(self):
        return self._assign(_F.frac(self))

    def sign_(self):
        return self._assign(_F.sign(self))

    def reciprocal_(self):
        return self._assign(_F.reciprocal(self))

    def square_(self):
        return self._assign(_F.square(self))

    def rsqrt_(self):
        return self._assign(_F.rsqrt(self))

    def fmod_(self, other):
        return self._assign(_F.fmod(self, other))

    def remainder_(self, other):
        return self._assign(_F.remainder(self, other))

    def copysign_(self, other):
        return self._assign(_F.copysign(self, other))

    def hypot_(self, other):
        return self._assign(_F.hypot(self, other))

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self._assign(_F.nan_to_num(self, nan, posinf, neginf))

    def clamp_min_(self, min):
        return self._assign(_F.clamp(self, min, None))

    def clamp_max_(self, max):
        return self._assign(_F.clamp(self, None, max))

    def cumsum_(self, dim):
        return self._assign(_F.cumsum(self, dim))

    def cumprod_(self, dim):
        return self._assign(_F.cumprod(self, dim))

    def tril_(self, diagonal=0):
        return self._assign(_F.tril(self, diagonal))

    def triu_(self, diagonal=0):
        return self._assign(_F.triu(self, diagonal))

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return self._assign(_F.scatter(self, dim, index, src, value=value, reduce=reduce))

    def scatter_add_(self, dim, index, src):
        return self._assign(_F.scatter_add(self, dim, index, src))

    def scatter_reduce_(self, dim, index, src, reduce, include_self=True):
        return self._assign(
            _F.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
        )

    def index_add_(self, dim, index, source, alpha=1):
        return self._assign(_F.index_add(self, dim, index, source, alpha=alpha))

    def index_copy_(self, dim, index, source):
        return self._assign(_F.index_copy(self, dim, index, source))

    def index_fill_(self, dim, index, value):
        return self._assign(_F.index_fill(self, dim, index, value))

    def masked_scatter_(self, mask, source):
        return self._assign(_F.masked_scatter(self, mask, source))

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return self._assign(_F.addmm(self, mat1, mat2, beta=beta, alpha=alpha))

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        return self._assign(_F.addmv(self, mat, vec, beta=beta, alpha=alpha))

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        return self._assign(_F.addr(self, vec1, vec2, beta=beta, alpha=alpha))

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return self._assign(_F.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha))

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return self._assign(_F.addbmm(self, batch1, batch2, beta=beta, alpha=alpha))

    def float_power_(self, exponent):
        return self._assign(_F.float_power(self, exponent))

    def eq_(self, other):
        return self._assign(_F.eq(self, other))

    def ne_(self, other):
        return self._assign(_F.ne(self, other))

    def lt_(self, other):
        return self._assign(_F.lt(self, other))

    def le_(self, other):
        return self._assign(_F.le(self, other))

    def gt_(self, other):
        return self._assign(_F.gt(self, other))

    def ge_(self, other):
        return self._assign(_F.ge(self, other))

    greater_, greater_equal_, less_, less_equal_, not_equal_ = gt_, ge_, lt_, le_, ne_

    def logical_and_(self, other):
        return self._assign(_F.logical_and(self, other))

    def logical_or_(self, other):
        return self._assign(_F.logical_or(self, other))

    def logical_xor_(self, other):
        return self._assign(_F.logical_xor(self, other))

    def logical_not_(self):
        return self._assign(_F.logical_not(self))

    # more in-place forms
    def index_put_(self, indices, values, accumulate=False):
        return self._assign(_F.index_put(self, indices, values, accumulate))

    def put_(self, index, source, accumulate=False):
        return self._assign(_F.put(self, index, source, accumulate))

    def renorm_(self, p, dim, maxnorm):
        return self._assign(_F.renorm(self, p, dim, maxnorm))

    def heaviside_(self, values):
        return self._assign(_F.heaviside(self, values))

    def sgn_(self):
        return self._assign(_F.sgn(self))

    def gcd_(self, other):
        return self._assign(_F.gcd(self, other))

    def lcm_(self, other):
        return self._assign(_F.lcm(self, other))

    def ldexp_(self, other):
        return self._assign(_F.ldexp(self, other))

    def absolute_(self):
        return self._assign(_F.abs(self))

    def negative_(self):
        return self._assign(_F.neg(self))

    def multiply_(self, other):
        return self._assign(_F.mul(self, other))

    def divide_(self, other):
        return self._assign(_F.div(self, other))

    true_divide_ = divide_

    def subtract_(self, other, alpha=1):
        return self._assign(_F.sub(self, other, alpha=alpha))

    def floor_divide_(self, other):
        return self._assign(_F.floor_divide(self, other))

    def fill_diagonal_(self, fill_value, wrap=False):
        a = self.array
        if a.ndim < 2 or (a.ndim > 2 and len(set(a.shape)) != 1):
            raise RuntimeError(
                f"fill_diagonal_: expected a matrix or a tensor with all dimensions equal, "
                f"got shape {tuple(a.shape)}"
            )
        mask = _xp.zeros(a.shape, dtype=bool)
        _xp.fill_diagonal(mask, True, wrap=wrap)
        return self._assign(_F.where(self._wrap(mask), fill_value, self))

    # shape changes in place: the tensor takes the new shape (a rebinding, as for view ops)
    def squeeze_(self, dim=None):
        return self._assign_shape(_F.squeeze(self, dim))

    def unsqueeze_(self, dim):
        return self._assign_shape(_F.unsqueeze(self, dim))

    def transpose_(self, dim0, dim1):
        return self._assign_shape(_F.transpose(self, dim0, dim1))

    swapaxes_ = swapdims_ = transpose_

    def t_(self):
        return self._assign_shape(self.t())

    def _assign_shape(self, result):
        """Take ``result``'s shape and values (and its place in the graph)."""
        if result.requires_grad:
            if result.array.shape == self.array.shape:
                return self._assign(result)
            from soma.autograd import inplace  # NOTE: lazy: inplace.py imports tensor.py

            return inplace.assign(self, result, rebind=True)
        self.array = result.array
        return self

    # random fills (no graph, like uniform_ and normal_)
    def random_(self, from_=0, to=None, *, generator=None):
        """Integers drawn uniformly from [from_, to) (``random_(n)``: from [0, n); with no
        bounds, [0, max + 1) of an integer dtype, [0, 2^mantissa] of a float one)."""
        dtype = self.array.dtype
        if to is None and not from_:
            return self._draw_fill(generator, "bits", dtype=dtype)
        low, high = (0, from_) if to is None else (from_, to)
        backend.random.check_range(low, high)
        return self._draw_fill(generator, "integers", low=low, high=high, dtype=dtype)

    def geometric_(self, p, *, generator=None):
        """Fill with geometric draws (trials until a success of probability p)."""
        return self._draw_fill(generator, "geometric", p=p)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with exp(N(mean, std²)) draws."""
        return self._draw_fill(generator, "log_normal", mean=mean, std=std)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        """Fill with Cauchy(median, sigma) draws."""
        return self._draw_fill(generator, "cauchy", median=median, sigma=sigma)

    def _draw_fill(self, generator, distribution, **parameters):
        """Fill from PyTorch's stream (``backend/mersenne.py``): its numbers for the same seed,
        computed in float64 and rounded to the dtype, in memory order."""
        draw = partial(getattr(backend.random.stream(generator), distribution), **parameters)
        return self._fill_with(backend.random.filled(self.array, draw))


# NOTE: bound by ``tensor.py`` once ``Tensor`` exists (see ``tensor_methods.py``).
_F = None
