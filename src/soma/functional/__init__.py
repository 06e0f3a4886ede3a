"""Every differentiable operation in soma, as a function on tensors.

The public name is ``soma.nn.functional`` (PyTorch's), which re-exports this package; the
tensor-level ops (``soma.exp``, ``soma.cat`` …) are also exported at the top of ``soma``.
"""

# issue 11 (optim helper): distances, gating, RMS norm, channel shuffle, more losses
from soma.functional.activation.gated import glu
from soma.functional.activation.piecewise import (
    celu,
    elu,
    exponential,
    gelu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    maxout,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    step,
    tanh,
    tanhshrink,
    threshold,
)
from soma.functional.attention import multi_head_attention_forward, scaled_dot_product_attention
from soma.functional.bitwise import (
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
)
from soma.functional.conv.convolution import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from soma.functional.conv.fold import fold, unfold
from soma.functional.distance import cosine_similarity, normalize, pairwise_distance
from soma.functional.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from soma.functional.elementwise import (
    add,
    allclose,
    cast,
    clamp,
    clip,
    clone,
    div,
    divide,
    eq,
    equal,
    floor_divide,
    fmod,
    ge,
    greater,
    greater_equal,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    multiply,
    ne,
    not_equal,
    pow,
    remainder,
    square,
    sub,
    subtract,
    true_divide,
    where,
)
from soma.functional.embedding import embedding, embedding_bag, one_hot
from soma.functional.indexing import (
    gather,
    getitem,
    index_select,
    narrow,
    nonzero,
    scatter_add,
    setitem_,
)
from soma.functional.linalg import bmm, dot, einsum, linear, matmul, mm, outer
from soma.functional.loss.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from soma.functional.loss.ctc import ctc_loss
from soma.functional.loss.divergence import kl_div
from soma.functional.loss.embedding import cosine_embedding_loss
from soma.functional.loss.generative import (
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl,
    vae_loss,
)
from soma.functional.loss.probabilistic import gaussian_nll_loss, poisson_nll_loss
from soma.functional.loss.ranking import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from soma.functional.loss.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from soma.functional.loss.segmentation import (  # noqa: E402
    dice_loss,
    focal_loss,
    sigmoid_focal_loss,
)
from soma.functional.normalization.batch import batch_norm
from soma.functional.normalization.layer import group_norm, instance_norm, layer_norm
from soma.functional.normalization.local_response import local_response_norm
from soma.functional.normalization.rms import rms_norm
from soma.functional.padding import pad
from soma.functional.pooling.adaptive import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
)
from soma.functional.pooling.lp_min_sum import (
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    min_pool1d,
    min_pool2d,
    min_pool3d,
    sum_pool1d,
    sum_pool2d,
    sum_pool3d,
)
from soma.functional.pooling.max_avg import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from soma.functional.pooling.unpooling import max_unpool1d, max_unpool2d, max_unpool3d
from soma.functional.recurrent.layers import (
    gru,
    gru_cell,
    lstm,
    lstm_cell,
    rnn,
    rnn_relu_cell,
    rnn_tanh_cell,
)
from soma.functional.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    sort,
    std,
    sum,
    topk,
    var,
)
from soma.functional.resample import (
    channel_shuffle,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)
from soma.functional.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    flatten,
    flip,
    permute,
    repeat,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    swapaxes,
    t,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
)
from soma.functional.unary import (
    abs,
    absolute,
    ceil,
    cos,
    exp,
    expm1,
    floor,
    log,
    log1p,
    log2,
    log10,
    neg,
    negative,
    reciprocal,
    round,
    rsqrt,
    sign,
    sin,
    sqrt,
    trunc,
)

# isort: split
# ---- tensor operations added for PyTorch parity (issue 11 §3)
# PyTorch's top-level spellings (torch.det, torch.svd, windows…): Tensor methods reach them as
# ``torch_spellings.X`` (``inverse`` would shadow the ``functional.inverse`` module)
from soma.functional import torch_spellings  # noqa: E402
from soma.functional.activation.gated import (
    celu_,
    elu_,
    gumbel_softmax,
    hardtanh_,
    leaky_relu_,
    relu_,
    rrelu,
    rrelu_,
    selu_,
    threshold_,
)
from soma.functional.arrange import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_shapes,
    broadcast_tensors,
    column_stack,
    combinations,
    diagonal_scatter,
    diff,
    dsplit,
    dstack,
    fliplr,
    flipud,
    hsplit,
    hstack,
    index_put,
    put,
    ravel,
    row_stack,
    select,
    select_scatter,
    slice_scatter,
    swapdims,
    tensor_split,
    tile,
    unravel_index,
    vander,
    vsplit,
    vstack,
)
from soma.functional.cumulative import cummax, cummin, cumprod, logcumsumexp
from soma.functional.distance import (
    cdist,
    pdist,
)
from soma.functional.indexing import (
    masked_scatter,
    masked_select,
    take,
    take_along_dim,
)
from soma.functional.linalg import (
    addbmm,
    addmm,
    addmv,
    addr,
    baddbmm,
    bilinear,
    chain_matmul,
    cross,
    inner,
    kron,
    matrix_power,
    mv,
    tensordot,
    vdot,
)
from soma.functional.linalg import outer as ger
from soma.functional.matrix import (
    block_diag,
    cartesian_prod,
    diag,
    diag_embed,
    diagflat,
    diagonal,
    meshgrid,
    repeat_interleave,
    rot90,
    trace,
    tril,
    tril_indices,
    triu,
    triu_indices,
)
from soma.functional.pointwise import (
    addcdiv,
    addcmul,
    argwhere,
    clamp_max,
    clamp_min,
    copysign,
    float_power,
    fmax,
    fmin,
    frac,
    gcd,
    heaviside,
    hypot,
    isclose,
    isin,
    isneginf,
    isposinf,
    isreal,
    lcm,
    ldexp,
    lerp,
    nan_to_num,
    positive,
    rsub,
    sgn,
    signbit,
)
from soma.functional.pooling.adaptive import (  # noqa: E402
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d_with_indices,
)
from soma.functional.pooling.max_avg import (  # noqa: E402
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_pool3d_with_indices,
)
from soma.functional.reduction import (
    aminmax,
    count_nonzero,
    std_mean,
    var_mean,
)
from soma.functional.sampling import affine_grid, grid_sample
from soma.functional.scatter import (
    index_add,
    index_copy,
    index_fill,
    scatter,
    scatter_reduce,
)
from soma.functional.shape import moveaxis, movedim
from soma.functional.sorting import (
    bincount,
    bucketize,
    histc,
    kthvalue,
    median,
    mode,
    msort,
    nanmedian,
    searchsorted,
    unique,
    unique_consecutive,
)
from soma.functional.special import (
    digamma,
    erf,
    erfc,
    erfinv,
    exp2,
    lgamma,
    logaddexp,
    logaddexp2,
    logit,
    mvlgamma,
    polygamma,
    sinc,
    xlogy,
)
from soma.functional.statistics import (
    corrcoef,
    cov,
    cumulative_trapezoid,
    dist,
    histogram,
    nanmean,
    nanquantile,
    nansum,
    quantile,
    renorm,
    trapezoid,
    trapz,
)
from soma.functional.trigonometric import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cosh,
    deg2rad,
    rad2deg,
    sinh,
    tan,
)
from soma.functional.unary import fix
