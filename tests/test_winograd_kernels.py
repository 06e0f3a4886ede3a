"""Compiled Winograd transforms (``conv/_winograd_kernels.py``) against the NumPy transforms.

The kernels perform the NumPy form's additions in the same order, so the tests ask for the same
bits (signs of zeros included), on odd and even sizes, paddings 0–3 and a cropping −1, batch 1,
one channel, float32 and float64, channels-last and NCHW-ordered memory, with and without a
bias, and split across two threads. The convolution built from them is checked against PyTorch
and by finite differences in ``test_conv_winograd.py`` (which runs on this path when Numba is
installed and on the NumPy path otherwise).
"""

import numpy as np
import pytest

from soma.backend import compiled, parallel
from soma.functional.conv import _winograd, _winograd_kernels
from tests.conftest import needs_compiled

# (batch, channels, height, width, ((top, bottom), (left, right)))
CASES = [
    (3, 5, 7, 7, ((1, 1), (1, 1))),
    (2, 4, 6, 6, ((0, 0), (0, 0))),
    (2, 3, 9, 8, ((2, 2), (2, 2))),
    (2, 16, 8, 5, ((1, 0), (0, 1))),
    (1, 6, 5, 5, ((-1, -1), (-1, -1))),  # the input gradient's padding 2 − 3 crops
    (1, 1, 4, 3, ((3, 3), (3, 3))),
    (2, 7, 1, 1, ((1, 1), (1, 1))),
]


def _out_size(h, w, pads):
    return (h + sum(pads[0]) - 2, w + sum(pads[1]) - 2)


def _input(n, c, h, w, dtype, nchw, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, h, w, c)).astype(dtype)
    # an NCHW array seen channels-last: the kernels' wrapper copies it to channels-last first
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, -1, 1)), 1, -1) if nchw else x


def _both(fn):
    """fn() on the NumPy path, then on the compiled path."""
    with compiled.disabled():
        reference = fn()
    return reference, fn()


def _same_bits(ours, reference):
    np.testing.assert_array_equal(ours, reference)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(reference))


@pytest.mark.parametrize("nchw", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, h, w, pads", CASES)
def test_input_transform_gives_the_numpy_bits(n, c, h, w, pads, dtype, nchw):
    needs_compiled()
    x = _input(n, c, h, w, dtype, nchw)
    out_size = _out_size(h, w, pads)
    _same_bits(*_both(lambda: _winograd.transform_input(x, pads, out_size))[::-1])


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, o, ho, wo", [(3, 5, 7, 7), (2, 4, 6, 5), (1, 1, 1, 1), (2, 9, 4, 8)])
def test_output_transform_gives_the_numpy_bits(n, o, ho, wo, dtype, bias):
    needs_compiled()
    rng = np.random.default_rng(1)
    tiles = n * -(-ho // 2) * -(-wo // 2)
    m = rng.standard_normal((16, tiles, o)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None

    def run():
        y = np.full((n, ho, wo, o), np.nan, dtype=dtype)
        _winograd.transform_output(m, y, b)
        return y

    reference, ours = _both(run)
    assert not np.isnan(ours).any()  # every output position written
    _same_bits(ours, reference)


@pytest.mark.parametrize("nchw", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, o, ho, wo", [(3, 5, 7, 7), (2, 4, 6, 5), (1, 1, 1, 1), (2, 9, 4, 8)])
def test_grad_transform_gives_the_numpy_bits(n, o, ho, wo, dtype, nchw):
    needs_compiled()
    gy = _input(n, o, ho, wo, dtype, nchw, seed=2)
    _same_bits(*_both(lambda: _winograd.transform_grad(gy))[::-1])


def test_split_across_threads_gives_the_same_bits():
    needs_compiled()
    x = _input(5, 6, 9, 7, np.float32, False, seed=3)
    pads, out_size = ((1, 1), (1, 1)), (9, 7)
    w = np.random.default_rng(4).standard_normal((4, 6, 3, 3)).astype(np.float32)
    one = _winograd.conv(x, _winograd.transform_weight(w), None, pads, out_size)
    one_grad = _winograd.transform_grad(one)
    previous, threads = parallel.set_min_elements(1), parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        two = _winograd.conv(x, _winograd.transform_weight(w), None, pads, out_size)
        two_grad = _winograd.transform_grad(two)
    finally:
        parallel.set_min_elements(previous)
        parallel.set_num_threads(threads)
    _same_bits(two, one)
    _same_bits(two_grad, one_grad)


def test_float16_and_turned_off_take_the_numpy_path():
    x16 = np.zeros((1, 4, 4, 2), dtype=np.float16)
    assert not _winograd_kernels.applies(x16)
    with compiled.disabled():
        assert not _winograd_kernels.applies(x16.astype(np.float32))
