"""``soma.nn.utils``: helpers around parameters and gradients (PyTorch's ``torch.nn.utils``),
packed sequences for recurrent layers (``rnn``) and ``mc_dropout_predict``."""

from soma.nn.utils import rnn
from soma.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from soma.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from soma.nn.utils.mc_dropout import mc_dropout_predict
from soma.nn.utils.regularization import l1_penalty, l2_penalty
from soma.nn.utils.skip_init import skip_init

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "l1_penalty",
    "l2_penalty",
    "mc_dropout_predict",
    "parameters_to_vector",
    "skip_init",
    "rnn",
    "vector_to_parameters",
]
