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
    narrow,
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
