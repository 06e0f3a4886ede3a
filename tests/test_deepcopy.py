"""copy.deepcopy of tensors and modules (PyTorch's clone-a-layer idiom, used by Transformer*)."""

import copy

import numpy as np
import pytest

import soma


def test_deepcopy_module_is_independent_and_keeps_sharing():
    shared = soma.nn.Linear(3, 3)
    model = soma.nn.Sequential(shared, soma.nn.ReLU(), shared, soma.nn.LayerNorm(3))
    model[0].weight.grad = soma.ones(3, 3)
    clone = copy.deepcopy(model)
    assert clone[0] is clone[2] and clone[0] is not shared
    assert isinstance(clone[0].weight, soma.nn.Parameter) and clone[0].weight.requires_grad
    np.testing.assert_array_equal(
        clone[0].weight.numpy(force=True), shared.weight.numpy(force=True)
    )
    np.testing.assert_array_equal(clone[0].weight.grad.numpy(), np.ones((3, 3)))
    clone[0].weight.array[...] = 0
    assert np.any(shared.weight.array != 0)
    x = soma.randn(2, 3)
    assert tuple(clone(x).shape) == (2, 3)


def test_deepcopy_keeps_buffer_flags_and_refuses_non_leaves():
    buffer = soma.nn.Buffer(soma.zeros(2), persistent=False)
    assert copy.deepcopy(buffer).persistent is False
    with pytest.raises(RuntimeError, match="leaves"):
        copy.deepcopy(soma.ones(2, requires_grad=True) * 2)
