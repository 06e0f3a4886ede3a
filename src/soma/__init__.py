"""soma: a deep-learning framework on NumPy, readable end to end, with PyTorch's API.

    import soma as torch      # the lectures' PyTorch code runs unchanged

The public surface mirrors PyTorch: tensors and their factories here, layers in ``soma.nn``,
optimizers in ``soma.optim``, data in ``soma.data`` (also ``soma.utils.data``).
"""

import builtins
import importlib.util
import os as _os

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
from soma.autograd.memory_format import (
    channels_last,
    channels_last_3d,
    contiguous_format,
    memory_format,
    preserve_format,
)
from soma.autograd.tensor_str import get_printoptions, printoptions, set_printoptions
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
from soma.backend.random import Generator, default_generator, manual_seed
from soma.functional import (
    abs,
    absolute,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    bmm,
    broadcast_to,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    cumsum,
    div,
    divide,
    dot,
    einsum,
    eq,
    equal,
    exp,
    expm1,
    flatten,
    flip,
    floor,
    floor_divide,
    fmod,
    gather,
    ge,
    greater,
    greater_equal,
    gt,
    index_select,
    isfinite,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    multiply,
    narrow,
    ne,
    neg,
    negative,
    nonzero,
    norm,
    not_equal,
    outer,
    permute,
    pow,
    prod,
    reciprocal,
    relu,
    remainder,
    repeat,
    reshape,
    roll,
    round,
    rsqrt,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    subtract,
    sum,
    swapaxes,
    t,
    tanh,
    topk,
    transpose,
    true_divide,
    trunc,
    unbind,
    unflatten,
    unsqueeze,
    var,
    where,
)
from soma.functional.bitwise import (
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
)

# isort: split
# ---- tensor operations added for PyTorch parity (issue 11 §3)
from soma import linalg, special
from soma.functional import (
    acos,
    acosh,
    adaptive_avg_pool1d,
    addbmm,
    addcdiv,
    addcmul,
    addmm,
    addmv,
    addr,
    alpha_dropout,
    aminmax,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    argwhere,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    avg_pool1d,
    baddbmm,
    bilinear,
    bincount,
    block_diag,
    broadcast_shapes,
    broadcast_tensors,
    bucketize,
    cartesian_prod,
    cdist,
    celu,
    celu_,
    chain_matmul,
    channel_shuffle,
    clamp_max,
    clamp_min,
    column_stack,
    combinations,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    copysign,
    corrcoef,
    cosh,
    cosine_similarity,
    count_nonzero,
    cov,
    cross,
    cummax,
    cummin,
    cumprod,
    cumulative_trapezoid,
    deg2rad,
    diag,
    diag_embed,
    diagflat,
    diagonal,
    diagonal_scatter,
    diff,
    digamma,
    dist,
    dropout,
    dsplit,
    dstack,
    erf,
    erfc,
    erfinv,
    exp2,
    feature_alpha_dropout,
    fix,
    fliplr,
    flipud,
    float_power,
    fmax,
    fmin,
    frac,
    gcd,
    ger,
    group_norm,
    hardshrink,
    heaviside,
    histc,
    histogram,
    hsplit,
    hstack,
    hypot,
    index_add,
    index_copy,
    index_fill,
    index_put,
    inner,
    isclose,
    isin,
    isneginf,
    isposinf,
    isreal,
    kron,
    kthvalue,
    layer_norm,
    lcm,
    ldexp,
    lerp,
    lgamma,
    logaddexp,
    logaddexp2,
    logcumsumexp,
    logit,
    masked_scatter,
    masked_select,
    matrix_power,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    median,
    meshgrid,
    mode,
    moveaxis,
    movedim,
    msort,
    mv,
    mvlgamma,
    nan_to_num,
    nanmean,
    nanmedian,
    nanquantile,
    nansum,
    pairwise_distance,
    pdist,
    pixel_shuffle,
    pixel_unshuffle,
    polygamma,
    positive,
    prelu,
    put,
    quantile,
    rad2deg,
    ravel,
    relu_,
    renorm,
    repeat_interleave,
    rot90,
    row_stack,
    rrelu,
    rrelu_,
    rsub,
    scatter,
    scatter_reduce,
    searchsorted,
    select,
    select_scatter,
    selu,
    selu_,
    sgn,
    signbit,
    sinc,
    sinh,
    slice_scatter,
    std_mean,
    swapdims,
    take,
    take_along_dim,
    tan,
    tensor_split,
    tensordot,
    threshold,
    threshold_,
    tile,
    trace,
    trapezoid,
    trapz,
    tril,
    tril_indices,
    triu,
    triu_indices,
    unique,
    unique_consecutive,
    unravel_index,
    vander,
    var_mean,
    vdot,
    vsplit,
    vstack,
    xlogy,
)
from soma.functional.decomposition import pinverse

