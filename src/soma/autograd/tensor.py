"""``Tensor``: an array that remembers how it was made, so gradients can flow back through it.

A tensor holds an xp array (``.array``), an optional gradient (``.grad``, itself a Tensor), a
``requires_grad`` flag and, when an operation produced it, the graph node of that operation
(``grad_fn``). This module is the core: storage, gradient, dtype and device, conversion,
``backward`` and in-place assignment; the operators and math methods are inherited from
``tensor_methods.py``.

NOTE: ``.data`` is a Tensor sharing this tensor's memory, as in PyTorch (so code such as
``w.data -= lr * w.grad`` works); the raw array is ``.array``.
"""

import copy
import weakref

from soma import backend
from soma.autograd import memory_format as _formats
from soma.autograd import tensor_str as _tensor_str
from soma.autograd.errors import ShapeError
from soma.autograd.size import Size, display_name
from soma.autograd.tensor_inplace_methods import TensorInplaceMethods
from soma.autograd.tensor_methods import TensorMethods
from soma.autograd.tensor_ops_methods import TensorOpsMethods
from soma.backend import dtypes
from soma.backend.device import Device, check_available, is_device_spec

_xp = backend.get_xp()


class Tensor(TensorMethods, TensorOpsMethods, TensorInplaceMethods):
    """A multi-dimensional array with automatic differentiation.

    Build tensors with the factories (``soma.tensor``, ``soma.zeros``, ``soma.randn`` …);
    ``Tensor(data)`` also works and gives the default float dtype, like ``torch.Tensor``.

    Example:
        >>> import soma
        >>> x = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = (
        "array",
        "_grad",
        "requires_grad",
        "_ctx",
        "_output_index",
        "_hooks",
        "_vc",
        "_base",
        "__weakref__",
    )
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """``Tensor(*sizes)``: a new tensor of that shape (zeros: PyTorch leaves it
        uninitialised); ``Tensor(data)``: a copy of ``data``; both of the default float dtype."""
        if device is not None:
            check_available(device)
        dtype = dtypes.to_dtype(dtype)
        if _is_sizes(args):
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
            self.array = _xp.zeros(tuple(int(n) for n in shape), dtype=dtype)
        elif len(args) <= 1:
            data = args[0] if args else ()
            self.array = _xp.array(data.array if isinstance(data, Tensor) else data, dtype=dtype)
        else:
            raise TypeError(
                f"Tensor(): expected sizes (ints) or one data argument, got {len(args)} "
                f"arguments of types {[type(a).__name__ for a in args]}"
            )
        self._grad = None
        self.requires_grad = requires_grad
        self._ctx = None
        self._output_index = 0
        self._hooks = None
        self._vc = None
        self._base = None

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """Wrap an array without copying it (the fast internal constructor)."""
        t = object.__new__(cls)
        t.array = array
        t._grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._output_index = 0
        t._hooks = None
        t._vc = None
        t._base = None
        return t

    @property
    def grad(self):
        """The gradient accumulated by ``backward`` (None until then); assigning one checks it
        as PyTorch does: a tensor of this tensor's shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if tuple(value.shape) != tuple(self.array.shape):
                raise RuntimeError(
                    f"assigned grad has data of a different size: {tuple(value.shape)} for a "
                    f"tensor of shape {tuple(self.array.shape)}"
                )
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: {value.array.dtype} for a "
                    f"{self.array.dtype} tensor"
                )
        self._grad = value

    @staticmethod
    def _from_op(array, ctx, index):
        """Wrap the output of an operation; ``ctx`` is its graph node or None."""
        if not isinstance(array, _xp.ndarray):
            array = _xp.asarray(array)
        t = object.__new__(Tensor)
        t.array = array
        t._grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t._output_index = index
        t._hooks = None
        t._vc = None
        t._base = None
        return t

    # ------------------------------------------------------------------ description
    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[dim]

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def nelement(self) -> int:
        return int(self.array.size)

    def element_size(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    @property
    def device(self) -> Device:
        return backend.cpu

    @property
    def is_cuda(self) -> bool:
        return False

    # NOTE: soma's tensors live on the CPU; programs test these to pick code paths
    is_cpu = property(lambda self: True, doc="True: every soma tensor is on the CPU")
    is_xpu = property(lambda self: False, doc="False (no XPU backend)")
    is_mps = property(lambda self: False, doc="False (no MPS backend)")
    is_meta = property(lambda self: False, doc="False (no meta tensors)")
    is_quantized = property(lambda self: False, doc="False (no quantized tensors)")

    def get_device(self) -> int:
        """-1 for a CPU tensor, as in PyTorch."""
        return -1

    def __format__(self, spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; others only with an empty spec."""
        if self.array.ndim == 0:
            return format(self.array.item(), spec)
        if spec:
            raise TypeError(
                f"unsupported format string {spec!r} passed to Tensor.__format__ "
                f"(only 0-d tensors take a format spec; this one has shape {tuple(self.shape)})"
            )
        return str(self)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __repr__(self):
        """PyTorch's print format (``tensor_str.py``)."""
        if self._ctx is not None:
            extras = [f"grad_fn={self._ctx!r}"]
        else:
            extras = ["requires_grad=True"] if self.requires_grad else []
        dtype_name = f"{display_name()}.{self.array.dtype}"
        return _tensor_str.tensor_repr(_xp.asarray(self.array), extras, dtype_name)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ autograd plumbing
    @property
    def grad_fn(self):
        """The graph node that produced this tensor (None for leaves)."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has seen (shared with its views)."""
        vc = getattr(self, "_vc", None)
        return 0 if vc is None else vc[0]

    def _bump_version(self) -> None:
        vc = getattr(self, "_vc", None)
        if vc is None:
            self._vc = [1, None]
        else:
            vc[0] += 1

    @property
    def is_view(self) -> bool:
        return getattr(self, "_base", None) is not None

    @property
    def retains_grad(self) -> bool:
        """True once ``retain_grad()`` was called on this non-leaf tensor."""
        hooks = self._ctx._output_hooks if self._ctx is not None else None
        return bool(hooks) and any(
            getattr(h, "_retains", False) for h in hooks.get(self._output_index, ())
        )

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute d(self)/d(leaf) for every leaf that requires grad, into ``leaf.grad``.

        Args:
            gradient: d(loss)/d(self) when ``self`` is not a scalar.
            retain_graph: keep the saved arrays so backward can run through the graph again.
            inputs: accumulate only into these tensors' ``.grad`` (leaves or not).
        """
        if create_graph:
            raise NotImplementedError(
                "backward(create_graph=True): soma's autograd is first-order (kernels compute "
                "gradients on raw arrays, so the backward pass is not itself recorded); "
                "double backward (gradient penalties, Hessian-vector products) is not supported"
            )
        if inputs is None:
            _engine.backward(self, gradient, retain_graph)
            return
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        grads = _engine.backward(self, gradient, retain_graph, inputs=inputs, into_grad=True)
        for t, g in zip(inputs, grads):
            # NOTE: leaves accumulated in the engine; retain_grad's hook has set an intermediate
            if g is not None and not t.retains_grad:
                t._grad = (
                    Tensor._wrap(g.copy()) if t.grad is None else Tensor._wrap(t.grad.array + g)
                )

    def requires_grad_(self, requires_grad=True) -> "Tensor":
        if self._ctx is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point and complex dtype can require gradients, "
                f"got {self.array.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory (and version counter), cut off from the graph."""
        from soma.autograd.function import mark_viewed  # NOTE: lazy: function.py imports tensor.py

        t = Tensor._wrap(self.array)
        base = getattr(self, "_base", None)
        if base is None:
            base = self
        mark_viewed(base)
        t._vc = getattr(base, "_vc", None)
        return t

    def detach_(self) -> "Tensor":
        self._ctx = None
        self.requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        from soma.autograd.function import mark_viewed  # NOTE: lazy, as in detach

        mark_viewed(self if getattr(self, "_base", None) is None else self._base)
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else _xp.asarray(value)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            hooks = self._hooks
        else:
            if self._ctx._output_hooks is None:
                self._ctx._output_hooks = {}
            hooks = self._ctx._output_hooks.setdefault(self._output_index, [])
            # NOTE: retain_grad's hook runs last, after hooks registered later (as PyTorch)
            at = len(hooks) - 1 if hooks and getattr(hooks[-1], "_retains", False) else len(hooks)
            hooks.insert(at, hook)
        return _RemovableHook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` each time backward has accumulated a gradient into this leaf's
        ``.grad`` (PyTorch's API; DistributedDataParallel starts its all-reduce from it)."""
        if self._ctx is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        registry = _engine.POST_ACCUMULATE_HOOKS
        hooks = registry.setdefault(id(self), (self, []))[1]
        hooks.append(hook)
        return _PostAccumulateHook(registry, id(self), hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._ctx is None:
            return
        ref = weakref.ref(self)

        if self.retains_grad:
            return

        def keep(grad):
            me = ref()
            if me is not None:
                g = grad.array.copy()
                me._grad = Tensor._wrap(g) if me.grad is None else Tensor._wrap(me.grad.array + g)

        keep._retains = True
        self.register_hook(keep)

    # ------------------------------------------------------------------ conversion
    def numpy(self, force=False):
        """The array behind this tensor (shared memory: the tensor is marked as seen from
        outside, so soma never moves it to new memory, see ``view``)."""
        from soma.autograd.function import mark_viewed  # NOTE: lazy, as in detach

        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        mark_viewed(self if getattr(self, "_base", None) is None else self._base)
        return self.array

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None:
            return a.astype(dtype, copy=bool(copy))
        return a.copy() if copy else a  # NumPy 2 passes copy=True for np.array(t) and trusts us

    def item(self):
        """The single value of a one-element tensor, as a Python number."""
        if self.array.size != 1:
            raise ShapeError(
                f"item(): only one-element tensors can be converted to Python scalars, "
                f"got shape {tuple(self.array.shape)}"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        return self.array.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index"
            )
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.array.size} values is ambiguous; "
                f"use .any() or .all()"
            )
        return bool(self.array.reshape(()).item())

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.array.shape[0]):
            yield self[i]

    def __reduce_ex__(self, protocol):
        raise TypeError("soma tensors are not picklable; save them with soma.save (safetensors)")

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: a leaf with its own memory (and a copy of ``.grad``), as in PyTorch."""
        if self._ctx is not None:
            raise RuntimeError(
                "only tensors created by the user (graph leaves) support deepcopy; "
                "call .detach() first"
            )
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.array = _formats.copy(self.array)  # the layout too, as PyTorch keeps strides
        new._grad = None if self.grad is None else copy.deepcopy(self.grad, memo)
        new.requires_grad = self.requires_grad
        new._ctx = None
        new._output_index = 0
        new._hooks = None
        new._vc = None
        new._base = None
        for name, value in getattr(self, "__dict__", {}).items():  # Parameter/Buffer extras
            setattr(new, name, copy.deepcopy(value, memo))
        return new

    def to(
        self,
        *args,
        dtype=None,
        device=None,
        copy=False,
        non_blocking=False,
        memory_format=_formats.preserve_format,
    ) -> "Tensor":
        """Convert dtype, device and/or memory layout: ``t.to(soma.float64)``, ``t.to("cpu")``,
        ``t.to(other)``, ``t.to(memory_format=soma.channels_last)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif is_device_spec(a):
                device = a
            else:
                dtype = a
        if device is not None:
            check_available(device)
        if dtype is None or dtypes.to_dtype(dtype) == self.array.dtype:
            out = _F.clone(self, memory_format=memory_format) if copy else self
        else:
            out = _F.cast(self, dtypes.to_dtype(dtype))
        if memory_format is _formats.preserve_format or out.is_contiguous(memory_format):
            return out
        return _F.clone(out, memory_format=memory_format)

    def type(self, dtype=None):
        """PyTorch's type name (``"torch.FloatTensor"``), or a copy converted to ``dtype``
        (a dtype, a tensor type such as ``soma.LongTensor``, or its name)."""
        # NOTE: lazy, upward: the tensor types (FloatTensor …) live in compat, above autograd
        from soma.compat.tensor_types import dtype_of, type_name

        if dtype is None:
            return type_name(self.array.dtype)
        return self.to(dtype_of(dtype) or dtype)

    # ------------------------------------------------------------------ new tensors like this one
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> "Tensor":
        """A copy of ``data`` with this tensor's dtype (unless ``dtype`` is given)."""
        return _factory.tensor(data, dtype or self.dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _factory.zeros(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _factory.ones(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _factory.empty(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return _factory.full(
            size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def type_as(self, other) -> "Tensor":
        return self.to(other.dtype)

    def float(self) -> "Tensor":
        return self.to(dtypes.float32)

    def double(self) -> "Tensor":
        return self.to(dtypes.float64)

    def half(self) -> "Tensor":
        return self.to(dtypes.float16)

    def long(self) -> "Tensor":
        return self.to(dtypes.int64)

    def int(self) -> "Tensor":
        return self.to(dtypes.int32)

    def bool(self) -> "Tensor":
        return self.to(dtypes.bool_)

    def byte(self) -> "Tensor":
        return self.to(dtypes.uint8)

    def char(self) -> "Tensor":
        return self.to(dtypes.int8)

    def short(self) -> "Tensor":
        return self.to(dtypes.int16)

    def ndimension(self) -> int:
        return self.array.ndim

    @property
    def itemsize(self) -> int:
        return self.array.itemsize

    def is_signed(self) -> bool:
        return self.array.dtype.kind in "if"

    def cpu(self) -> "Tensor":
        return self

    def cuda(self, device=None) -> "Tensor":
        check_available("cuda")

    def clone(self, *, memory_format=_formats.preserve_format) -> "Tensor":
        """A differentiable copy; ``memory_format`` lays it out (default: as ``self``)."""
        return _F.clone(self, memory_format=memory_format)

    def contiguous(self, memory_format=_formats.contiguous_format) -> "Tensor":
        """``self`` when its memory is laid out in ``memory_format`` (default: C order), else
        a differentiable copy that is."""
        if self.is_contiguous(memory_format):
            return self
        return _F.clone(self, memory_format=memory_format)

    def is_contiguous(self, memory_format=_formats.contiguous_format) -> bool:
        """True when the memory is laid out in ``memory_format`` (``soma.channels_last``: NHWC)."""
        return _formats.is_contiguous_as(self.array, memory_format)

    def stride(self, dim=None):
        """The step in memory, in elements, from one index to the next along each dimension
        (or along ``dim``): (12, 4, 1) for a contiguous (2, 3, 4) tensor."""
        strides = _formats.element_strides(self.array)
        return strides if dim is None else strides[dim]

    # ------------------------------------------------------------------ in-place operations
    def _assign(self, result: "Tensor") -> "Tensor":
        """Make ``self`` hold ``result`` (an in-place op): see ``autograd/inplace.py``."""
        return _inplace.assign(self, result)

    def copy_(self, src):
        src = src if isinstance(src, Tensor) else Tensor._wrap(_xp.asarray(src))
        return self._assign(_F.expand(src.to(self.dtype), self.shape))

    def _fill_with(self, values) -> "Tensor":
        """Overwrite the memory with values that carry no graph (initialisers, fill_)."""
        if self.requires_grad and _grad_mode.is_grad_enabled():
            # recorded as an op whose gradient is zero (PyTorch's FillBackward)
            filled = _F.add(_F.mul(self, 0), Tensor._wrap(_xp.asarray(values, self.array.dtype)))
            return self._assign(filled)
        _inplace.check_writable(self)
        self.array[...] = values
        self._bump_version()
        return self

    def zero_(self):
        return self._fill_with(0)

    def fill_(self, value):
        return self._fill_with(value.array if isinstance(value, Tensor) else value)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        """Fill with U(a, b): PyTorch's numbers for the same seed (``backend/mersenne.py``)."""
        if self.array.dtype.kind != "f":
            raise RuntimeError(f"uniform_: not implemented for dtype {self.array.dtype}")
        if not a <= b:
            raise RuntimeError(
                f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
            )
        return self._draw_fill(generator, "uniform", low=a, high=b, dtype=self.array.dtype)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with N(mean, std²): PyTorch's numbers for the same seed."""
        if self.array.dtype.kind != "f":
            raise RuntimeError(f"normal_: not implemented for dtype {self.array.dtype}")
        if not std >= 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        blocked = backend.random.is_blocked(self.array)
        return self._draw_fill(
            generator, "normal", mean=mean, std=std, dtype=self.array.dtype, blocked=blocked
        )

    def bernoulli_(self, p=0.5, generator=None):
        """Fill with 1 at probability p (a number, or a tensor that broadcasts), else 0: PyTorch's
        draws for the same seed (``backend/mersenne.py``)."""
        if not isinstance(p, Tensor):
            return self._draw_fill(generator, "bernoulli", p=p)
        # each element meets its own probability: p laid out in the order the fill visits them
        order = backend.random.memory_order(self.array)
        probs = _xp.broadcast_to(p.array, self.array.shape).transpose(order).reshape(-1)
        return self._draw_fill(generator, "bernoulli_each", probs=probs)

    def exponential_(self, lambd=1.0, generator=None):
        """Fill with Exp(lambd) draws: PyTorch's for the same seed."""
        return self._draw_fill(generator, "exponential", rate=lambd)


def _is_sizes(args) -> bool:
    """``Tensor(2, 3)`` and ``Tensor(soma.Size([2, 3]))`` give sizes, not data (as in PyTorch)."""
    if len(args) == 1 and isinstance(args[0], Size):
        return True
    return bool(args) and all(
        isinstance(a, (int, _xp.integer)) and not isinstance(a, bool) for a in args
    )


class _RemovableHook:
    """Handle returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class _PostAccumulateHook:
    """Handle returned by ``register_post_accumulate_grad_hook``."""

    def __init__(self, registry, key, hook):
        self._registry = registry
        self._key = key
        self._hook = hook

    def remove(self):
        entry = self._registry.get(self._key)
        if entry is not None and self._hook in entry[1]:
            entry[1].remove(self._hook)
            if not entry[1]:
                del self._registry[self._key]


# NOTE: imported last on purpose: both modules need the Tensor class defined above.
from soma import functional as _F  # noqa: E402
from soma.autograd import engine as _engine  # noqa: E402
from soma.autograd import factory as _factory  # noqa: E402
from soma.autograd import grad_mode as _grad_mode  # noqa: E402
from soma.autograd import inplace as _inplace  # noqa: E402
from soma.autograd import tensor_inplace_methods as _inplace_methods  # noqa: E402
from soma.autograd import tensor_methods as _methods  # noqa: E402
from soma.autograd import tensor_ops_methods as _ops_methods  # noqa: E402

_methods._F = _F
_ops_methods._F = _F
_inplace_methods._F = _F

# PyTorch's keyword names on the methods (``x.sum(axis=0, keepdims=True)``, ``x.mm(mat2=w)``)
from soma.autograd import keywords as _keywords  # noqa: E402

for _table in (
    _methods.TensorMethods,
    _ops_methods.TensorOpsMethods,
    _inplace_methods.TensorInplaceMethods,
    Tensor,
):
    _keywords.adapt_methods(_table)
