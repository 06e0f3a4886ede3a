"""NumPy's BLAS, called from compiled kernels: a matrix product inside a kernel's own loop.

A recurrent layer needs one small product per time step (an LSTM's hₜ₋₁ W̃ₕₕᵀ, 32 × 128 by
128 × 512 in the ``lstm_train`` case, some 30 µs). Called from Python, each step also pays
NumPy's and Numba's call overheads and the slicing of a dozen views; called from a kernel, the
whole sequence is one call. ``gemm(address, a, b, c)`` is that product, c = a @ b:

* in Python (a kernel's ``.python`` form, or Numba absent) it is ``np.matmul(a, b, out=c)``;
* compiled, it calls the C function at ``address`` directly: ``gemm_address(dtype)`` is
  ``cblas_sgemm`` / ``cblas_dgemm`` of the OpenBLAS bundled with NumPy, the routine NumPy's own
  ``matmul`` calls for such arrays, so the result has the same bits.

The arrays are 2-D, of one float dtype, with contiguous rows (unit column stride; rows may be
a slice of a larger array). ``gemm_address`` is 0 where NumPy's BLAS is not that OpenBLAS (a
NumPy built against MKL or Accelerate): callers then keep their Python loop.

A kernel that runs on soma's worker threads (``parallel.ranges``) may only call products that
OpenBLAS runs on the calling thread: a product it splits hands its jobs to those same workers
(``_blas_threads``), which are busy, and would wait for itself. OpenBLAS splits no product of
at most ``SINGLE_THREAD_WORK`` multiply-adds (``interface/gemm.c``: 65536 times its build's
``GEMM_MULTITHREAD_THRESHOLD``, 4 by default; ``tests/test_blas.py`` checks it on the installed
library), whatever its thread count.

Nothing here imports Numba: the compiled form is made when the first kernel calling ``gemm``
compiles (``lowering``, through ``compiled.helper``).
"""

import ctypes
import functools
import glob
import os

import numpy as np

from soma.backend import compiled

# NumPy's wheels bundle OpenBLAS with 64-bit integers and these renamed symbols
_GEMM = {np.dtype("float32"): "scipy_cblas_sgemm64_", np.dtype("float64"): "scipy_cblas_dgemm64_"}
_ROW_MAJOR, _NO_TRANSPOSE, _TRANSPOSE = 101, 111, 112  # CBLAS's enumerations

# The most multiply-adds (m·n·k) of a product OpenBLAS always runs on the calling thread
SINGLE_THREAD_WORK = 65536 * 4


@functools.cache
def library():
    """NumPy's bundled OpenBLAS (a ``ctypes.CDLL``), or None."""
    libraries = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libraries, "lib*openblas*.so*"))):
        try:
            found = ctypes.CDLL(path)
        except OSError:
            continue
        if all(hasattr(found, name) for name in _GEMM.values()):
            return found
    return None


@functools.cache
def core_name() -> str:
    """The kernel set NumPy's OpenBLAS chose for this CPU, lower case ("haswell", "skylakex",
    "cooperlake", ...), or "" where NumPy's BLAS is not that OpenBLAS."""
    found = library()
    name = getattr(found, "scipy_openblas_get_corename64_", None)
    if name is None:
        return ""
    name.argtypes, name.restype = [], ctypes.c_char_p
    return (name() or b"").decode(errors="replace").strip().lower()


# OpenBLAS's kernel sets with small-matrix kernels (its SMALL_MATRIX_OPT, AVX-512): a product of
# a few rows runs there without packing its operands first. The others pack the whole right
# operand on every call, so a product of 4 rows costs nearly as much as one of 16.
_SMALL_PRODUCT_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})


def small_products_unpacked() -> bool:
    """True where OpenBLAS multiplies a few rows without packing its operands (see
    ``_SMALL_PRODUCT_CORES``). Measured, (4, 128) @ (128, 512) float32 on one thread: 13.5 µs
    with the "haswell" kernels (a Zen 5 VM; 16 rows 25.8 µs), 5.7-7.4 µs with the "skylakex"
    kernels on a Zen 4 VM (its recorded kernel set from stop 43 on)."""
    return core_name() in _SMALL_PRODUCT_CORES


@functools.cache
def gemm_address(dtype) -> int:
    """The address of NumPy's OpenBLAS ``cblas_?gemm`` for ``dtype`` (float32 or float64),
    or 0 where there is none."""
    name, found = _GEMM.get(np.dtype(dtype)), library()
    if name is None or found is None:
        return 0
    return ctypes.cast(getattr(found, name), ctypes.c_void_p).value or 0


