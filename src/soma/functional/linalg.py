"""Matrix products: ``matmul`` (1-D, 2-D and batched with broadcasting), ``linear``, ``einsum``."""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional._utils import binary_operands, shape_str, unbroadcast
from soma.functional.shape import reshape, squeeze, unsqueeze
from soma.functional.sparse import mm as sparse_mm

_xp = get_xp()


class MatMul(Function):
    """y = a @ b for operands of at least two dimensions (leading dimensions broadcast)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return _xp.matmul(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved
        ga = gb = None
        # dL/da = gy @ bᵀ,  dL/db = aᵀ @ gy  (summed over broadcast batch dimensions)
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(_xp.matmul(gy, b.swapaxes(-1, -2)), a.shape)
        if ctx.needs_input_grad[1]:
            if b.ndim == 2 and a.ndim > 2:
                # a batch of rows against one matrix: fold the batch into one BLAS call
                gb = a.reshape(-1, a.shape[-1]).T @ gy.reshape(-1, gy.shape[-1])
            else:
                gb = unbroadcast(_xp.matmul(a.swapaxes(-1, -2), gy), b.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy/PyTorch semantics for 1-D, 2-D and batched operands.

    Shape:
        (n,) @ (n,) → ();  (m, n) @ (n,) → (m,);  (n,) @ (n, p) → (p,);
        (*, m, n) @ (*, n, p) → (*, m, p) with the leading * broadcast.

    Example:
        >>> import soma
        >>> soma.matmul(soma.ones(2, 3), soma.ones(3)).tolist()
        [3.0, 3.0]
    """
    if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):
        return _sparse_mm(a, b)
    a, b = binary_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension, got shapes "
            f"{shape_str(a.shape)} and {shape_str(b.shape)}"
        )
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ShapeError(
            f"matmul: shapes {shape_str(a.shape)} and {shape_str(b.shape)} cannot be multiplied "
            f"({ka} columns in the first, {kb} rows in the second)"
        )
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul.apply(unsqueeze(a, 0), unsqueeze(b, 1)), ())
    if a.ndim == 1:
        return squeeze(MatMul.apply(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return squeeze(MatMul.apply(a, unsqueeze(b, 1)), -1)
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ShapeError(
            f"matmul: batch dimensions of {shape_str(a.shape)} and {shape_str(b.shape)} cannot be "
            f"broadcast together"
        ) from None


def mm(a, b):
    """Product of two matrices."""
    if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):
        return _sparse_mm(a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(
            f"mm: expects two 2-D tensors, got shapes {shape_str(a.shape)} and {shape_str(b.shape)}"
        )
    return matmul(a, b)


def bmm(a, b):
    """Batched product of (B, m, n) and (B, n, p)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"bmm: expects (B, m, n) and (B, n, p) tensors, got {shape_str(a.shape)} and {shape_str(b.shape)}"
        )
    return matmul(a, b)


def dot(a, b):
    """Inner product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(
            f"dot: expects 1-D tensors, got shapes {shape_str(a.shape)} and {shape_str(b.shape)}"
        )
    return matmul(a, b)


def outer(a, b):
    """Outer product of two 1-D tensors."""
    return matmul(unsqueeze(a, 1), unsqueeze(b, 0))


def _product(a, b):
    """a @ b for 2-D arrays; with an inner dimension of 1 that is an outer product, which the
    broadcast ``a * b`` computes about 3x faster than a BLAS call (measured)."""
    return a * b if a.shape[1] == 1 else a @ b


class Linear(Function):
    """y = x Wᵀ + b, with x of shape (*, in) and W of shape (out, in)."""

    @staticmethod
    def forward(ctx, x, w, b):
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        y = _product(x2, w.T)
        if b is not None:
            y += b
        ctx.save(x2, w)
        ctx.x_shape = x.shape
        return y.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else y

    @staticmethod
    def backward(ctx, gy):
        x2, w = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad
        gy2 = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
        # dL/dx = gy W,  dL/dW = gyᵀ x,  dL/db = Σ_rows gy
        gx = _product(gy2, w).reshape(ctx.x_shape) if need_x else None
        gw = gy2.T @ x2 if need_w else None
        gb = gy2.sum(axis=0) if need_b else None
        return gx, gw, gb


def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias``, PyTorch's layout (weight is (out, in)).

    Shape:
        x (*, in_features), weight (out_features, in_features), bias (out_features,)
        → (*, out_features)
    """
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ShapeError(
            f"linear: input of shape {shape_str(x.shape)} does not fit weight of shape "
            f"{shape_str(weight.shape)} (expected last dimension {weight.shape[-1]})"
        )
    if x.dtype != weight.dtype:
        raise TypeError(
            f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}; "
            f"convert the input (x.to({weight.dtype})) or the model (model.to({weight.dtype}))"
        )
    if weight.ndim == 1:
        return matmul(x, weight) + (bias if bias is not None else 0.0)
    return Linear.apply(x, weight, bias)


class Einsum(Function):
    """y = einsum(subscripts, *operands); each operand's gradient is another einsum."""

    @staticmethod
    def forward(ctx, *ops, inputs, output):
        ctx.save(*ops)
        ctx.inputs, ctx.output = inputs, output
        return _xp.einsum(",".join(inputs) + "->" + output, *ops, optimize=True)

    @staticmethod
    def backward(ctx, gy):
        ops = ctx.saved
        grads = []
        for i, (spec, need) in enumerate(zip(ctx.inputs, ctx.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(ctx.inputs) if j != i]
            arrays = [o for j, o in enumerate(ops) if j != i]
            # sum gy·Π(other operands) over every index that is not this operand's
            present = set(ctx.output).union(*others) if others else set(ctx.output)
            missing = [c for c in spec if c not in present]
            target = "".join(c for c in spec if c not in missing)
            g = _xp.einsum(
                ",".join([ctx.output, *others]) + "->" + target, gy, *arrays, optimize=True
            )
            if missing:
                g = _xp.broadcast_to(
                    _xp.expand_dims(g, [spec.index(c) for c in missing]), ops[i].shape
                )
            grads.append(g)
        return tuple(grads)


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``.

    Each operand's subscripts must be distinct letters (no ellipsis, no repeated index within
    one operand, which would be a diagonal).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if "." in eq or any(len(set(s)) != len(s) for s in inputs):
        raise NotImplementedError(f"einsum: '{equation}' uses ellipsis or a repeated index")
    if not _:
        letters = [c for c in lhs if c != ","]
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(inputs) != len(operands):
        raise ShapeError(f"einsum: '{equation}' names {len(inputs)} operands, got {len(operands)}")
    return Einsum.apply(*operands, inputs=inputs, output=rhs)


def _sparse_mm(a, b):
    """A product with a sparse COO operand (``functional/sparse.py``)."""
    return sparse_mm(a, b)
