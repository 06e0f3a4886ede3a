"""In-place operations with PyTorch's semantics: ``x.mul_(2)``, ``x[0] += 1``, ``relu(x, inplace=True)``.

An in-place method computes its result out of place (an ordinary recorded op), then
``assign(self, result)`` makes ``self`` hold it:

* no graph recorded (``no_grad``, or nothing requires grad): the values are written into
  ``self``'s memory, so views see them;
* recorded: ``self`` takes the op's node as its ``grad_fn``. When nothing else sees ``self``'s
  memory (no views) the tensor is simply rebound to the result's array (no copy); otherwise the
  values are written into the memory. If ``self`` is a view of a base tensor, the base gets a
  ``CopySlices`` node (gradient of the region to the in-place op, the rest to the base's old
  value) and every view of the base in the graph an ``AsStrided`` node reading from it.

Either way the storage's version counter goes up by one; nodes that saved the old value raise
at backward (see ``function.check_versions``).
"""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Context, Function
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


def check_writable(self: Tensor) -> None:
    """Refuse to write into memory that several elements share (an ``expand``ed tensor), with
    PyTorch's message and a ``RuntimeError`` (NumPy would raise a bare ValueError)."""
    if self.array.flags.writeable:
        return
    if any(stride == 0 and n > 1 for stride, n in zip(self.array.strides, self.array.shape)):
        raise ShapeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            f"single memory location (shape {tuple(self.array.shape)}, an expanded tensor). "
            "Please clone() the tensor before performing the operation."
        )
    raise ShapeError(
        f"in-place operation on a read-only tensor of shape {tuple(self.array.shape)} (its "
        "memory is a read-only NumPy array); clone() it first"
    )


def assign(self: Tensor, result: Tensor, rebind: bool = False) -> Tensor:
    """``self`` takes ``result``'s value and graph place (``rebind``: also its shape, for
    ``unsqueeze_``-like ops, by pointing ``self`` at the result instead of writing into it)."""
    ctx = result._ctx
    if ctx is None:
        if not _xp.can_cast(result.array.dtype, self.array.dtype, casting="same_kind"):
            raise RuntimeError(
                f"result type {result.array.dtype} can't be cast to the desired output type "
                f"{self.array.dtype}"
            )
        check_writable(self)
        self.array[...] = result.array
        self._bump_version()
        return self
    base = getattr(self, "_base", None)
    if self._ctx is None and self.requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation "
            f"(shape {tuple(self.array.shape)}); wrap the update in soma.no_grad() or operate on "
            ".data"
        )
    if base is not None and base._ctx is None and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation "
            f"(view of shape {tuple(self.array.shape)} of a leaf of shape "
            f"{tuple(base.array.shape)}); wrap the update in soma.no_grad()"
        )
    old = self.array
    # NOTE: the op recorded ``self`` as a parent; graph walkers (ONNX export) read parents'
    # grad_fn, so point them at a stand-in for the old value (the engine uses ctx._edges).
    before = Tensor._from_op(old, self._ctx, self._output_index)
    before.requires_grad = self.requires_grad
    ctx._parents = tuple(before if p is self else p for p in ctx._parents)
    vc = getattr(self, "_vc", None)
    if not rebind and (base is not None or (vc is not None and vc[1] is not None)):
        if any(s is old for s in ctx.saved):  # the op needs self's old value: keep a copy
            kept = old.copy()
            ctx.saved = tuple(kept if s is old else s for s in ctx.saved)
        check_writable(self)
        self.array[...] = result.array
        written = True
    else:
        self.array = result.array.astype(old.dtype, copy=False)
        written = False
    self._bump_version()
    vc = getattr(self, "_vc", None)
    if ctx._versions:
        records = []
        for rec in ctx._versions:
            if rec[3] is self:  # self's old value: intact (rebound, or copied above)
                continue
            if rec[3] is None and rec[4] == result._output_index:  # the result is self now
                rec = (rec[0], vc, vc[0], None, rec[4])
            records.append(rec)
        ctx._versions = records or None
    self._ctx = ctx
    self._output_index = result._output_index
    self.requires_grad = True
    if base is not None and written:
        _copy_slices(self, base)
    elif written:
        _regenerate_views(self)
    return self


# ---------------------------------------------------------------------------- views
def _byte_offsets(a):
    """Byte offset of every element of ``a`` from its data pointer."""
    off = _xp.zeros(a.shape, dtype=_xp.int64)
    for k, (n, stride) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[k] = n
        off = off + (_xp.arange(n, dtype=_xp.int64) * stride).reshape(shape)
    return off


def _region(base_array, view_array):
    """Flat (row-major) indices into ``base_array`` of each element of ``view_array``."""
    if view_array.itemsize != base_array.itemsize:
        raise RuntimeError(
            "in-place operation on a view with another dtype (view(dtype)) of a tensor in the "
            "graph is not supported"
        )
    base_off = _byte_offsets(base_array).reshape(-1)
    shift = view_array.__array_interface__["data"][0] - base_array.__array_interface__["data"][0]
    view_off = _byte_offsets(view_array) + shift
    order = _xp.argsort(base_off, kind="stable")
    return order[_xp.searchsorted(base_off[order], view_off)]


class CopySlices(Function):
    """base_new = base_old with its view region replaced by the in-place op's result."""

    _backward_name = "CopySlices"

    @staticmethod
    def backward(ctx, g):
        idx = _region(ctx.base_array, ctx.view_array)
        g = _xp.ascontiguousarray(g)
        g_view = g.reshape(-1)[idx]
        g_base = None
        if ctx.needs_input_grad[0]:
            g_base = g.copy()
            g_base.reshape(-1)[idx] = 0
        return g_base, g_view


class AsStrided(Function):
    """view = a strided window on base's memory; the gradient lands in that region."""

    @staticmethod
    def backward(ctx, g):
        idx = _region(ctx.base_array, ctx.view_array)
        gb = _xp.zeros(ctx.base_array.shape, dtype=g.dtype)
        _xp.add.at(gb.reshape(-1), idx, g)
        return gb


def _node(fn, parents, needs, edges, base_array, view_array):
    node = Context(fn, parents, needs)
    node._edges = edges
    node.base_array = base_array
    node.view_array = view_array
    return node


def _copy_slices(view, base):
    """``view`` was changed in place by a recorded op: re-root the base's graph on it."""
    standin = Tensor._from_op(base.array, base._ctx, base._output_index)
    standin.requires_grad = base.requires_grad
    result = Tensor._from_op(view.array, view._ctx, view._output_index)
    needs = (base.requires_grad, True)
    edges = (
        (base._ctx, base._output_index) if base.requires_grad else None,
        (view._ctx, view._output_index),
    )
    base._ctx = _node(CopySlices, (standin, result), needs, edges, base.array, view.array)
    base._output_index = 0
    base.requires_grad = True
    _as_view_of(view, base)
    _regenerate_views(base)


def _as_view_of(view, base):
    view._ctx = _node(
        AsStrided, (base,), (True,), ((base._ctx, base._output_index),), base.array, view.array
    )
    view._output_index = 0
    view.requires_grad = True


def _regenerate_views(base):
    """Views of ``base`` in the graph now read its new value (PyTorch regenerates them too)."""
    vc = getattr(base, "_vc", None)
    for ref in vc[1] or ():
        v = ref()
        if v is not None and v is not base and getattr(v, "_base", None) is base:
            _as_view_of(v, base)