def _lowering(numba, transposable=False):
    """The compiled form of ``gemm`` (``transposable``: of ``product``): one call of the
    routine at ``address``."""
    # NOTE: Numba and llvmlite are optional (soma[fast]): imported when a kernel compiles
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic

    types = numba.types

    def operand(context, builder, array_type, value, size, count, transposed):
        """(data, leading dimension, rows, columns, CBLAS transpose flag) of a 2-D array.
        ``transposed``: read an array whose columns are contiguous (a transposed view) as the
        transpose of a row-major one, instead of requiring contiguous rows."""
        array = context.make_array(array_type)(context, builder, value)
        rows, columns = cgutils.unpack_tuple(builder, array.shape, 2)
        row_stride, column_stride = (
            builder.sdiv(stride, size)
            for stride in cgutils.unpack_tuple(builder, array.strides, 2)
        )
        one = ir.Constant(count, 1)
        enum = ir.IntType(32)
        flag = ir.Constant(enum, _NO_TRANSPOSE)
        # NOTE: BLAS wants a leading dimension of at least max(1, the stored row's length); a
        # single row's (or column's) stride may be anything (NumPy does not use it)
        leading, least = row_stride, columns
        if transposed:
            by_columns = builder.icmp_signed("!=", column_stride, one)
            flag = builder.select(by_columns, ir.Constant(enum, _TRANSPOSE), flag)
            leading = builder.select(by_columns, column_stride, row_stride)
            least = builder.select(by_columns, rows, columns)
        for bound in (least, one):
            leading = builder.select(builder.icmp_signed(">=", leading, bound), leading, bound)
        return builder.bitcast(array.data, cgutils.voidptr_t), leading, rows, columns, flag

    def signature_of(address, a, b, c):
        arrays = (a, b, c)
        if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays):
            return None
        if a.dtype not in (types.float32, types.float64) or {b.dtype, c.dtype} != {a.dtype}:
            return None
        return a.dtype

    def emit(context, builder, signature, args, beta):
        dtype = signature.args[1].dtype
        real = ir.FloatType() if dtype == types.float32 else ir.DoubleType()
        enum, count, pointer = ir.IntType(32), ir.IntType(64), cgutils.voidptr_t
        # cblas_?gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        kind = ir.FunctionType(
            ir.VoidType(),
            [enum] * 3 + [count] * 3 + [real] + [pointer, count] * 2 + [real, pointer, count],
        )
        function = builder.inttoptr(args[0], kind.as_pointer())
        size = ir.Constant(count, context.get_abi_sizeof(context.get_data_type(dtype)))
        a, b, c = (
            operand(context, builder, t, v, size, count, transposable and i < 2)
            for i, (t, v) in enumerate(zip(signature.args[1:4], args[1:4]))
        )
        m, k, n = a[2], a[3], b[3]
        order = ir.Constant(enum, _ROW_MAJOR)
        builder.call(
            function,
            [order, a[4], b[4], m, n, k, ir.Constant(real, 1.0), a[0], a[1], b[0], b[1]]
            + [beta(real), c[0], c[1]],
        )
        return context.get_dummy_value()

    if not transposable:

        @intrinsic
        def call(typingctx, address, a, b, c):
            if signature_of(address, a, b, c) is None:
                return None

            def codegen(context, builder, signature, args):
                return emit(context, builder, signature, args, lambda real: ir.Constant(real, 0))

            return types.none(types.int64, a, b, c), codegen

        def typed(address, a, b, c):
            return lambda address, a, b, c: call(address, a, b, c)

        return typed

    @intrinsic
    def call_scaled(typingctx, address, a, b, c, beta):
        dtype = signature_of(address, a, b, c)
        if dtype is None:
            return None

        def codegen(context, builder, signature, args):
            def beta_value(real):
                return context.cast(builder, args[4], signature.args[4], signature.args[1].dtype)

            return emit(context, builder, signature, args, beta_value)

        return types.none(types.int64, a, b, c, beta), codegen

    def typed_scaled(address, a, b, c, beta):
        return lambda address, a, b, c, beta: call_scaled(address, a, b, c, beta)

    return typed_scaled


@compiled.helper(lowering=_lowering)
def gemm(address, a, b, c):
    """c = a @ b (2-D arrays of one float dtype, rows contiguous), through the BLAS routine at
    ``address`` when compiled (see the module's docstring)."""
    np.matmul(a, b, out=c)


def _product_lowering(numba):
    return _lowering(numba, transposable=True)


@compiled.helper(lowering=_product_lowering)
def product(address, a, b, c, beta):
    """c = a @ b + beta·c, where a and b may each have contiguous rows or contiguous columns (a
    transposed view, passed to BLAS as the transpose of a row-major array: no copy) and c has
    contiguous rows (see ``gemm``). beta 0 overwrites c (whatever it held), 1 adds to it. The
    compiled form trusts the layout (a stride of one along one axis, the other a whole row or
    column): callers check it (``_reduce_kernels.applies``); the Python form takes any."""
    if beta == 0:
        np.matmul(a, b, out=c)
    else:
        c *= beta
        c += np.matmul(a, b)
