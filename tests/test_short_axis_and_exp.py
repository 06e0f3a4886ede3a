"""Two fast paths under softmax, log-softmax and cross-entropy, against the plain NumPy forms.

``_utils.reduce_axis`` reduces a short axis that is innermost in memory (channels-last logits'
classes) with elementwise calls; ``activation._kernels.exp`` is the compiled float32 exp.
Both must give NumPy's values (the exp within its 1-ulp bound), in every layout.
"""

import numpy as np
import pytest

import soma
from soma.functional._utils import SHORT_AXIS, reduce_axis
from soma.functional.activation import _kernels


def _channels_last(a):
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


@pytest.mark.parametrize("size", [1, 2, 4, SHORT_AXIS, SHORT_AXIS + 1])
@pytest.mark.parametrize("layout", ["c", "cl", "strided"])
@pytest.mark.parametrize("ufunc", [np.maximum, np.add, np.minimum])
def test_reduce_axis_equals_numpys_reduction(ufunc, layout, size):
    rng = np.random.default_rng(size)
    a = rng.standard_normal((3, size, 5, 7)).astype(np.float32)
    a = {"c": a, "cl": _channels_last(a), "strided": np.repeat(a, 2, axis=-1)[..., ::2]}[layout]
    ours = reduce_axis(ufunc, a, 1)
    expected = ufunc.reduce(a, axis=1, keepdims=True)
    assert ours.shape == expected.shape
    # NOTE: a sum in another order may differ in the last bit
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def test_reduce_axis_propagates_nan_and_reduces_any_axis():
    a = _channels_last(np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2))
    a[1, 2, 0, 1] = np.nan
    m = reduce_axis(np.maximum, a, 1)
    assert np.isnan(m[1, 0, 0, 1]) and np.isfinite(np.delete(m.ravel(), 5)).all()
    b = np.ascontiguousarray(np.random.default_rng(0).standard_normal((50, 6)))
    np.testing.assert_allclose(reduce_axis(np.add, b, -1), b.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("layout", ["c", "cl", "strided"])
def test_exp_kernel_matches_numpy_in_every_layout(layout):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((4, 8, 16, 16)) * 30).astype(np.float32)  # overflows, underflows
    a = {"c": a, "cl": _channels_last(a), "strided": np.repeat(a, 2, axis=-1)[..., ::2]}[layout]
    assert a.size >= _kernels.EXP_SMALL
    with np.errstate(over="raise"):
        ours = _kernels.exp(a)  # no overflow warning: e^x = inf is the right value
    with np.errstate(over="ignore"):
        expected = np.exp(a.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(ours, expected, rtol=2.4e-7, atol=0)
    if layout == "cl":
        assert np.moveaxis(ours, 1, -1).flags.c_contiguous
    inplace = a.copy(order="K")
    assert _kernels.exp(inplace, out=inplace) is inplace
    np.testing.assert_allclose(inplace, ours, rtol=2.4e-7, atol=0)  # strided: NumPy vs kernel


def test_softmax_family_on_channels_last_logits_matches_torch(torch_or_skip):
    torch = torch_or_skip
    a = _channels_last(np.random.default_rng(2).standard_normal((4, 5, 12, 12)).astype(np.float32))
    for name in ("softmax", "log_softmax"):
        x = soma.from_numpy(a.copy(order="K"))
        x.requires_grad = True
        getattr(soma.nn.functional, name)(x, dim=1).pow(2).sum().backward()
        xt = torch.tensor(np.ascontiguousarray(a), requires_grad=True)
        yt = getattr(torch.nn.functional, name)(xt, dim=1)
        yt.pow(2).sum().backward()
        # NOTE: log_softmax's gradient gy − p·Σgy cancels: float32 leaves ~1e-6 absolute
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
