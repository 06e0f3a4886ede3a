"""Run a soma layer and its ``torch.nn`` twin on the same input; compare outputs and gradients."""

import numpy as np

import soma
from tests.conftest import copy_weights
from tests.torch_oracle import torch


def outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def compare_layers(ours, theirs, x, *, rtol=1e-7, atol=1e-10, copy=True, seed=1):
    """Forward both layers on ``x`` (an array); compare every output, then the gradients of a
    random linear function of the float outputs with respect to the input and every parameter.

    Returns the two lists of outputs.
    """
    if copy:
        copy_weights(ours, theirs)
    xs = soma.tensor(x, dtype=x.dtype, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_s, out_t = outputs(ours(xs)), outputs(theirs(xt))
    assert len(out_s) == len(out_t)
    rng = np.random.default_rng(seed)
    loss_s, loss_t = 0.0, 0.0
    for s, t in zip(out_s, out_t):
        expected = t.detach().numpy()
        assert tuple(s.shape) == expected.shape
        assert s.dtype == expected.dtype, (s.dtype, expected.dtype)
        np.testing.assert_allclose(s.detach().numpy(), expected, rtol=rtol, atol=atol)
        if expected.dtype.kind == "f" and t.requires_grad:
            v = rng.standard_normal(expected.shape).astype(expected.dtype)
            loss_s = loss_s + (s * soma.tensor(v)).sum()
            loss_t = loss_t + (t * torch.tensor(v)).sum()
    if isinstance(loss_t, float):
        return out_s, out_t
    loss_s.backward()
    loss_t.backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol * 10)
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(
            p.grad.numpy(), params_t[name].grad.numpy(), rtol=rtol, atol=atol * 10, err_msg=name
        )
    return out_s, out_t


def distinct(rng, shape, dtype=np.float64):
    """Values without ties (each window of a max pooling has a single maximum)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / n * 4 - 2).astype(dtype)
