"""Element-wise arithmetic on two same-shaped arrays in different memory orders lays its result
out as the first operand, PyTorch's rule (its first operand with an unambiguous stride order
decides). NumPy's order "K" falls back to C order when the operands disagree, which turned a
DDPM denoiser's channels-last residual sums (channels-last + channel-major) into C order and
every layer after them with it."""

import numpy as np
import pytest

import soma

ORDERS = {
    "contiguous": (0, 1, 2, 3),
    "channels_last": (0, 2, 3, 1),
    "channel_major": (1, 0, 2, 3),
}
OPS = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (soma.maximum, np.maximum),
    "minimum": (soma.minimum, np.minimum),
}


def _in_order(x, axes):
    return np.ascontiguousarray(x.transpose(axes)).transpose(np.argsort(axes))


def _memory_order(a):
    return tuple(int(i) for i in np.argsort([-s for s in a.strides], kind="stable"))


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize(
    "first,second",
    [
        ("channels_last", "channel_major"),
        ("channel_major", "contiguous"),
        ("contiguous", "channels_last"),
    ],
)
def test_result_follows_the_first_operand(op, first, second):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b_np = rng.uniform(0.5, 2.0, (2, 3, 4, 5)).astype(np.float32)
    a = soma.Tensor(_in_order(a_np, ORDERS[first]))  # NOTE: soma.Tensor keeps the memory order
    b = soma.Tensor(_in_order(b_np, ORDERS[second]))
    soma_op, numpy_op = OPS[op]
    y = soma_op(a, b).numpy()
    assert _memory_order(y) == ORDERS[first]
    np.testing.assert_array_equal(y, numpy_op(a_np, b_np))


def test_mixed_dtypes_and_broadcasts_keep_numpys_rules():
    a = soma.Tensor(_in_order(np.ones((2, 3, 4, 5), np.float32), ORDERS["channels_last"]))
    b = soma.Tensor(np.full((2, 3, 4, 5), 2, np.int64))
    assert (a / b).dtype == soma.float32
    np.testing.assert_array_equal((a / b).numpy(), np.full((2, 3, 4, 5), 0.5, np.float32))
    c = soma.Tensor(np.arange(3.0, dtype=np.float32).reshape(1, 3, 1, 1))
    y = (a + c).numpy()
    assert _memory_order(y) == ORDERS["channels_last"]
    np.testing.assert_array_equal(
        y,
        1
        + np.arange(3.0, dtype=np.float32).reshape(1, 3, 1, 1)
        + np.zeros((2, 3, 4, 5), np.float32),
    )
