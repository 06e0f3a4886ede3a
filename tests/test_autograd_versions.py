"""Version counters and in-place safety, case by case against PyTorch (issue 12, part 1).

Each case is one function of the library module (``soma`` or ``torch``): it either returns
values (compared between the two) or raises; where PyTorch raises "modified by an inplace
operation", soma must raise the same error.
"""

import numpy as np
import pytest

import soma

torch = pytest.importorskip("torch")

INPLACE_ERROR = "modified by an inplace operation"


def _grads(*tensors):
    return [None if t.grad is None else t.grad.detach().numpy().copy() for t in tensors]


def saved_input_modified(lib):  # the first example: a was saved by a * a
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = w * 1
    y = a * a
    a.mul_(2)
    y.sum().backward()
    return _grads(w)


def saved_output_modified(lib):  # sigmoid saves its output
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = w.sigmoid()
    s.mul_(0)
    s.sum().backward()
    return _grads(w)


def saved_output_modified_under_no_grad(lib):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = w.sigmoid()
    z = s * 1
    with lib.no_grad():
        s.mul_(0)
    z.sum().backward()
    return _grads(w)


def weight_changed_under_no_grad(lib):  # an optimizer step between forward and backward
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = (w * x).sum()
    with lib.no_grad():
        w.mul_(10)
    y.backward()
    return _grads(x)


