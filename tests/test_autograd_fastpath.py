"""The checks that the trimmed hot path of Function.apply, the engine and Module.__call__
must keep (they raise where PyTorch raises)."""

import numpy as np
import pytest

import soma
from soma.autograd.function import Function


class _Returns(Function):
    """y = 2x, with a backward that returns whatever the test planted on the class."""

    grad = None

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, gy):
        return _Returns.grad(gy)


def _leaf(dtype=np.float32):
    return soma.tensor(np.array([1.0, 2.0, 3.0], dtype), requires_grad=True)


def test_wrong_gradient_shape_raises_naming_the_op():
    _Returns.grad = staticmethod(lambda gy: np.ones(4, gy.dtype))
    x = _leaf()
    with pytest.raises(RuntimeError, match=r"_ReturnsBackward0.*got \[4\].*\[3\]"):
        _Returns.apply(x).sum().backward()


def test_gradient_of_another_dtype_is_cast_to_the_input_dtype():
    _Returns.grad = staticmethod(lambda gy: np.full(3, 0.1, np.float64))
    x = _leaf()
    _Returns.apply(x).sum().backward()
    assert x.grad.dtype == soma.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 0.1, np.float32))


def test_gradient_given_as_a_list_becomes_an_array():
    _Returns.grad = staticmethod(lambda gy: [2.0, 2.0, 2.0])
    x = _leaf(np.float64)
    _Returns.apply(x).sum().backward()
    assert isinstance(x.grad.array, np.ndarray)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_saved_input_modified_in_place_still_raises():
    x = _leaf()
    y = x * 1.0
    z = y * y  # saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_no_graph_under_no_grad_and_for_constants():
    x = _leaf()
    with soma.no_grad():
        assert (x * 2).grad_fn is None
    c = soma.tensor([1.0, 2.0])
    assert (c * 2).grad_fn is None and not (c * 2).requires_grad


def test_module_hooks_still_run():
    layer = soma.nn.Linear(3, 2)
    seen = []
    layer.register_forward_pre_hook(lambda m, args: seen.append("pre"))
    layer.register_forward_hook(lambda m, args, out: out * 0)
    out = layer(soma.ones(1, 3))
    assert seen == ["pre"]
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros((1, 2), np.float32))


def test_gradients_through_a_small_net_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((1, 5))
    x = rng.standard_normal((8, 4))
    grads = []
    for lib in (soma, torch):
        a = lib.tensor(w1, requires_grad=True)
        b = lib.tensor(w2, requires_grad=True)
        h = lib.relu(lib.tensor(x) @ a.T)
        ((h @ b.T) ** 2).mean().backward()
        grads.append((a.grad.numpy().copy(), b.grad.numpy().copy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_grad_mode_is_a_plain_attribute_in_every_thread():
    # Function.apply reads the mode on every op: a thread-local without the attribute made each
    # read a caught AttributeError (1.1 µs against 0.1 on the Zen 1 VM) until the first no_grad
    import threading

    from soma.autograd import grad_mode

    seen = {}

    def worker():
        seen["enabled"] = grad_mode._state.enabled  # no default needed
        x = soma.ones(2, requires_grad=True)
        seen["records"] = (x * 2).requires_grad
        with soma.no_grad():
            seen["inside"] = (x * 2).requires_grad

    with soma.no_grad():  # the mode is per thread, as in PyTorch
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == {"enabled": True, "records": True, "inside": False}
    assert grad_mode._state.enabled is True