configure_allocator()  # keep freed memory for the next step (see backend/allocator.py)

float = float32
double = float64
half = float16
long = int64
int = int32

# issue 11 (optim helper): sparse COO tensors
from soma import (  # noqa: E402  # noqa: E402
    autograd,
    backend,
    data,
    functional,
    io,  # noqa: E402
    nn,  # noqa: E402
    onnx,  # noqa: E402
    optim,  # noqa: E402
    sparse,  # noqa: E402
    utils,
)
from soma.functional.sparse import mm as spmm  # noqa: E402
from soma.functional.sparse import sparse_coo, sparse_coo_tensor  # noqa: E402
from soma.inspection import summary  # noqa: E402
from soma.io import load, save  # noqa: E402


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x) -> int:
    return x.numel()


def get_num_threads() -> int:
    """soma's intra-op threads.

    ``set_num_threads``'s value, else what the environment gives BLAS: ``OPENBLAS_NUM_THREADS``,
    ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``, falling back to the number of CPUs. soma never
    changes BLAS's own threads. Its compiled kernels use this many threads while the machine's
    other cores are idle, its NumPy passes only after ``set_num_threads``
    (``soma.backend.parallel`` says why).
    """
    return _parallel.get_num_threads()


# PyTorch's namespaces and conventions (issue 11): soma.cuda, soma.backends, soma.FloatTensor, …
from soma.backend import parallel as _parallel  # noqa: E402
from soma.backend.device import get_default_device, set_default_device  # noqa: E402
from soma.backend.dtypes import dtype, finfo, iinfo  # noqa: E402
from soma.compat import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    accelerator,
    amp,
    backends,
    cuda,
    install_as_torch,
    serialization,
)
from soma.compat.amp import autocast  # noqa: E402
from soma.compat.runtime import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    compile,
    get_float32_matmul_precision,
    get_rng_state,
    initial_seed,
    seed,
    set_float32_matmul_precision,
    set_num_threads,
    set_rng_state,
    use_deterministic_algorithms,
)

# ---------------------------------------------------------------------- lazy attributes (PEP 562)
# `import soma` stays light; `soma.models.resnet18`, `soma.train.fit` … import on first use, as
# SciPy's submodules do. `soma.load_model(run)` reads a trained run back (soma.train.workflow).
_LAZY_SUBMODULES = ("models", "train", "inspection", "distributed", "testing", "random")


def __getattr__(name):
    if name in _LAZY_SUBMODULES and importlib.util.find_spec(f"soma.{name}") is not None:
        return importlib.import_module(f"soma.{name}")
    if name == "load_model":
        from soma.train.workflow import load_model  # lazy: `import soma` stays light

        return load_model
    raise AttributeError(f"module 'soma' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES) | {"load_model"})


# PyTorch's top-level older spellings and helpers (torch.det, torch.svd, torch.pi, windows …)
from soma.functional.torch_spellings import INPLACE_FUNCTIONS as _INPLACE  # noqa: E402

globals().update({name: fn for name, fn in _INPLACE.items() if name not in globals()})

# PyTorch's keyword names on every function of this module: input=/other=, axis=/keepdims=, and
# out= on those PyTorch gives it (soma/autograd/keywords.py); soma.functional keeps the plain
# kernels. Keep this last: a function exported below it would not be adapted.
from soma.autograd.keywords import adapt_namespace as _adapt_namespace  # noqa: E402
from soma.functional.torch_spellings import (  # noqa: E402
    bartlett_window,
    blackman_window,
    det,
    e,
    hamming_window,
    hann_window,
    inf,
    inverse,
    is_floating_point,
    is_nonzero,
    is_same_size,
    logdet,
    nan,
    newaxis,
    pi,
    promote_types,
    qr,
    range,
    result_type,
    scalar_tensor,
    slogdet,
    svd,
)

_adapt_namespace(globals())
