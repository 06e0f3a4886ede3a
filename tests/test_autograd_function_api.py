"""PyTorch's custom-Function API (soma.autograd.Function) and graph introspection, against PyTorch."""

import math

import numpy as np
import pytest

import soma

torch = pytest.importorskip("torch")


def _functions(lib):
    """PyTorch's tutorial-style custom Functions, written once for either library."""

    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2 - 1)

    class StraightThroughClamp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, lo, hi):
            return x.clamp(lo, hi)

        @staticmethod
        def backward(ctx, g):
            return g, None, None  # the gradient passes straight through

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulAdd(lib.autograd.Function):  # two tensor inputs, a constant, two outputs
        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b = ctx.saved_tensors
            ga = gb = None
            if ctx.needs_input_grad[0]:
                ga = g_prod * b * ctx.k + g_sum
            if ctx.needs_input_grad[1]:
                gb = g_prod * a * ctx.k + g_sum
            return ga, gb, None

    class Sort(lib.autograd.Function):  # a non-differentiable output
        @staticmethod
        def forward(ctx, x):
            values, index = x.sort()
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(index)
            return values, index

        @staticmethod
        def backward(ctx, g, _g_index):
            (index,) = ctx.saved_tensors
            out = lib.zeros_like(g)
            out[index] = g
            return out

    class DoubleInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return LegendrePolynomial3, StraightThroughClamp, Exp, MulAdd, Sort, DoubleInPlace


def _run(lib, name):
    Legendre, Clamp, Exp, MulAdd, Sort, DoubleInPlace = _functions(lib)
    x = lib.tensor([-1.5, -0.2, 0.3, 0.9, 2.0], requires_grad=True, dtype=lib.float64)
    w = lib.tensor([0.5, 1.0, -2.0, 3.0, 1.5], dtype=lib.float64)
    if name == "legendre":
        y = Legendre.apply(x)
    elif name == "clamp":
        y = Clamp.apply(x, -1.0, 1.0)
    elif name == "exp":
        y = Exp.apply(x)
    elif name == "muladd":
        b = lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True, dtype=lib.float64)
        p, s = MulAdd.apply(x, b, 3.0)
        (p * w + s * s).sum().backward()
        return [p, s, x.grad, b.grad]
    elif name == "sort":
        values, index = Sort.apply(x)
        assert not index.requires_grad
        (values * w).sum().backward()
        return [values, index, x.grad]
    elif name == "dirty":
        h = x * 1
        y = DoubleInPlace.apply(h)
        assert y is h
        (y * w).sum().backward()
        return [y, x.grad]
    (y * w).sum().backward()
    return [y, x.grad]


@pytest.mark.parametrize("name", ["legendre", "clamp", "exp", "muladd", "sort", "dirty"])
def test_custom_functions_match_pytorch(name):
    ours, theirs = _run(soma, name), _run(torch, name)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


def test_legendre_fit_as_in_pytorchs_tutorial():
    """PyTorch's "defining new autograd functions" tutorial: fit sin with P3, a few steps."""
    results = []
    for lib in (soma, torch):
        (Legendre, *_) = _functions(lib)
        x = lib.linspace(-math.pi, math.pi, 200, dtype=lib.float64)
        y = lib.sin(x)
        a = lib.full((), 0.0, dtype=lib.float64, requires_grad=True)
        b = lib.full((), -1.0, dtype=lib.float64, requires_grad=True)
        c = lib.full((), 0.0, dtype=lib.float64, requires_grad=True)
        d = lib.full((), 0.3, dtype=lib.float64, requires_grad=True)
        for _ in range(50):
            y_pred = a + b * Legendre.apply(c + d * x)
            loss = (y_pred - y).pow(2).sum()
            loss.backward()
            with lib.no_grad():
                for p in (a, b, c, d):
                    p -= 5e-6 * p.grad
                    p.grad = None
        results.append([float(p) for p in (a, b, c, d)] + [loss.item()])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-15)


def test_saved_tensor_modified_in_place_raises():
    (_, _, Exp, *_) = _functions(soma)
    x = soma.tensor([0.5], requires_grad=True)
    y = Exp.apply(x)
    y.mul_(2)  # PyTorch raises too: y was saved by Exp
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_ctx_api_details():
    seen = {}

    class Probe(soma.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, scale=1.0):
            seen["needs"] = ctx.needs_input_grad
            ctx.set_materialize_grads(False)
            return a * scale, b * scale

        @staticmethod
        @soma.autograd.once_differentiable
        def backward(ctx, ga, gb):
            seen["grads"] = (ga is None, gb is None)
            return ga, None

    a = soma.ones(2, requires_grad=True)
    b = soma.ones(2)
    ya, yb = Probe.apply(a, b, scale=3.0)
    assert seen["needs"] == (True, False)
    assert yb.requires_grad  # as PyTorch: every output of a recorded call
    ya.sum().backward()
    assert seen["grads"] == (False, True)  # no zeros made for the unused output
    assert a.grad.tolist() == [1.0, 1.0]
    assert ya.grad_fn.name() == "ProbeBackward"


