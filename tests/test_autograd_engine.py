"""The backward engine: accumulation, graph reuse, hooks, deep graphs, grad modes, errors."""

import numpy as np
import pytest

import soma


def test_gradients_accumulate_across_backward_calls():
    w = soma.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3 + 2, 3 + 4])


def test_a_tensor_used_twice_sums_both_paths():
    x = soma.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad.item() == 7.0


def test_shared_gradient_arrays_are_not_aliased_between_leaves():
    a = soma.ones(3, requires_grad=True)
    b = soma.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5)
    np.testing.assert_array_equal(b.grad.numpy(), [1, 1, 1])


def test_backward_twice_without_retain_graph_explains_itself():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_non_scalar_backward_needs_a_gradient_and_says_so():
    x = soma.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2, 3\)"):
        (x * 2).backward()
    (x * 2).backward(soma.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 3)))


def test_backward_on_a_tensor_without_grad_explains_itself():
    with pytest.raises(RuntimeError, match="does not require grad"):
        soma.ones(2).sum().backward()


def test_deep_graph_needs_no_recursion():
    x = soma.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20000):  # far beyond Python's recursion limit
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001**20000) / 1.0001**20000 < 1e-3


def test_no_grad_as_context_and_decorator_and_enable_grad_inside():
    w = soma.ones(2, requires_grad=True)
    with soma.no_grad():
        assert not (w * 2).requires_grad
        with soma.enable_grad():
            assert (w * 2).requires_grad

    @soma.no_grad()
    def f(t):
        return t * 2

    assert not f(w).requires_grad
    assert (w * 2).requires_grad
    with soma.set_grad_enabled(False):
        assert not soma.is_grad_enabled()
    assert soma.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_memory():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 1.0
    view = y.detach()
    view.array[0] = 7.0
    assert y.array[0] == 7.0


def test_hooks_on_leaves_and_intermediates_can_rewrite_gradients():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    h = x * 3
    h.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])


def test_retain_grad_keeps_intermediate_gradients():
    x = soma.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    (h * 3).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [3.0, 3.0])
    assert h.grad_fn is not None and not h.is_leaf


def test_autograd_grad_returns_without_touching_dot_grad():
    x = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = soma.tensor([2.0, 2.0, 2.0], requires_grad=True)
    (gx,) = soma.autograd.grad((x * x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [4.0, 8.0, 12.0])
    assert x.grad is None and w.grad is None


def test_in_place_update_of_a_leaf_that_requires_grad_is_refused():
    w = soma.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with soma.no_grad():
        w.add_(1)
    np.testing.assert_array_equal(w.numpy(force=True), [2, 2, 2])


def test_in_place_op_on_an_intermediate_is_differentiated():
    x = soma.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2
    h.mul_(h)  # h = (2x)^2 → dh/dx = 8x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, -16.0, 24.0])


def test_data_attribute_is_a_tensor_sharing_memory():
    w = soma.nn.Parameter(soma.tensor([1.0, 2.0]))
    w.grad = soma.tensor([0.5, 0.5])
    w.data -= 0.1 * w.grad  # the classic manual SGD step
    np.testing.assert_allclose(w.numpy(force=True), [0.95, 1.95])
    assert w.is_leaf and w.requires_grad


def test_multi_output_op_with_an_unused_output():
    x = soma.arange(6.0).reshape(2, 3).requires_grad_()
    a, b = x.split([1, 2], dim=1)
    (b * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 2], [0, 2, 2]])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        soma.tensor([1, 2], requires_grad=True)


def test_create_graph_is_refused_clearly():
    x = soma.tensor(1.0, requires_grad=True)
    with pytest.raises(NotImplementedError, match="first-order"):
        (x * x).backward(create_graph=True)


# ---------------------------------------------------------------------------- the given gradient
@pytest.mark.parametrize(
    "op",
    [lambda x: x + 0.0, lambda x: x.reshape(-1).reshape(3, 4), lambda x: x, lambda x: x * 1.0],
    ids=["add", "reshape", "leaf", "mul"],
)
def test_the_gradient_passed_to_backward_is_never_aliased_by_a_leaf(op):
    # the engine uses the caller's gradient array without copying it (it never writes into
    # a gradient it did not make); a leaf that receives it must still own a copy
    x = soma.randn(3, 4, requires_grad=True)
    g = soma.randn(3, 4)
    kept = g.numpy().copy()
    op(x).backward(g)
    assert not np.shares_memory(x.grad.numpy(), g.numpy())
    x.grad.zero_()
    np.testing.assert_array_equal(g.numpy(), kept)


def test_a_gradient_of_another_dtype_is_converted():
    x = soma.randn(3, requires_grad=True)  # float32
    (x * 2.0).backward(soma.ones(3, dtype=soma.float64))
    assert x.grad.dtype == soma.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]


def _channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def test_a_leafs_grad_takes_the_leafs_memory_layout():
    """As in PyTorch, the .grad of a channels-last leaf is channels-last whatever layout its
    gradient arrived in (a view the engine must copy, a C-ordered array, an accumulation),
    with the values unchanged; a C-ordered leaf keeps C order."""
    base = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    x = soma.Tensor(_channels_last(base))  # NOTE: soma.Tensor keeps the memory order
    x.requires_grad = True
    cl_strides = x.detach().numpy().strides
    (x * 2).sum().backward()  # a gradient of x's own layout
    assert x.grad.numpy().strides == cl_strides
    x.grad = None
    soma.nn.functional.adaptive_avg_pool2d(x, 1).sum().backward()
    assert x.grad.numpy().strides == cl_strides
    np.testing.assert_array_equal(x.grad.numpy(), np.full(base.shape, 1 / 20, np.float32))
    x.grad = None
    x.contiguous().mul(2).sum().backward()  # arrives in C order
    assert x.grad.numpy().strides == cl_strides
    x.contiguous().mul(3).sum().backward()  # accumulated: still the leaf's layout
    assert x.grad.numpy().strides == cl_strides
    np.testing.assert_array_equal(x.grad.numpy(), np.full(base.shape, 5, np.float32))
    c = soma.tensor(base, requires_grad=True)
    soma.Tensor(_channels_last(np.ones_like(base))).mul(c).sum().backward()
    assert c.grad.numpy().flags.c_contiguous


