"""How many multiply-accumulate operations (mult-adds) one call of a layer performs.

Each rule receives the module, its positional inputs and its (first) output tensor. Rules are
looked up by class name along the module's class hierarchy, so subclasses inherit them; a module
may define ``mult_adds(self, inputs, output)`` to count itself.
"""

from math import prod


def _numel(t):
    return prod(t.shape) if t is not None else 0


def _linear(m, inputs, out):
    # every output element is a dot product of length in_features
    return _numel(out) * m.in_features


def _bilinear(m, inputs, out):
    return _numel(out) * m.in1_features * m.in2_features


def _conv(m, inputs, out):
    # every output element sums (in_channels / groups) · kernel_elements products
    return _numel(out) * (m.in_channels // m.groups) * prod(m.kernel_size)


def _conv_transpose(m, inputs, out):
    # every input element is scattered into (out_channels / groups) · kernel_elements outputs
    return _numel(inputs[0]) * (m.out_channels // m.groups) * prod(m.kernel_size)


def _affine_norm(m, inputs, out):
    affine = getattr(m, "affine", None)
    if affine is None:
        affine = getattr(m, "elementwise_affine", False)
    return _numel(out) if affine else 0


def _recurrent(m, inputs, out):
    """Gate matrix products of every layer, direction and time step."""
    gates = {"LSTM": 4, "GRU": 3}.get(type(m).__name__, 1)
    x = inputs[0]
    data = getattr(x, "data", x) if type(x).__name__ == "PackedSequence" else x
    steps_times_batch = prod(data.shape[:-1])
    directions = 2 if m.bidirectional else 1
    hidden = m.hidden_size
    total = 0
    in_size = m.input_size
    for _ in range(m.num_layers):
        total += directions * steps_times_batch * gates * hidden * (in_size + hidden)
        in_size = hidden * directions
    return total


def _recurrent_cell(m, inputs, out):
    gates = {"LSTMCell": 4, "GRUCell": 3}.get(type(m).__name__, 1)
    batch = prod(inputs[0].shape[:-1])
    return batch * gates * m.hidden_size * (m.input_size + m.hidden_size)


def _attention(m, inputs, out):
    """Q, K, V and output projections plus the two attention matrix products."""
    q, k = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
    batch_first = getattr(m, "batch_first", False)
    lq = q.shape[1] if batch_first else q.shape[0]
    lk = k.shape[1] if batch_first else k.shape[0]
    n = prod(q.shape) // (lq * q.shape[-1])
    e = m.embed_dim
    kdim = getattr(m, "kdim", e)
    vdim = getattr(m, "vdim", e)
    projections = n * (lq * e * e + lk * kdim * e + lk * vdim * e + lq * e * e)
    return projections + 2 * n * lq * lk * e


RULES = {
    "Linear": _linear,
    "Bilinear": _bilinear,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "Conv3d": _conv,
    "ConvTranspose1d": _conv_transpose,
    "ConvTranspose2d": _conv_transpose,
    "ConvTranspose3d": _conv_transpose,
    "BatchNorm1d": _affine_norm,
    "BatchNorm2d": _affine_norm,
    "BatchNorm3d": _affine_norm,
    "LayerNorm": _affine_norm,
    "GroupNorm": _affine_norm,
    "InstanceNorm1d": _affine_norm,
    "InstanceNorm2d": _affine_norm,
    "InstanceNorm3d": _affine_norm,
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "RNNCell": _recurrent_cell,
    "LSTMCell": _recurrent_cell,
    "GRUCell": _recurrent_cell,
    "MultiheadAttention": _attention,
}


def mult_adds(module, inputs, output) -> int:
    """Mult-adds of one call of ``module`` (0 for layers without multiplications)."""
    own = getattr(module, "mult_adds", None)
    if callable(own):
        return int(own(inputs, output))
    for cls in type(module).__mro__:
        rule = RULES.get(cls.__name__)
        if rule is not None:
            return int(rule(module, inputs, output))
    return 0