def test_wrong_number_of_gradients_raises_like_pytorch():
    class Bad(soma.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a = soma.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, a).sum().backward()


def test_raw_kernel_api_still_works():
    class Square(soma.autograd.Kernel):
        @staticmethod
        def forward(ctx, x):
            ctx.save(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved
            return 2 * x * gy

    x = soma.tensor([3.0], requires_grad=True)
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [6.0]


# ---------------------------------------------------------------------------- introspection
def test_grad_fn_names_and_next_functions_match_pytorch():
    def graph(lib):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0])
        y = (w * x).sum()
        names = [y.grad_fn.name()]
        ((mul, _),) = y.grad_fn.next_functions
        names.append(mul.name())
        names += [None if f is None else f.name() for f, _ in mul.next_functions]
        return names, repr(w * 2).split("grad_fn=")[1].split(" ")[0].rstrip(")>")

    (ours, ours_repr), (theirs, theirs_repr) = graph(soma), graph(torch)
    assert ours_repr == theirs_repr == "<MulBackward0"
    assert ours[0] == theirs[0] == "SumBackward0"
    assert ours[1] == theirs[1] == "MulBackward0"
    assert ours[2:] == theirs[2:]  # AccumulateGrad for w, None for x
    assert ours[3] is None and "AccumulateGrad" in ours[2]


def test_node_hooks_and_tensor_hooks_match_pytorch():
    def run(lib):
        log = []
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        h = w * 3
        h.retain_grad()
        y = (h * h).sum()
        h.grad_fn.register_prehook(lambda gout: log.append(("pre", gout[0].tolist())))
        h.grad_fn.register_hook(lambda gin, gout: log.append(("post", gin[0].tolist())))
        h.register_hook(lambda g: g * 10)
        y.backward()
        return log, h.grad.tolist(), w.grad.tolist(), h.retains_grad, h.is_leaf, w.is_leaf

    assert run(soma) == run(torch)


def test_autograd_grad_and_backward_arguments_match_pytorch():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = lib.tensor([5.0], requires_grad=True)
        y1, y2 = x * x, x.sum() * 3
        g = lib.autograd.grad(
            [y1, y2],
            [x, z],
            grad_outputs=[lib.ones(2), None],
            retain_graph=True,
            allow_unused=True,
            materialize_grads=True,
        )
        lib.autograd.backward([y1.sum(), (x * 2).sum()], inputs=[x])
        return [t.tolist() for t in g] + [x.grad.tolist(), z.grad]

    assert run(soma) == run(torch)


def test_create_graph_raises_a_clear_not_implemented_error():
    x = soma.ones(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="first-order"):
        (x * x).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match="first-order"):
        soma.autograd.grad((x * x).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="first-order"):
        soma.autograd.gradgradcheck(lambda t: t * t, (x,))


def test_jacobian_and_vjp_match_pytorch():
    def f(lib):
        return lambda a, b: (a * b).sin() + a

    args = (np.array([0.1, 0.5, -0.3]), np.array([2.0, -1.0, 0.7]))
    ours = soma.autograd.functional.jacobian(f(soma), tuple(soma.tensor(a) for a in args))
    theirs = torch.autograd.functional.jacobian(f(torch), tuple(torch.tensor(a) for a in args))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    v = np.array([1.0, 2.0, 3.0])
    out, vjp = soma.autograd.functional.vjp(
        f(soma), tuple(soma.tensor(a) for a in args), soma.tensor(v)
    )
    tout, tvjp = torch.autograd.functional.vjp(
        f(torch), tuple(torch.tensor(a) for a in args), torch.tensor(v)
    )
    np.testing.assert_allclose(out.numpy(), tout.numpy())
    for a, b in zip(vjp, tvjp):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_module_backward_hooks_match_pytorch():
    def run(lib):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        net[0].weight.data = lib.tensor(np.arange(12.0).reshape(4, 3) / 10, dtype=lib.float32)
        net[2].weight.data = lib.tensor(np.arange(8.0).reshape(2, 4) / 10, dtype=lib.float32)
        net[0].bias.data = lib.zeros(4)
        net[2].bias.data = lib.zeros(2)
        log = []
        net[1].register_full_backward_hook(
            lambda m, gin, gout: log.append(
                (type(m).__name__, gin[0].sum().item(), gout[0].sum().item())
            )
        )
        net[2].register_full_backward_pre_hook(lambda m, gout: (gout[0] * 2,))
        order = []
        net[0].register_forward_pre_hook(lambda m, inp: order.append(inp[0].shape[0]))
        x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=lib.float32, requires_grad=True)
        net(x).sum().backward()
        return log, x.grad.numpy().copy(), order

    ours, theirs = run(soma), run(torch)
    assert ours[0][0][0] == theirs[0][0][0]
    np.testing.assert_allclose(ours[0][0][1:], theirs[0][0][1:], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5)
    assert ours[2] == theirs[2]