def _leaf_used_three_times():
    """w = [1, 1, 1] read by three terms: ∂/∂w of Σ w·x + Σ 2w + Σ w² is x + 2 + 2w = [5, 6, 7]."""
    w = soma.ones(3, requires_grad=True)
    y = (w * soma.tensor([1.0, 2.0, 3.0])).sum() + (w * 2).sum() + (w * w).sum()
    return w, y


def test_a_leaf_hook_sees_the_summed_gradient_once():
    # PyTorch sums a leaf's gradients before its hooks (AccumulateGrad): a clipping hook clips
    # the sum, [5, 6, 7] → [4, 4, 4]; clipping each part (1..3, 2, 2) would leave [5, 6, 7]
    w, y = _leaf_used_three_times()
    seen = []

    def clip(g):
        seen.append(g.numpy().copy())
        return g.clamp(max=4.0)

    w.register_hook(clip)
    y.backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0, 4.0])


def test_a_post_accumulate_hook_runs_once_per_backward_with_the_whole_gradient():
    w, y = _leaf_used_three_times()
    grads = []
    w.register_post_accumulate_grad_hook(lambda p: grads.append(p.grad.numpy().copy()))
    y.backward(retain_graph=True)
    y.backward()  # a second pass accumulates onto the first: the hook sees [10, 12, 14]
    assert len(grads) == 2
    np.testing.assert_array_equal(grads[0], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(grads[1], [10.0, 12.0, 14.0])


def test_slices_of_a_leaf_sum_into_one_gradient():
    x = soma.zeros(4, requires_grad=True)
    (x[0] * 2 + x[1:3].sum() + x.sum() + x[1:3].sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0, 1.0])


def test_autograd_grad_passes_the_summed_gradient_of_an_input_leaf_through_its_hooks():
    # torch 2.13: hooks registered on an input run before its gradient is captured, once, on
    # the sum: ∂/∂w Σ (w² + 3w) at w = 1 is 5, times 10 from the hook; .grad stays untouched
    w = soma.ones(3, requires_grad=True)
    calls = []

    def scale(g):
        calls.append(g.numpy().copy())
        return g * 10

    w.register_hook(scale)
    (g,) = soma.autograd.grad((w * w).sum() + (w * 3).sum(), [w])
    np.testing.assert_array_equal(g.numpy(), [50.0, 50.0, 50.0])
    assert len(calls) == 1 and w.grad is None


@pytest.mark.parametrize("hook_kind", ["tensor hook", "node pre-hook"])
def test_autograd_grad_captures_an_intermediate_before_its_hooks(hook_kind):
    # torch 2.13: h = 3w, L = Σ h²: the captured ∂L/∂h is the raw 2h = 6, while the ×7 of the
    # hook still flows on to w: ∂L/∂w = 7 · 6 · 3 = 126
    w = soma.ones(2, requires_grad=True)
    h = w * 3
    if hook_kind == "tensor hook":
        h.register_hook(lambda g: g * 7)
    else:
        h.grad_fn.register_prehook(lambda grads: (grads[0] * 7,))
    gh, gw = soma.autograd.grad((h * h).sum(), [h, w])
    np.testing.assert_array_equal(gh.numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(gw.numpy(), [126.0, 126.0])


@pytest.mark.parametrize("retain", [False, True])
def test_backward_inputs_accumulates_an_intermediate_once_after_its_hooks(retain):
    # torch 2.13: h = 2w, L = Σ h²: ∂L/∂h = 2h = 4, ×10 by the hook; retain_grad() must not
    # make it count twice, and a second pass adds once more
    w = soma.ones(2, requires_grad=True)
    h = w * 2
    if retain:
        h.retain_grad()
    h.register_hook(lambda g: g * 10)
    loss = (h * h).sum()
    loss.backward(inputs=[h], retain_graph=True)
    np.testing.assert_array_equal(h.grad.numpy(), [40.0, 40.0])
    loss.backward(inputs=[h])
    np.testing.assert_array_equal(h.grad.numpy(), [80.0, 80.0])
    assert w.grad is None


def test_backward_inputs_runs_a_leafs_hooks_and_post_accumulate_hooks():
    # ∂/∂w Σ (w² + w·b) at w = b = 1 is 3, ×10 by the hook; b is not among the inputs
    w = soma.ones(2, requires_grad=True)
    b = soma.ones(2, requires_grad=True)
    w.register_hook(lambda g: g * 10)
    after = []
    w.register_post_accumulate_grad_hook(lambda p: after.append(p.grad.numpy().copy()))
    ((w * w).sum() + (w * b).sum()).backward(inputs=[w])
    np.testing.assert_array_equal(w.grad.numpy(), [30.0, 30.0])
    assert b.grad is None and len(after) == 1
    np.testing.assert_array_equal(after[0], [30.0, 30.0])


def test_backward_inputs_with_a_leaf_root():
    w = soma.ones(3, requires_grad=True)
    w.backward(gradient=soma.full((3,), 2.0), inputs=[w])
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])