def optimizer_step_between_forward_and_backward(lib):
    w = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
    x = lib.tensor([3.0, 4.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    y = (w * x).sum()
    y.backward(retain_graph=True)
    opt.step()
    y.backward()
    return _grads(w, x)


def view_of_saved_tensor_modified(lib):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = lib.tensor([4.0, 5.0, 6.0])
    y = (w * x).sum()
    x[1:].mul_(2)  # a view of x, which Mul saved for w's gradient
    y.backward()
    return _grads(w)


def base_modified_view_saved(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    x = lib.tensor([[4.0, 5.0], [6.0, 7.0]])
    y = (w * x[0]).sum()
    x.add_(1)
    y.backward()
    return _grads(w)


def modified_after_backward_is_fine(lib):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    y.backward()
    with lib.no_grad():
        w.mul_(2)
    return _grads(w) + [w.detach().numpy().copy()]


def unsaved_operand_modified_is_fine(lib):  # b * 3 needs no value of b for its gradient
    w = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
    b = w * 1
    y = b * 3
    b.mul_(2)
    y.sum().backward()
    return _grads(w)


def data_bypasses_the_counter(lib):  # .data is PyTorch's documented escape hatch
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(2)
    y.backward()
    return _grads(w)


def detach_shares_the_counter(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.detach().mul_(2)
    y.backward()
    return _grads(w)


def inplace_op_saving_self(lib):  # c.mul_(d) needs c's old value for d's gradient
    b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
    c = b * 1
    c.mul_(d)
    (c * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return _grads(b, d) + [c.detach().numpy().copy()]


def inplace_twice_then_backward(lib):
    x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = x * 2
    b.add_(1)
    b.mul_(lib.tensor([1.0, 2.0, 3.0]))
    b.sum().backward()
    return _grads(x) + [b.detach().numpy().copy()]


def consumer_before_inplace_keeps_old_graph(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = x * 2
    y = b + 1  # reads b before the in-place change
    b.mul_(3)
    (y.sum() + b.sum()).backward()
    return _grads(x)


def inplace_on_view_updates_base_graph(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = x * 1
    v = b[0:2]
    v.mul_(3)
    v.add_(x[1:])
    (b * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return _grads(x) + [b.detach().numpy().copy(), v.detach().numpy().copy()]


def inplace_on_base_seen_by_view(lib):
    x = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
    b = x * 2
    v = b[1:]
    b.add_(1)
    (v * lib.tensor([5.0, 7.0])).sum().backward()
    return _grads(x) + [v.detach().numpy().copy()]


def inplace_on_transposed_view(lib):
    x = lib.ones(2, 3, requires_grad=True)
    m = lib.tensor([2.0, 3.0], requires_grad=True)
    b = x * 1
    b.t()[0].mul_(m)
    (b * lib.arange(6.0).reshape(2, 3)).sum().backward()
    return _grads(x, m) + [b.detach().numpy().copy()]


def inplace_on_view_of_leaf(lib):
    x = lib.ones(3, requires_grad=True)
    x[0].mul_(2)
    return []


def inplace_on_leaf(lib):
    x = lib.ones(3, requires_grad=True)
    x.add_(1)
    return []


def setitem_on_intermediate(lib):
    x = lib.arange(6.0).reshape(2, 3).requires_grad_()
    b = x * 1
    b[:, 1] = 0
    (b * b).sum().backward()
    return _grads(x)


def setitem_on_plain_tensor_from_graph(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    buf = lib.zeros(2, 2)
    buf[0] = w * 3
    (buf * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    return _grads(w)


def relu_inplace_after_conv_like(lib):
    x = lib.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = x * 2
    lib.nn.functional.relu(y, inplace=True)
    (y * y).sum().backward()
    return _grads(x)


def sigmoid_inplace_then_modified(lib):
    x = lib.tensor([0.1, 0.2], requires_grad=True)
    y = x * 1
    y.sigmoid_()
    y.mul_(2)
    y.sum().backward()
    return _grads(x)


def version_numbers(lib):
    x = lib.zeros(3)
    v = x[1:]
    x.add_(1)
    v.mul_(2)
    with lib.no_grad():
        x[0] = 5
    return [np.array([x._version, v._version])]


CASES = [
    saved_input_modified,
    saved_output_modified,
    saved_output_modified_under_no_grad,
    weight_changed_under_no_grad,
    optimizer_step_between_forward_and_backward,
    view_of_saved_tensor_modified,
    base_modified_view_saved,
    modified_after_backward_is_fine,
    unsaved_operand_modified_is_fine,
    data_bypasses_the_counter,
    detach_shares_the_counter,
    inplace_op_saving_self,
    inplace_twice_then_backward,
    consumer_before_inplace_keeps_old_graph,
    inplace_on_view_updates_base_graph,
    inplace_on_base_seen_by_view,
    inplace_on_transposed_view,
    inplace_on_view_of_leaf,
    inplace_on_leaf,
    setitem_on_intermediate,
    setitem_on_plain_tensor_from_graph,
    relu_inplace_after_conv_like,
    sigmoid_inplace_then_modified,
    version_numbers,
]


def _outcome(case, lib):
    try:
        return "ok", case(lib)
    except RuntimeError as e:
        return "error", str(e)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_matches_pytorch(case):
    theirs_kind, theirs = _outcome(case, torch)
    ours_kind, ours = _outcome(case, soma)
    assert ours_kind == theirs_kind, f"PyTorch: {theirs_kind} {theirs}; soma: {ours_kind} {ours}"
    if theirs_kind == "error":
        if INPLACE_ERROR in theirs:
            assert INPLACE_ERROR in ours
        return
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_error_names_the_tensor_the_version_and_the_op():
    w = soma.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = w.sigmoid()
    s.mul_(0)
    with pytest.raises(RuntimeError) as info:
        s.sum().backward()
    message = str(info.value)
    assert "[torch.FloatTensor [3]], which is output 0 of SigmoidBackward0," in message
    assert "is at version 1; expected version 0 instead" in message
    assert "saved for the backward of SigmoidBackward0" in message


def test_an_op_may_read_the_tensor_it_modifies():
    # b.mul_(b.detach()): the op keeps b's old value (a copy) for its own backward. PyTorch
    # raises here (the detached factor shares b's counter); soma's gradient is the true one.
    x = soma.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = x * 2 + 1
    b.mul_(b.detach())
    b.sum().backward()
    assert x.grad.tolist() == [4.0, -2.0, 10.0]  # d(b·stop(b))/dx = 2·b = 2(2x + 1)


def test_views_share_the_counter_and_bump_once_per_op():
    x = soma.zeros(2, 3)
    row = x[0]
    col = x[:, 1]
    flat = x.view(-1)
    assert x._version == row._version == col._version == flat._version == 0
    col.add_(1)
    assert x._version == row._version == flat._version == 1
    flat.zero_()
    assert x._version == 2
    assert row._base is x and flat._base is x


def test_inplace_on_a_view_writes_the_base_memory():
    x = soma.zeros(3, requires_grad=True)
    b = x * 1
    b[1:].add_(5)
    assert b.tolist() == [0.0, 5.0, 5.0]
    assert b.grad_fn.name() == "CopySlices"
