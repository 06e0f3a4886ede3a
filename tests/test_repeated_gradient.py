"""The gradient of a full sum or mean is one value repeated: ``backend.repeated`` makes it a
read-only zero-stride view (as ``broadcast_to`` would), and the leaf that receives it owns a
writable copy."""

import numpy as np
import pytest

import soma
from soma.backend import repeated


@pytest.mark.parametrize("shape", [(1000, 128), (), (5,), (0, 3), (2, 0, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_repeated_equals_broadcast_to(shape, dtype):
    value = np.array(7, dtype=dtype)
    view = repeated(value, shape)
    expected = np.broadcast_to(value, shape)
    assert view.shape == expected.shape and view.dtype == expected.dtype
    np.testing.assert_array_equal(view, expected)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[...] = 0


def test_repeated_reads_a_size_one_array_of_any_rank():
    view = repeated(np.array([[[2.5]]], dtype=np.float32), (3, 4))
    np.testing.assert_array_equal(view, np.full((3, 4), 2.5, np.float32))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_a_full_reduction_hands_the_leaf_a_writable_gradient_of_its_own(reduce, keepdim):
    x = soma.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4), requires_grad=True)
    y = getattr(x, reduce)(dim=(0, 1), keepdim=keepdim) * 3
    y.sum().backward()
    expected = np.full((3, 4), 3.0 if reduce == "sum" else 0.25, np.float32)
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    grad = x.grad.numpy()
    assert grad.flags.writeable and grad.strides == (16, 4)
    x.grad.add_(1.0)  # in place: only this leaf's gradient changes
    np.testing.assert_array_equal(x.grad.numpy(), expected + 1)


def test_two_leaves_fed_by_one_sum_do_not_share_memory():
    a = soma.ones(2, 3, requires_grad=True)
    b = soma.ones(2, 3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5.0)
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((2, 3), np.float32))
