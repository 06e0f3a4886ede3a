"""Matrix products: ``matmul`` (1-D, 2-D and batched with broadcasting), ``linear``, ``einsum``."""

from soma.autograd.errors import ShapeError
from soma.autograd.function import Function, named
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend.compiled import FLOAT_DTYPES
from soma.functional._utils import binary_operands, shape_str, unbroadcast
from soma.functional.indexing import index_select
from soma.functional.shape import cat, reshape, squeeze, unsqueeze
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
        return named(reshape(MatMul.apply(unsqueeze(a, 0), unsqueeze(b, 1)), ()), "DotBackward0")
    if a.ndim == 1:
        return squeeze(MatMul.apply(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return named(squeeze(MatMul.apply(a, unsqueeze(b, 1)), -1), "MvBackward0")
    try:
        # PyTorch's names: a product of matrices is mm; batched operands fold into one
        return named(
            MatMul.apply(a, b), "MmBackward0" if a.ndim == b.ndim == 2 else "UnsafeViewBackward0"
        )
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
    return named(matmul(a, b), "BmmBackward0")


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


def column_sums(a):
    """Σ over the rows of a 2-D array: ``a.sum(axis=0)``, as the product ``1ᵀ a`` for float32 and
    float64 arrays in C order.

    NumPy's column sums add the rows one by one in a broadcast loop; BLAS's matrix-vector product
    keeps one running sum per column too (rows taken a few at a time, so the last bits may
    differ) and takes a fraction of the time: 8 against 25 µs for (1000, 128) float32,
    measured. Bias gradients (``Linear``, the recurrent layers) go through here.
    """
    if a.dtype in FLOAT_DTYPES and a.flags.c_contiguous and a.shape[0] > 1:
        return _xp.ones(a.shape[0], a.dtype) @ a
    return a.sum(axis=0)


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
        gb = column_sums(gy2) if need_b else None
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
    # PyTorch's names: addmm (mm without a bias) for a matrix, a view of it for other ranks
    if x.ndim == 2:
        name = "AddmmBackward0" if bias is not None else "MmBackward0"
    else:
        name = "ViewBackward0" if bias is not None else "UnsafeViewBackward0"
    return named(Linear.apply(x, weight, bias), name)


class Einsum(Function):
    """y = einsum(subscripts, *operands); each operand's gradient is another einsum.

    Subscripts arrive explicit (no ellipsis); a letter may repeat within one operand (a
    diagonal), and then its gradient is written back onto that diagonal.
    """

    @staticmethod
    def forward(ctx, *ops, inputs, output):
        ctx.save(*ops)
        ctx.inputs, ctx.output = inputs, output
        return _xp.einsum(",".join(inputs) + "->" + output, *ops, optimize=True)

    @staticmethod
    def backward(ctx, gy):
        ops = ctx.saved
        sizes = {c: n for spec, op in zip(ctx.inputs, ops) for c, n in zip(spec, op.shape)}
        grads = []
        for i, (spec, need) in enumerate(zip(ctx.inputs, ctx.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(ctx.inputs) if j != i]
            arrays = [o for j, o in enumerate(ops) if j != i]
            letters = "".join(dict.fromkeys(spec))  # distinct, in order of appearance
            # sum gy·Π(other operands) over every index that is not this operand's
            present = set(ctx.output).union(*others)
            target = "".join(c for c in letters if c in present)
            g = _xp.einsum(
                ",".join([ctx.output, *others]) + "->" + target, gy, *arrays, optimize=True
            )
            if len(target) != len(letters):  # letters only this operand sums over: broadcast
                shape = [sizes[c] if c in target else 1 for c in letters]
                g = _xp.broadcast_to(g.reshape(shape), [sizes[c] for c in letters])
            if len(letters) != len(spec):  # repeated letters: write onto the diagonal
                grid = _xp.ogrid[tuple(slice(sizes[c]) for c in letters)]
                gx = _xp.zeros(ops[i].shape, dtype=gy.dtype)
                gx[tuple(grid[letters.index(c)] for c in spec)] = g
                g = gx
            grads.append(g)
        return tuple(grads)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _expand_ellipsis(inputs, rhs, has_arrow, operands):
    """Replace ``...`` by explicit letters (right-aligned across operands, as broadcasting).

    Returns the new input specs, the output spec, and for each operand the axes of size 1 that
    broadcast against a larger size (they are squeezed out and dropped from that spec).
    """
    used = set("".join(inputs) + rhs)
    free = [c for c in _LETTERS if c not in used]
    counts = []
    for spec, op in zip(inputs, operands):
        named = len(spec.replace("...", ""))
        counts.append(op.ndim - named if "..." in spec else 0)
    width = max(counts, default=0)
    ell = "".join(free[:width])
    sizes = {}
    for spec, op, n in zip(inputs, operands, counts):
        for c, size in zip(ell[width - n :], op.shape[spec.index("...") :] if n else ()):
            if size != 1:
                sizes[c] = size
    new_inputs, squeeze = [], []
    for spec, op, n in zip(inputs, operands, counts):
        if "..." not in spec:
            new_inputs.append(spec)
            squeeze.append(())
            continue
        start = spec.index("...")
        mine = ell[width - n :]
        drop = tuple(
            start + k for k, c in enumerate(mine) if op.shape[start + k] == 1 and c in sizes
        )
        kept = "".join(c for k, c in enumerate(mine) if start + k not in drop)
        new_inputs.append(spec.replace("...", kept))
        squeeze.append(drop)
    if has_arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(new_inputs).replace(",", "")
        once = sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        out = ell + "".join(once)
    return new_inputs, out, squeeze


def _sublist_equation(args):
    """``(a, [0, 1], b, [1, 2], [0, 2])`` → ``("ab,bc->ac", (a, b))`` (Ellipsis → ``...``)."""

    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sub)

    ops, subs = list(args[0::2]), list(args[1::2])
    out = None
    if len(args) % 2:  # a trailing output sublist
        out = ops.pop()
    lhs = ",".join(letters(s) for s in subs)
    return (lhs + ("->" + letters(out) if out is not None else "")), tuple(ops)


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``.

    Supports ``...`` (broadcast dimensions), repeated letters within one operand (``"ii->i"``
    is the diagonal, ``"ii"`` the trace) and the implicit output (the letters that appear
    once, in alphabetical order, after any ``...`` dimensions).

    Example:
        >>> import soma
        >>> soma.einsum("ii", soma.eye(3)).item()
        3.0
    """
    if not isinstance(equation, str):  # the sublist form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        equation, operands = _sublist_equation((equation, *operands))
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ShapeError(f"einsum: '{equation}' names {len(inputs)} operands, got {len(operands)}")
    for spec, op in zip(inputs, operands):
        named = len(spec.replace("...", ""))
        if ("..." in spec and named > op.ndim) or ("..." not in spec and named != op.ndim):
            raise RuntimeError(
                f"einsum: subscripts '{spec}' do not fit an operand of shape {shape_str(op.shape)}"
            )
    if "..." in eq:
        inputs, rhs, squeeze = _expand_ellipsis(inputs, rhs, bool(arrow), operands)
        operands = tuple(
            reshape(op, tuple(n for k, n in enumerate(op.shape) if k not in drop)) if drop else op
            for op, drop in zip(operands, squeeze)
        )
    elif not arrow:
        letters = lhs.replace(",", "")
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(rhs)) != len(rhs) or not set(rhs) <= set("".join(inputs)):
        raise RuntimeError(f"einsum: invalid output subscripts in '{equation}'")
    operands = binary_operands(*operands) if len(operands) == 2 else operands
    return Einsum.apply(*operands, inputs=inputs, output=rhs)


# ---------------------------------------------------------------------------- products
def kron(input, other):
    """The Kronecker product: every element of ``input`` times the whole of ``other``.

    Shape:
        (a₀, a₁, …) ⊗ (b₀, b₁, …) → (a₀b₀, a₁b₁, …) (the shorter shape is padded with 1s)
    """
    a, b = binary_operands(input, other)
    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + tuple(a.shape)
    sb = (1,) * (n - b.ndim) + tuple(b.shape)
    a = reshape(a, tuple(x for s in sa for x in (s, 1)))
    b = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(a * b, tuple(x * y for x, y in zip(sa, sb)))


def mv(input, vec):
    """Matrix-vector product of a (n, m) matrix and a (m,) vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"mv: expects a matrix and a vector, got shapes {shape_str(input.shape)} and "
            f"{shape_str(vec.shape)}"
        )
    return matmul(input, vec)


def inner(input, other):
    """Sum of products over the last dimension of both (a scalar product for 1-D tensors)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    a = "".join(_LETTERS[: input.ndim - 1])
    b = "".join(_LETTERS[input.ndim - 1 : input.ndim + other.ndim - 2])
    return einsum(f"{a}Z,{b}Z->{a}{b}", input, other)


def tensordot(a, b, dims=2):
    """Sum of products over ``dims``: the last ``dims`` of ``a`` with the first of ``b``, or
    the listed pairs of dimensions ``([a dims], [b dims])``."""
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [d % a.ndim for d in da]
    db = [d % b.ndim for d in db]
    sa = list(_LETTERS[: a.ndim])
    sb = list(_LETTERS[a.ndim : a.ndim + b.ndim])
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in da] + [
        c for k, c in enumerate(sb) if k not in db
    ]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product`` (beta = 0 ignores input, NaN included)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` for each matrix of the batch."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * Σ_b batch1[b] @ batch2[b]``."""
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def vdot(input, other):
    """The dot product of two 1-D tensors (no conjugation: soma is real)."""
    return dot(input, other)


def cross(input, other, dim=None):
    """The 3-D cross product along ``dim`` (default: the first dimension of size 3).

    ``torch.linalg.cross`` defaults to the last dimension; this follows ``torch.cross``.
    """
    a, b = binary_operands(input, other)
    shape = _xp.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in shape {shape_str(shape)}")
    axis = dim % len(shape)
    if shape[axis] != 3:
        raise RuntimeError(
            f"cross: dimension {dim} must have size 3, got shape {shape_str(shape)}"
        )
    a, b = a.expand(*shape), b.expand(*shape)

    def part(t, i):
        return index_select(t, axis, Tensor._wrap(_xp.asarray([i])))

    x = part(a, 1) * part(b, 2) - part(a, 2) * part(b, 1)
    y = part(a, 2) * part(b, 0) - part(a, 0) * part(b, 2)
    z = part(a, 0) * part(b, 1) - part(a, 1) * part(b, 0)
    return cat([x, y, z], axis)


def matrix_power(input, n):
    """``input`` multiplied by itself ``n`` times (n >= 0; 0 gives the identity)."""
    if n < 0:
        raise NotImplementedError("matrix_power: negative powers need a matrix inverse")
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(
            f"matrix_power: expected square matrices, got shape {shape_str(input.shape)}"
        )
    if n == 0:
        eye = _xp.broadcast_to(_xp.eye(input.shape[-1], dtype=input.array.dtype), input.shape)
        return Tensor._wrap(eye.copy())
    result, base = None, input
    while n:  # square-and-multiply
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def chain_matmul(*matrices):
    """The product of the matrices, left to right."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    out = matrices[0]
    for m in matrices[1:]:
        out = mm(out, m)
    return out


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1ᵀ W_k x2 + b_k`` for each pair of rows.

    Shape:
        input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,) → (*, out)
    """
    y = einsum("...i,kij,...j->...k", input1, weight, input2)
    return y if bias is None else y + bias


def _sparse_mm(a, b):
    """A product with a sparse COO operand (``functional/sparse.py``)."""
    return sparse_mm(a, b)
