"""Pooling of integer tensors, as PyTorch does it: max pooling of int8 … int64 and uint8 (the
padding never wins: it is the dtype's smallest value), average pooling of int64 (the window's
int64 sum divided by the divisor with C's integer division, truncated toward zero)."""

import numpy as np
import pytest

import soma
from soma.nn import functional as F


def _ints(values, dtype=soma.int64):
    return soma.tensor(values, dtype=dtype)


def test_int64_average_is_the_sum_divided_and_truncated_toward_zero():
    x = _ints([[[-7, 0, -5, -1, 3, 4]]])
    y = F.avg_pool1d(x, 2)
    assert y.dtype == soma.int64
    assert y.tolist() == [[[-3, -3, 3]]]  # -3.5, -3, 3.5: toward zero, not floor
    # windows [pad, -7, 0], [-7, 0, -5], … divided by 3 (the padding counted) or by the
    # elements inside (count_include_pad=False): -7/3, -12/3, -6/3, -3/3, 6/3, 7/3
    assert F.avg_pool1d(x, 3, stride=1, padding=1).tolist() == [[[-2, -4, -2, -1, 2, 2]]]
    y = F.avg_pool1d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert y.tolist() == [[[-3, -4, -2, -1, 2, 3]]]  # -7/2, …, 7/2


def test_int64_average_with_a_negative_divisor_override_and_ceil_mode():
    x = _ints([[[-7, 0, -5], [-1, 3, 4]]])  # (C, H, W) = (1, 2, 3)
    # windows of 2x2: (-7 + 0 - 1 + 3) = -5 and, ceil_mode, the partial (-5 + 4) = -1
    y = F.avg_pool2d(x, 2, ceil_mode=True, divisor_override=-3)
    assert y.tolist() == [[[1, 0]]]  # -5/-3 = 1.67 → 1, -1/-3 = 0.33 → 0


def test_int64_average_of_large_values_is_exact():
    big = 2**53 + 1  # not a float64: a float path would round it
    x = _ints([[[big, big + 2, -big, -big - 4]]])
    assert F.avg_pool1d(x, 2).tolist() == [[[big + 1, -big - 2]]]


@pytest.mark.parametrize("dtype", [soma.int8, soma.int16, soma.int32, soma.int64, soma.uint8])
def test_integer_max_pooling_never_picks_the_padding(dtype):
    info = np.iinfo(np.dtype(str(dtype).replace("soma.", "")))
    low = int(info.min)
    x = _ints([[[low, low, 5, low + 1]]], dtype)
    y, idx = F.max_pool1d(x, 3, stride=1, padding=1, return_indices=True)
    assert y.dtype == dtype
    assert y.tolist() == [[[low, 5, 5, 5]]]
    assert idx.tolist() == [[[0, 2, 2, 2]]]  # the first maximum inside the input


def test_integer_dtypes_pytorch_does_not_pool_are_refused():
    with pytest.raises(
        TypeError, match="max_pool2d: expected a floating-point or int8/.* got bool"
    ):
        F.max_pool2d(soma.ones(1, 1, 4, 4, dtype=soma.bool), 2)
    with pytest.raises(TypeError, match="avg_pool2d: expected a floating-point or int64 input"):
        F.avg_pool2d(soma.ones(1, 1, 4, 4, dtype=soma.int32), 2)


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True, divisor_override=-3),
]
MAX_CASES = [
    dict(kernel_size=3, stride=2, padding=1, return_indices=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
    dict(kernel_size=(2, 3), dilation=(2, 1), stride=(1, 2)),
]
# (4, 5, 7, 9): 20 planes, so that 3x3 windows run in the pixels layout too
SHAPES = [(2, 3, 7, 9), (4, 5, 7, 9), (3, 7, 9)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_int64_average_pooling_matches_pytorch(kw, shape):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).integers(-50, 50, shape)
    for channels_last in (False, True):
        if channels_last and len(shape) == 4:
            a = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        expected = torch.nn.functional.avg_pool2d(torch.from_numpy(a), **kw).numpy()
        got = F.avg_pool2d(soma.from_numpy(a), **kw).numpy()
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    a3 = np.random.default_rng(1).integers(-50, 50, (2, 2, 5, 4, 6))
    kw3 = {k: (v[0],) + v if isinstance(v, tuple) else v for k, v in kw.items()}  # (a, a, b)
    expected = torch.nn.functional.avg_pool3d(torch.from_numpy(a3), **kw3).numpy()
    np.testing.assert_array_equal(F.avg_pool3d(soma.from_numpy(a3), **kw3).numpy(), expected)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_integer_max_pooling_matches_pytorch(kw, dtype):
    torch = pytest.importorskip("torch")
    low = 0 if dtype == "uint8" else -100
    for shape in SHAPES:
        a = np.random.default_rng(2).integers(low, 100, shape).astype(dtype)
        expected = torch.nn.functional.max_pool2d(torch.from_numpy(a), **kw)
        got = F.max_pool2d(soma.from_numpy(a), **kw)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        for s, t in zip(got, expected):
            assert s.numpy().dtype == t.numpy().dtype
            np.testing.assert_array_equal(s.numpy(), t.numpy())


@pytest.mark.parametrize("dtype", [soma.float16, soma.float32, soma.float64])
def test_max_pooling_points_inside_the_input_where_the_maximum_equals_the_padding(
    dtype, monkeypatch
):
    """A window whose elements are all −inf has the padding's value as its maximum: PyTorch's
    index is then the window's first element inside the input (and its gradient goes there),
    never a padding position (the NumPy path gave −1 and −7 here)."""
    from soma.functional.pooling import _max_kernels

    monkeypatch.setattr(_max_kernels, "applies", lambda win, x: False)  # the NumPy path
    inf = float("inf")
    x = soma.tensor([[[-inf, -inf, 5.0]]], dtype=dtype, requires_grad=True)
    y, idx = F.max_pool1d(x, 3, stride=1, padding=1, return_indices=True)
    assert idx.tolist() == [[[0, 2, 2]]]
    (y * soma.tensor([[[1.0, 2.0, 4.0]]], dtype=dtype)).sum().backward()
    assert x.grad.tolist() == [[[1.0, 0.0, 6.0]]]
    cube = soma.full((1, 1, 2, 2, 2), -inf, dtype=dtype)
    _, idx = F.max_pool3d(cube, 2, stride=1, padding=1, return_indices=True)
    # the 3x3x3 outputs: each window's first inside element, in (d, h, w) order
    first = [0, 0, 1, 0, 0, 1, 2, 2, 3]
    assert idx.flatten().tolist() == first + first + [f + 4 for f in first]
