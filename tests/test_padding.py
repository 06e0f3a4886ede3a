"""``pad`` and the padding layers against PyTorch: every mode and dimension, with gradients."""

import numpy as np
import pytest

import soma
import soma.nn as nn
from tests.conftest import to_torch

MODES = ["constant", "reflect", "replicate", "circular"]

# input shape, pad
CASES = [
    ((3, 6), (2, 3)),
    ((2, 3, 6), (0, 5)),
    ((2, 3, 6), (-2, 4)),
    ((2, 3, 6), (3, -1)),
    ((3, 4, 5), (1, 2, 3, 0)),
    ((2, 3, 4, 5), (4, 1, -1, 2)),
    ((3, 4, 5, 3), (1, 1, 2, 0, 0, 3)),
    ((1, 2, 4, 3, 5), (-1, 2, 2, 1, 1, -2)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, pad", CASES)
def test_pad_matches_torch(torch_or_skip, mode, shape, pad):
    torch = torch_or_skip
    x = np.random.default_rng(0).standard_normal(shape)
    xs, xt = soma.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    ys = soma.nn.functional.pad(xs, pad, mode=mode)
    yt = torch.nn.functional.pad(xt, pad, mode=mode)
    np.testing.assert_array_equal(ys.detach().numpy(), yt.detach().numpy())
    gy = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    ys.backward(soma.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_constant_pad_any_number_of_dims_and_value(torch_or_skip):
    torch = torch_or_skip
    x = np.arange(24.0).reshape(2, 3, 4)
    for pad in [(1, 1), (0, 2, -1, 1), (1, 0, 0, 1, 2, 1)]:
        ours = soma.nn.functional.pad(soma.tensor(x), pad, value=-7.0)
        theirs = torch.nn.functional.pad(torch.from_numpy(x), pad, value=-7.0)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_integer_tensors_keep_their_dtype():
    x = soma.arange(6).reshape(1, 2, 3)
    y = soma.nn.functional.pad(x, (1, 1), mode="reflect")
    assert y.dtype == soma.int64 and y.tolist() == [[[1, 0, 1, 2, 1], [4, 3, 4, 5, 4]]]


LAYERS = [
    ("ZeroPad1d", (1, 2), (2, 3, 5)),
    ("ZeroPad2d", (1, 0, 2, 1), (2, 3, 4, 5)),
    ("ZeroPad3d", 1, (1, 2, 3, 4, 2)),
    ("ConstantPad1d", 2, (3, 4)),
    ("ConstantPad2d", (0, 1, 1, 2), (3, 4, 5)),
    ("ConstantPad3d", (1, 0, 0, 1, 2, 0), (2, 2, 3, 2)),
    ("ReflectionPad1d", (2, 1), (2, 3, 5)),
    ("ReflectionPad2d", 2, (2, 3, 4, 5)),
    ("ReflectionPad3d", (1, 0, 2, 1, 1, 1), (1, 2, 3, 4, 3)),
    ("ReplicationPad1d", 3, (3, 4)),
    ("ReplicationPad2d", (0, 3, 1, 1), (3, 4, 5)),
    ("ReplicationPad3d", 2, (1, 2, 2, 3, 3)),
    ("CircularPad1d", (1, 2), (2, 3, 5)),
    ("CircularPad2d", (2, 2, 1, 0), (2, 3, 4, 5)),
    ("CircularPad3d", 1, (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("name, padding, shape", LAYERS)
def test_padding_layers_match_torch(torch_or_skip, name, padding, shape):
    torch = torch_or_skip
    extra = (1.5,) if name.startswith("Constant") else ()
    ours, theirs = getattr(nn, name)(padding, *extra), getattr(torch.nn, name)(padding, *extra)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xs, xt = soma.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_array_equal(ys.detach().numpy(), yt.detach().numpy())
    gy = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    ys.backward(soma.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_lecture_zero_border():
    """The 5×5 image of the layers lecture with its border of zeros is 7×7."""
    y = nn.ZeroPad2d(1)(soma.ones(1, 5, 5))
    assert tuple(y.shape) == (1, 7, 7)
    assert y[0, 0].tolist() == [0.0] * 7 and y[0, 3].tolist() == [0.0] + [1.0] * 5 + [0.0]


@pytest.mark.parametrize(
    "args, error, message",
    [
        (((2, 3, 4), (1, 2, 3)), ValueError, r"even length"),
        (((3,), (1, 1, 1, 1)), ValueError, r"pad 2 dimensions, but the input has shape \(3,\)"),
        (((2, 3, 4), (1, 1), "wrap"), ValueError, r"mode must be one of"),
        (
            ((2, 3, 4), (4, 0), "reflect"),
            ValueError,
            r"reflect padding \(4, 0\) of dimension 2 must be smaller than that dimension's size 4",
        ),
        (
            ((2, 3, 4), (0, 5), "circular"),
            ValueError,
            r"circular padding \(0, 5\) of dimension 2 must "
            r"be at most",
        ),
        (((4,), (1, 1), "reflect"), ValueError, r"needs a 2-D or 3-D input"),
        (((2, 4), (1, 1, 1, 1), "replicate"), ValueError, r"needs a 3-D or 4-D input"),
        (((2, 3), (-2, -2)), ValueError, r"negative size"),
    ],
)
def test_pad_errors(args, error, message):
    shape, pad, *mode = args
    with pytest.raises(error, match=message):
        soma.nn.functional.pad(soma.zeros(*shape), pad, *mode)


def test_value_only_in_constant_mode():
    with pytest.raises(ValueError, match=r"mode 'reflect' takes no value"):
        soma.nn.functional.pad(soma.zeros(1, 2, 3), (1, 1), mode="reflect", value=1.0)
