"""The method table of ``Tensor``: operators and math methods, each a one-line call into
``soma.functional``, where the operation's forward and backward live side by side.

``Tensor`` (in ``tensor.py``) inherits these; the core there holds storage, gradient, dtype and
device, conversion and ``backward``. Calling into ``functional`` from here is the one deliberate
upward dependency in the tree (see ``docs/DEVELOPING.md``).
"""

from soma import backend
from soma.autograd.errors import ShapeError
from soma.autograd.size import Size, dims_of
from soma.backend import dtypes

_xp = backend.get_xp()


class TensorMethods:
    """Operators, math, reductions, linear algebra, shape and in-place arithmetic methods."""

    __slots__ = ()

    # ------------------------------------------------------------------ arithmetic operators
    def __add__(self, other):
        return _F.add(self, other)

    def __radd__(self, other):
        return _F.add(other, self)

    def __sub__(self, other):
        return _F.sub(self, other)

    def __rsub__(self, other):
        return _F.sub(other, self)

    def __mul__(self, other):
        return _F.mul(self, other)

    def __rmul__(self, other):
        return _F.mul(other, self)

    def __truediv__(self, other):
        return _F.div(self, other)

    def __rtruediv__(self, other):
        return _F.div(other, self)

    def __floordiv__(self, other):
        return _F.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _F.floor_divide(other, self)

    def __mod__(self, other):
        return _F.remainder(self, other)

    def remainder(self, other):
        return _F.remainder(self, other)

    def fmod(self, other):
        return _F.fmod(self, other)

    def __pow__(self, other):
        return _F.pow(self, other)

    def __rpow__(self, other):
        return _F.pow(other, self)

    def __matmul__(self, other):
        return _F.matmul(self, other)

    def __rmatmul__(self, other):
        return _F.matmul(other, self)

    def __neg__(self):
        return _F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _F.abs(self)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # comparisons and logic give bool tensors and carry no gradient
    def __eq__(self, other):
        return _F.eq(self, other)

    def __ne__(self, other):
        return _F.ne(self, other)

    def __lt__(self, other):
        return _F.lt(self, other)

    def __le__(self, other):
        return _F.le(self, other)

    def __gt__(self, other):
        return _F.gt(self, other)

    def __ge__(self, other):
        return _F.ge(self, other)

    def __and__(self, other):
        return _F.bitwise_and(self, other)

    def __rand__(self, other):
        return _F.bitwise_and(other, self)

    def __iand__(self, other):
        return self._assign(_F.bitwise_and(self, other))

    def __or__(self, other):
        return _F.bitwise_or(self, other)

    def __ror__(self, other):
        return _F.bitwise_or(other, self)

    def __ior__(self, other):
        return self._assign(_F.bitwise_or(self, other))

    def __xor__(self, other):
        return _F.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _F.bitwise_xor(other, self)

    def __ixor__(self, other):
        return self._assign(_F.bitwise_xor(self, other))

    def __invert__(self):
        return _F.bitwise_not(self)

    def __lshift__(self, other):
        return _F.bitwise_left_shift(self, other)

    def __rlshift__(self, other):
        return _F.bitwise_left_shift(other, self)

    def __ilshift__(self, other):
        return self._assign(_F.bitwise_left_shift(self, other))

    def __rshift__(self, other):
        return _F.bitwise_right_shift(self, other)

    def __rrshift__(self, other):
        return _F.bitwise_right_shift(other, self)

    def __irshift__(self, other):
        return self._assign(_F.bitwise_right_shift(self, other))

    def bitwise_and(self, other):
        return _F.bitwise_and(self, other)

    def bitwise_or(self, other):
        return _F.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return _F.bitwise_xor(self, other)

    def bitwise_not(self):
        return _F.bitwise_not(self)

    def bitwise_left_shift(self, other):
        return _F.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other):
        return _F.bitwise_right_shift(self, other)

    def bitwise_and_(self, other):
        return self._assign(_F.bitwise_and(self, other))

    def bitwise_or_(self, other):
        return self._assign(_F.bitwise_or(self, other))

    def bitwise_xor_(self, other):
        return self._assign(_F.bitwise_xor(self, other))

    def bitwise_not_(self):
        return self._assign(_F.bitwise_not(self))

    def __getitem__(self, index):
        return _F.getitem(self, index)

    def __setitem__(self, index, value):
        _F.setitem_(self, index, value)

    # ------------------------------------------------------------------ math methods
    def add(self, other, alpha=1):
        return _F.add(self, other, alpha=alpha)

    def sub(self, other, alpha=1):
        return _F.sub(self, other, alpha=alpha)

    def mul(self, other):
        return _F.mul(self, other)

    def div(self, other, rounding_mode=None):
        return _F.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        return _F.pow(self, exponent)

    def neg(self):
        return _F.neg(self)

    def exp(self):
        return _F.exp(self)

    def expm1(self):
        return _F.expm1(self)

    def log(self):
        return _F.log(self)

    def log1p(self):
        return _F.log1p(self)

    def log2(self):
        return _F.log2(self)

    def sqrt(self):
        return _F.sqrt(self)

    def rsqrt(self):
        return _F.rsqrt(self)

    def square(self):
        return _F.square(self)

    def reciprocal(self):
        return _F.reciprocal(self)

    def abs(self):
        return _F.abs(self)

    def sign(self):
        return _F.sign(self)

    def floor(self):
        return _F.floor(self)

    def ceil(self):
        return _F.ceil(self)

    def round(self, decimals=0):
        return _F.round(self, decimals=decimals)

    def sin(self):
        return _F.sin(self)

    def cos(self):
        return _F.cos(self)

    def tanh(self):
        return _F.tanh(self)

    def sigmoid(self):
        return _F.sigmoid(self)

    def relu(self):
        return _F.relu(self)

    def softmax(self, dim):
        return _F.softmax(self, dim)

    def log_softmax(self, dim):
        return _F.log_softmax(self, dim)

    def clamp(self, min=None, max=None):
        return _F.clamp(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return _F.clamp(self, min, None)

    def clamp_max(self, max):
        return _F.clamp(self, None, max)

    def maximum(self, other):
        return _F.maximum(self, other)

    def minimum(self, other):
        return _F.minimum(self, other)

    def where(self, condition, other):
        return _F.where(condition, self, other)

    def masked_fill(self, mask, value):
        return _F.masked_fill(self, mask, value)

    def lerp(self, end, weight):
        return _F.add(self, _F.mul(_F.sub(end, self), weight))

    def eq(self, other):
        return _F.eq(self, other)

    def ne(self, other):
        return _F.ne(self, other)

    def lt(self, other):
        return _F.lt(self, other)

    def le(self, other):
        return _F.le(self, other)

    def gt(self, other):
        return _F.gt(self, other)

    def ge(self, other):
        return _F.ge(self, other)

    def isnan(self):
        return _F.isnan(self)

    def isinf(self):
        return _F.isinf(self)

    def isfinite(self):
        return _F.isfinite(self)

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool((self.array == other.array).all())

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        return bool(
            _xp.allclose(self.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan)
        )

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        return _F.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, dtype=None):
        return _F.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, dtype=None):
        return _F.prod(self, dim, keepdim, dtype=dtype)

    def max(self, dim=None, keepdim=False):
        return _F.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _F.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return _F.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return _F.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _F.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _F.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _F.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _F.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim, keepdim=False):
        return _F.logsumexp(self, dim, keepdim)

    def norm(self, p=2, dim=None, keepdim=False, dtype=None):
        return _F.norm(self, p, dim, keepdim, dtype=dtype)

    def cumsum(self, dim):
        return _F.cumsum(self, dim)

    def all(self, dim=None, keepdim=False):
        return _F.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _F.any(self, dim, keepdim)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _F.topk(self, k, dim, largest, sorted)

    def sort(self, dim=-1, descending=False, *, stable=False):
        return _F.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return _F.argsort(self, dim, descending, stable=stable)

    # ------------------------------------------------------------------ linear algebra
    def matmul(self, other):
        return _F.matmul(self, other)

    def mm(self, other):
        return _F.mm(self, other)

    def bmm(self, other):
        return _F.bmm(self, other)

    def dot(self, other):
        return _F.dot(self, other)

    @property
    def T(self):
        return _F.permute(self, tuple(range(self.array.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return _F.transpose(self, -2, -1)

    def t(self):
        if self.array.ndim > 2:
            raise ShapeError(
                f"t() expects a tensor of at most 2 dimensions, got {self.array.ndim}"
            )
        return _F.t(self) if self.array.ndim == 2 else self.T

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return _F.reshape(self, dims_of(shape))

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, Size)):
            return self._view_dtype(shape[0])
        return _same_memory(self, _F.reshape(self, dims_of(shape)), "view")

    def _view_dtype(self, dtype):
        """``view(dtype)``: the same bytes read as another dtype (no gradient), as PyTorch."""
        # lazy: soma.autograd.tensor imports this module at load time (function.py imports tensor)
        from soma.autograd.function import mark_viewed
        from soma.autograd.tensor import Tensor

        dtype = dtypes.to_dtype(dtype)
        array = self.array
        if dtype.itemsize != array.dtype.itemsize and (
            array.ndim == 0 or array.strides[-1] != array.itemsize
        ):
            raise RuntimeError(
                f"view(dtype): to view a {array.dtype} tensor of shape {tuple(array.shape)} as "
                f"{dtype} (another element size), its last dimension must be contiguous and "
                f"the tensor at least 1-d"
            )
        try:
            out = array.view(dtype)
        except ValueError as e:
            raise RuntimeError(f"view(dtype): {e} (shape {tuple(array.shape)})") from None
        t = Tensor._wrap(out)
        base = self._base if getattr(self, "_base", None) is not None else self
        mark_viewed(base)
        t._base, t._vc = base, base._vc
        return t

    def view_as(self, other):
        return _same_memory(self, _F.reshape(self, other.shape), "view_as")

    def reshape_as(self, other):
        return _F.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _F.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return _F.unflatten(self, dim, sizes)

    def transpose(self, dim0, dim1):
        return _F.transpose(self, dim0, dim1)

    swapaxes = transpose

    def permute(self, *dims):
        return _F.permute(self, dims_of(dims))

    def squeeze(self, dim=None):
        return _F.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _F.unsqueeze(self, dim)

    def expand(self, *sizes):
        return _F.expand(self, dims_of(sizes))

    def expand_as(self, other):
        return _F.expand(self, other.shape)

    def broadcast_to(self, shape):
        return _F.expand(self, tuple(shape))

    def repeat(self, *sizes):
        return _F.repeat(self, dims_of(sizes))

    def flip(self, *dims):
        return _F.flip(self, dims_of(dims))

    def roll(self, shifts, dims=None):
        return _F.roll(self, shifts, dims)

    def split(self, split_size_or_sections, dim=0):
        return _F.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _F.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return _F.unbind(self, dim)

    def narrow(self, dim, start, length):
        return _F.narrow(self, dim, start, length)

    def gather(self, dim, index):
        return _F.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return _F.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return _F.index_select(self, dim, index)

    def nonzero(self, as_tuple=False):
        return _F.nonzero(self, as_tuple)

    # ------------------------------------------------------------------ in-place arithmetic
    def add_(self, other, alpha=1):
        return self._assign(self.add(other, alpha=alpha))

    def sub_(self, other, alpha=1):
        return self._assign(self.sub(other, alpha=alpha))

    def mul_(self, other):
        return self._assign(_F.mul(self, other))

    def div_(self, other):
        return self._assign(_F.div(self, other))

    def pow_(self, exponent):
        return self._assign(_F.pow(self, exponent))

    def clamp_(self, min=None, max=None):
        return self._assign(_F.clamp(self, min, max))

    clip_ = clamp_

    def neg_(self):
        return self._assign(_F.neg(self))

    def exp_(self):
        return self._assign(_F.exp(self))

    def sqrt_(self):
        return self._assign(_F.sqrt(self))

    def abs_(self):
        return self._assign(_F.abs(self))

    def relu_(self):
        return self._assign(_F.relu(self))

    def sigmoid_(self):
        return self._assign(_F.sigmoid(self))

    def tanh_(self):
        return self._assign(_F.tanh(self))

    def masked_fill_(self, mask, value):
        return self._assign(_F.masked_fill(self, mask, value))

    def addcmul_(self, tensor1, tensor2, value=1):
        return self._assign(_F.add(self, _F.mul(_F.mul(tensor1, tensor2), value)))

    def addcdiv_(self, tensor1, tensor2, value=1):
        return self._assign(_F.add(self, _F.mul(_F.div(tensor1, tensor2), value)))

    def lerp_(self, end, weight):
        return self._assign(self.lerp(end, weight))

    # ------------------------------------------------------------------ sparse (issue 11)
    is_sparse = False  # a SparseTensor (functional/sparse.py) says True

    def to_sparse(self, sparse_dim=None):
        """The nonzero entries as a sparse COO tensor (gradients reach this tensor)."""
        # lazy: soma.functional.sparse imports tensor.py, which imports this module at load time
        from soma.functional.sparse import to_sparse

        return to_sparse(self, sparse_dim)

    def to_dense(self):
        """A dense tensor is its own dense form."""
        return self


# NOTE: ``soma.functional`` imports ``Tensor``, so it cannot be imported here while
# ``tensor.py`` is still defining the class; ``tensor.py`` binds it once ``Tensor`` exists.
_F = None


def _adopt_copy(x, y):
    """Make ``x`` and its reshaped copy ``y`` one memory again, as PyTorch's view is.

    ``x`` owns memory in a layout of soma's own (a convolution's channels-last output) that
    ``y``'s shape cannot view, so the reshape copied. PyTorch's ``x`` is contiguous there and
    its view shares memory: writes through ``y`` change ``x``. So ``x`` takes the copy as its
    memory (the same values, now in PyTorch's layout) and ``y`` becomes its view. Only when no
    other tensor sees ``x``'s memory: those would lose it (then ``y`` stays a copy)."""
    vc = getattr(x, "_vc", None)
    if (vc is not None and vc[1] is not None) or _xp.may_share_memory(x.array, y.array):
        return
    from soma.autograd.function import mark_viewed  # lazy: function.py imports tensor.py

    x.array = y.array.reshape(x.array.shape)
    y._base = x
    mark_viewed(x, y if y._ctx is not None else None)
    y._vc = x._vc


def _same_memory(x, y, op):
    """``y`` (x reshaped), or ShapeError where PyTorch's ``view`` raises: x's strides cannot
    hold the new shape, so NumPy's reshape made a copy, and writes through it would never
    reach x.

    soma keeps some results in layouts of its own (a convolution's output is channels-last
    memory) where PyTorch's tensor is contiguous, and there ``view`` copies, as ``reshape``
    does, rather than refuse what PyTorch accepts (``x.view(x.size(0), -1)`` after a
    convolution). So it raises only for x made by views (transpose, slicing, expand ...) of a
    contiguous tensor: there soma's strides are PyTorch's. An empty tensor always views.
    A tensor that owns its memory in soma's layout takes the copy as its memory instead, so
    the two share it as in PyTorch (``_adopt_copy``)."""
    base = getattr(x, "_base", None)  # NOTE: the cheap tests first: view is on hot paths
    if base is None:
        if not x.array.flags.c_contiguous:
            _adopt_copy(x, y)
        return y
    if not base.array.flags.c_contiguous or not y.array.size:
        return y
    if _xp.may_share_memory(x.array, y.array):
        return y
    item = x.array.itemsize
    raise ShapeError(
        f"{op}: a tensor of shape {tuple(x.shape)} and strides "
        f"{tuple(s // item for s in x.array.strides)} cannot be viewed as shape "
        f"{tuple(y.shape)}: some dimension of the new shape spans memory that is not "
        f"contiguous; call .reshape(...) (which copies) or .contiguous() first"
    )
