"""soma: a deep-learning framework on NumPy, readable end to end, with PyTorch's API.

    import soma as torch      # the lectures' PyTorch code runs unchanged

The public surface mirrors PyTorch: tensors and their factories here, layers in ``soma.nn``,
optimizers in ``soma.optim``, data in ``soma.data`` (also ``soma.utils.data``).
"""

from soma._version import __version__
from soma.autograd import (
    Function,
    Size,
    Tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from soma.autograd.factory import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from soma.backend import (
    bool_ as bool,
)
from soma.backend import (
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from soma.backend.allocator import allocator_settings, configure_allocator
from soma.backend.device import Device as device
from soma.backend.random import Generator, manual_seed

# ---- tensor operations added for PyTorch parity (issue 11 §3)
from soma.functional import (  # noqa: E402
    abs,
    absolute,
    acos,
    acosh,
    add,
    addbmm,
    addcdiv,
    addcmul,
    addmm,
    addmv,
    addr,
    all,
    allclose,
    amax,
    amin,
    aminmax,
    any,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    argmax,
    argmin,
    argsort,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    baddbmm,
    bincount,
    block_diag,
    bmm,
    broadcast_to,
    bucketize,
    cartesian_prod,
    cat,
    cdist,
    ceil,
    celu_,
    chunk,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    concat,
    concatenate,
    copysign,
    cos,
    cosh,
    cosine_similarity,
    count_nonzero,
    cummax,
    cummin,
    cumprod,
    cumsum,
    deg2rad,
    diag,
    diag_embed,
    diagflat,
    diagonal,
    div,
    divide,
    dot,
    einsum,
    eq,
    equal,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expm1,
    fix,
    flatten,
    flip,
    float_power,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    frac,
    gather,
    ge,
    gt,
    histc,
    hypot,
    index_add,
    index_copy,
    index_fill,
    index_select,
    inner,
    isclose,
    isfinite,
    isinf,
    isnan,
    kron,
    kthvalue,
    le,
    lerp,
    log,
    log1p,
    log2,
    log10,
    log_softmax,
    logaddexp,
    logaddexp2,
    logcumsumexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logit,
    logsumexp,
    lt,
    masked_fill,
    masked_scatter,
    masked_select,
    matmul,
    max,
    maximum,
    mean,
    median,
    meshgrid,
    min,
    minimum,
    mm,
    mode,
    moveaxis,
    movedim,
    msort,
    mul,
    multiply,
    mv,
    nan_to_num,
    nanmean,
    nanmedian,
    nansum,
    narrow,
    ne,
    neg,
    negative,
    nonzero,
    norm,
    outer,
    pairwise_distance,
    pdist,
    permute,
    pow,
    prod,
    rad2deg,
    reciprocal,
    relu,
    relu_,
    remainder,
    repeat,
    repeat_interleave,
    reshape,
    roll,
    rot90,
    round,
    rrelu,
    rrelu_,
    rsqrt,
    scatter,
    scatter_add,
    scatter_reduce,
    searchsorted,
    selu_,
    sigmoid,
    sign,
    signbit,
    sin,
    sinc,
    sinh,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    std_mean,
    sub,
    subtract,
    sum,
    swapaxes,
    t,
    take,
    take_along_dim,
    tan,
    tanh,
    tensordot,
    threshold_,
    topk,
    trace,
    transpose,
    tril,
    tril_indices,
    triu,
    triu_indices,
    true_divide,
    trunc,
    unbind,
    unflatten,
    unique,
    unique_consecutive,
    unsqueeze,
    var,
    var_mean,
    where,
    xlogy,
)

configure_allocator()  # keep freed memory for the next step (see backend/allocator.py)

float = float32
double = float64
half = float16
long = int64
int = int32

from soma import (  # noqa: E402  # noqa: E402
    autograd,
    backend,
    data,
    functional,
    io,  # noqa: E402
    nn,  # noqa: E402
    onnx,  # noqa: E402
    optim,  # noqa: E402
    utils,
)
from soma.inspection import summary  # noqa: E402
from soma.io import load, save  # noqa: E402


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x) -> int:
    return x.numel()


def get_num_threads() -> int:
    """Threads NumPy's BLAS may use, as the environment sets them (soma never changes this).

    Reads ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` and falls back to
    the number of CPUs.
    """
    import os

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


class cuda:  # noqa: N801  (mirrors the torch.cuda namespace)
    """soma has only the CPU backend today."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def manual_seed(seed) -> None:
        pass

    @staticmethod
    def manual_seed_all(seed) -> None:
        pass
