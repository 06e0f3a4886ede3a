"""Convolutions of integer tensors, as PyTorch computes them on the CPU.

PyTorch convolves int64 tensors in every convolution (plain, grouped, dilated, transposed) and
int8, int16, int32 and uint8 ones in the plain undilated convolution only, with the integer
dtype's wrap-around arithmetic; it raises NotImplementedError for bool and for the other
integer cases. soma computes the same exact integers (NumPy's integer products: the sums wrap
the same way in any order) and raises the same error type. The PyTorch comparisons skip
without it; the hand-worked values do not need it.
"""

import numpy as np
import pytest

import soma
import soma.nn.functional as F


def test_int64_conv1d_by_hand():
    x = soma.tensor([[[1, 2, 3, 4]]])
    w = soma.tensor([[[1, 0, -1]]])
    y = F.conv1d(x, w, soma.tensor([10]))
    assert y.dtype == soma.int64
    assert y.tolist() == [[[1 - 3 + 10, 2 - 4 + 10]]]


def test_int8_conv2d_wraps_as_int8_arithmetic():
    """3×3 ones over 100s: 900 → 900 - 4·256 = -124 in int8 (two's complement), as PyTorch."""
    x = soma.from_numpy(np.full((1, 1, 3, 3), 100, dtype=np.int8))
    w = soma.from_numpy(np.ones((1, 1, 3, 3), dtype=np.int8))
    y = F.conv2d(x, w)
    assert y.dtype == soma.int8
    assert y.tolist() == [[[[-124]]]]


def test_int64_transposed_conv_by_hand():
    y = F.conv_transpose1d(soma.tensor([[[1, 2]]]), soma.tensor([[[1, 10, 100]]]), stride=2)
    assert y.dtype == soma.int64
    assert y.tolist() == [[[1, 10, 102, 20, 200]]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, w: F.conv2d(x, w, dilation=2), "int32 tensors in a dilated convolution"),
        (lambda x, w: F.conv_transpose2d(x, w), "int32 tensors in a transposed convolution"),
    ],
)
def test_narrow_integers_outside_the_plain_convolution_are_refused(call, message):
    x = soma.from_numpy(np.ones((1, 2, 5, 5), dtype=np.int32))
    w = soma.from_numpy(np.ones((2, 2, 3, 3), dtype=np.int32))
    with pytest.raises(NotImplementedError, match=message):
        call(x, w)


def test_bool_convolutions_are_refused():
    x = soma.ones(1, 1, 3, 3, dtype=soma.bool)
    with pytest.raises(NotImplementedError, match="conv2d: no convolution of bool tensors"):
        F.conv2d(x, x)


def test_mixed_dtypes_still_name_both():
    x = soma.ones(1, 1, 3, 3, dtype=soma.int64)
    with pytest.raises(TypeError, match=r"conv2d: input \(int64\) and weight \(float32\)"):
        F.conv2d(x, soma.ones(1, 1, 3, 3))


# (op, input shape, weight shape, keyword arguments): every kernel family soma has for floats
CASES = [
    ("conv1d", (2, 3, 9), (4, 3, 3), {"padding": 1, "stride": 2}),
    ("conv2d", (2, 3, 6, 5), (4, 3, 3, 3), {"padding": 1}),
    ("conv2d", (2, 20, 6, 6), (8, 20, 3, 3), {"padding": 1}),  # wide: Winograd for floats
    ("conv2d", (2, 20, 6, 6), (8, 20, 1, 1), {}),  # pointwise
    ("conv2d", (2, 4, 6, 6), (8, 1, 3, 3), {"groups": 4}),  # depthwise, multiplier 2
    ("conv2d", (2, 6, 7, 7), (6, 2, 3, 3), {"groups": 3, "stride": 2, "dilation": 2}),
    ("conv3d", (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), {"padding": (1, 0, 1)}),
    ("conv_transpose1d", (2, 3, 5), (3, 4, 3), {"stride": 2, "output_padding": 1}),
    ("conv_transpose2d", (2, 4, 4, 5), (4, 2, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ("conv_transpose3d", (1, 2, 3, 3, 2), (2, 3, 2, 2, 2), {"stride": 2}),
]
DTYPES = ["int8", "uint8", "int16", "int32", "int64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op, x_shape, w_shape, kwargs", CASES)
def test_matches_pytorch(torch_or_skip, dtype, op, x_shape, w_shape, kwargs):
    torch = torch_or_skip
    rng = np.random.default_rng(len(x_shape) + len(kwargs))
    x = rng.integers(-60, 60, x_shape).astype(dtype)  # large enough to wrap in 8 bits
    w = rng.integers(-60, 60, w_shape).astype(dtype)
    out_channels = w_shape[1] * kwargs.get("groups", 1) if "transpose" in op else w_shape[0]
    b = rng.integers(-60, 60, out_channels).astype(dtype)
    try:
        expected = getattr(torch.nn.functional, op)(
            torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kwargs
        )
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match=op):
            getattr(F, op)(soma.from_numpy(x), soma.from_numpy(w), soma.from_numpy(b), **kwargs)
        return
    got = getattr(F, op)(soma.from_numpy(x), soma.from_numpy(w), soma.from_numpy(b), **kwargs)
    assert got.dtype == soma.from_numpy(expected.numpy()).dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
