"""Activation layers against their torch.nn twins, and what the op table cannot say: kinks,
extreme inputs, in-place behaviour, Step's zero gradient, Maxout, reprs and errors."""

import warnings

import numpy as np
import pytest

import soma
from tests.conftest import copy_weights
from tests.torch_oracle import torch

S = soma.nn.functional

# (soma constructor, torch constructor) over the options that change the formula
TWINS = [
    ("ReLU", {}),
    ("ReLU6", {}),
    ("LeakyReLU", {}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("ELU", {}),
    ("ELU", {"alpha": 0.3}),
    ("SELU", {}),
    ("CELU", {}),
    ("CELU", {"alpha": 1.7}),
    ("GELU", {}),
    ("GELU", {"approximate": "tanh"}),
    ("SiLU", {}),
    ("Mish", {}),
    ("Softplus", {}),
    ("Softplus", {"beta": 2.0, "threshold": 3.0}),
    ("Softsign", {}),
    ("Hardsigmoid", {}),
    ("Hardtanh", {}),
    ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("Hardswish", {}),
    ("LogSigmoid", {}),
    ("Tanhshrink", {}),
    ("Threshold", {"threshold": 0.2, "value": -3.0}),
    ("Softshrink", {}),
    ("Hardshrink", {"lambd": 0.8}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Softmax", {"dim": 1}),
    ("LogSoftmax", {"dim": -1}),
    ("Softmin", {"dim": 0}),
    ("PReLU", {}),
    ("PReLU", {"num_parameters": 3, "init": 0.1}),
]
IDS = [f"{name}{kw or ''}" for name, kw in TWINS]

# every kink and the points where PyTorch picks a side
KINKS = [-6.0, -3.0, -1.0, -0.8, -0.5, -0.2, 0.0, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 6.0]


def _pair(name, kw):
    return getattr(soma.nn, name)(**kw), getattr(torch.nn, name)(**kw)


def _input(dtype, shape=(4, 3, 5)):
    rng = np.random.default_rng(0)
    x = rng.uniform(-7, 7, shape)
    x.flat[: len(KINKS)] = KINKS  # the kinks themselves, compared with PyTorch's choice
    return x.astype(dtype)


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-12, 1e-12), (np.float32, 2e-6, 2e-6)])
@pytest.mark.parametrize("name,kw", TWINS, ids=IDS)
def test_module_matches_torch_forward_and_gradients(name, kw, dtype, rtol, atol):
    ours, theirs = _pair(name, kw)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_weights(ours.to(soma.float64 if dtype == np.float64 else soma.float32), theirs)
    x = _input(dtype)
    xs = soma.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    assert ys.dtype == yt.detach().numpy().dtype
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
    v = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    (ys * soma.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    if name in ("CELU", "Hardsigmoid"):
        rtol = max(rtol, 1e-7)  # NOTE: PyTorch's backward uses a float32 1/alpha or 1/6 here
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(
            p.grad.numpy(),
            q.grad.numpy(),
            rtol=rtol * 10,
            atol=atol * 10,
            err_msg=f"gradient of {n}",
        )


REPR_EXTRA = [
    ("ReLU", {"inplace": True}),
    ("ELU", {"alpha": 0.5, "inplace": True}),
    ("Hardtanh", {"min_val": -2, "max_val": 2, "inplace": True}),
    ("Threshold", {"threshold": 0.1, "value": 20}),
    ("ReLU6", {"inplace": True}),
    ("Softmax", {}),
]


@pytest.mark.parametrize("name,kw", TWINS + REPR_EXTRA)
def test_repr_matches_torch(name, kw):
    ours, theirs = _pair(name, kw)
    assert repr(ours) == repr(theirs)


def test_module_defaults_match_torch_signatures(torch_or_skip):
    import inspect

    for name, _ in TWINS:
        ours = inspect.signature(getattr(soma.nn, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
        for arg, p in ours.items():
            if arg in theirs:
                assert p.default == theirs[arg].default, f"{name}({arg}=...)"
        missing = {a for a in theirs if a not in ours} - {"min_value", "max_value"}  # deprecated
        assert not missing, f"{name} lacks {missing}"


# ---------------------------------------------------------------------------- extreme inputs
EXTREME = [
    -1e4,
    -1e3,
    -100.0,
    -89.0,
    -30.0,
    -20.5,
    -1e-30,
    0.0,
    1e-30,
    20.5,
    30.0,
    89.0,
    100.0,
    1e3,
    1e4,
]
ELEMENTWISE = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {}),
    ("elu", {}),
    ("selu", {}),
    ("celu", {"alpha": 0.5}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {}),
    ("softplus", {"beta": 5.0, "threshold": 1000.0}),
    ("softsign", {}),
    ("hardsigmoid", {}),
    ("hardtanh", {}),
    ("hardswish", {}),
    ("logsigmoid", {}),
    ("tanhshrink", {}),
    ("threshold", {"threshold": 1.0, "value": 0.0}),
    ("softshrink", {}),
    ("hardshrink", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softmax", {"dim": 0}),
    ("log_softmax", {"dim": 0}),
    ("softmin", {"dim": 0}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=[f"{n}{k or ''}" for n, k in ELEMENTWISE])
def test_extreme_inputs_are_stable_and_match_torch(name, kw, dtype):
    x = np.array(EXTREME, dtype=dtype)
    xs = soma.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow / invalid-value warnings fail the test
        ys = getattr(S, name)(xs, **kw)
        (ys * soma.tensor(np.linspace(-1, 1, x.size).astype(dtype))).sum().backward()
    yt = getattr(torch.nn.functional, name)(xt, **kw)
    (yt * torch.tensor(np.linspace(-1, 1, x.size).astype(dtype))).sum().backward()
    pairs = [(ys.detach().numpy(), yt.detach().numpy()), (xs.grad.numpy(), xt.grad.numpy())]
    for ours, theirs in pairs:
        finite = np.isfinite(theirs)
        assert np.isfinite(ours[finite]).all(), f"{name}: non-finite where PyTorch is: {ours}"
        tol = 1e-5 if dtype == np.float32 else (1e-7 if name == "hardsigmoid" else 1e-12)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=tol, atol=tol)


# f(+inf) and f(-inf), worked by hand: the limit where the formula reaches it, and nan where
# IEEE arithmetic meets inf·0 or inf/inf (x·σ(x) at -inf, x/(1+|x|) at ±inf), as PyTorch does.
# NOTE: asserted, not read from PyTorch: its value at ±inf depends on the CPU's vector unit
# (the pinned build returns gelu(inf) = nan on some machines and inf on others).
LIMITS_AT_INFINITY = {
    "relu": (np.inf, 0.0),
    "elu": (np.inf, -1.0),
    "gelu": (np.inf, np.nan),
    "silu": (np.inf, np.nan),
    "mish": (np.inf, np.nan),
    "softplus": (np.inf, 0.0),
    "hardtanh": (1.0, -1.0),
    "leaky_relu": (np.inf, -np.inf),
    "logsigmoid": (0.0, -np.inf),
    "softsign": (np.nan, np.nan),
    "hardswish": (np.inf, np.nan),
}


@pytest.mark.parametrize("name", sorted(LIMITS_AT_INFINITY))
def test_nan_and_inf_give_the_mathematical_limits(name):
    x = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = getattr(S, name)(soma.tensor(x)).numpy()
    assert np.isnan(ours[0]), f"{name}(nan) should be nan, got {ours[0]}"
    np.testing.assert_array_equal(ours[1:3], np.array(LIMITS_AT_INFINITY[name], np.float32))
    theirs = getattr(torch.nn.functional, name)(torch.tensor(x[3:])).numpy()
    np.testing.assert_allclose(ours[3:], theirs, rtol=2e-7)


def test_float32_gelu_is_accurate_and_beats_the_cancelling_formula_in_the_tail():
    import math

    x = np.linspace(-12, 12, 20001).astype(np.float32)
    ours = S.gelu(soma.tensor(x)).numpy().astype(np.float64)
    theirs = torch.nn.functional.gelu(torch.tensor(x)).double().numpy()
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    representable = np.abs(exact) > 1e-37
    ours_error = np.abs(ours - exact) / np.maximum(np.abs(exact), 1e-38)
    their_error = np.abs(theirs - exact) / np.maximum(np.abs(exact), 1e-38)
    # relative error bounds per region; ½ (1 + erf) cancels left of -1, Φ's exponent rounds
    for lo, hi, bound in [(-12, -3, 2e-5), (-3, -1, 2e-6), (-1, 12, 3e-7)]:
        region = (x >= lo) & (x < hi) & representable
        assert ours_error[region].max() < bound
        assert ours_error[region].max() <= their_error[region].max()


def test_integer_inputs_compute_in_the_default_float():
    x = soma.tensor([-2, 0, 3])
    assert S.elu(x).dtype == soma.float32
    assert S.relu(x).dtype == soma.int64  # relu keeps integers, as PyTorch does
    np.testing.assert_array_equal(S.relu(x).numpy(), [0, 0, 3])


# ---------------------------------------------------------------------------- in place
def test_inplace_overwrites_the_input_outside_the_graph():
    x = soma.tensor([-1.0, 2.0])
    y = soma.nn.ReLU(inplace=True)(x)
    assert y is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])


def test_inplace_inside_the_graph_keeps_gradients_right():
    w = soma.tensor([-1.0, 2.0, 0.5], requires_grad=True)
    h = w * 3
    out = S.elu(h, inplace=True)
    assert out is h
    out.sum().backward()
    wt = torch.tensor([-1.0, 2.0, 0.5], requires_grad=True)
    torch.nn.functional.elu(wt * 3).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-6)


def test_inplace_on_a_leaf_that_requires_grad_refuses():
    with pytest.raises(RuntimeError, match="leaf"):
        S.relu(soma.tensor([1.0], requires_grad=True), inplace=True)


# ---------------------------------------------------------------------------- step and maxout
def test_step_uses_greater_or_equal_and_has_zero_gradient():
    x = soma.tensor([-1.0, 0.5, 0.5000001, 3.0], requires_grad=True)
    y = soma.nn.Step(threshold=0.5)(x)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 1.0, 1.0, 1.0])
    (y * soma.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
    assert repr(soma.nn.Step(0.5)) == "Step(threshold=0.5)"


def test_maxout_layer_against_a_hand_computation():
    layer = soma.nn.Maxout(2, 2, pieces=3)
    layer.weight.data.copy_(
        soma.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 0.0], [0.0, 0.5], [1.0, 1.0]])
    )
    layer.bias.data.copy_(soma.tensor([0.0, 0.0, 0.0, 0.0, 0.0, -10.0]))
    x = soma.tensor([[3.0, -1.0], [-2.0, -4.0]], requires_grad=True)
    y = layer(x)
    # unit 0: max(x0, x1, -x0-x1); unit 1: max(2 x0, x1/2, x0+x1-10)
    np.testing.assert_array_equal(y.detach().numpy(), [[3.0, 6.0], [6.0, -2.0]])
    y.sum().backward()
    # the gradient reaches only the winning piece of each unit
    np.testing.assert_array_equal(
        layer.weight.grad.numpy(), [[3, -1], [0, 0], [-2, -4], [3, -1], [-2, -4], [0, 0]]
    )
    np.testing.assert_array_equal(x.grad.numpy(), [[1 + 2, 0], [-1 + 0, -1 + 0.5]])
    assert repr(layer) == "Maxout(in_features=2, out_features=2, pieces=3, bias=True)"


def test_maxout_shapes_and_function():
    assert tuple(soma.nn.Maxout(5, 4, 2)(soma.zeros(7, 3, 5)).shape) == (7, 3, 4)
    assert tuple(S.maxout(soma.zeros(2, 12, 5, 5), 4).shape) == (2, 3, 5, 5)
    x = soma.tensor([[1.0, 5.0, 2.0, -1.0, 0.0, -3.0]])
    np.testing.assert_array_equal(S.maxout(x, 2).numpy(), [[5.0, 2.0, 0.0]])
    np.testing.assert_array_equal(S.maxout(x, 3).numpy(), [[5.0, 0.0]])


def test_prelu_weight_is_a_trained_parameter_initialised_like_torch():
    layer = soma.nn.PReLU(3, init=0.1)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_allclose(layer.weight.detach().numpy(), [0.1, 0.1, 0.1], rtol=1e-7)
    np.testing.assert_allclose(
        soma.nn.PReLU().weight.detach().numpy(), torch.nn.PReLU().weight.detach().numpy()
    )


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: S.prelu(soma.zeros(2, 3), soma.zeros(4)),
            r"weight has 4 elements.*\(2, 3\).*3 channels",
        ),
        (lambda: soma.nn.PReLU(2)(soma.zeros(5, 3)), "weight has 2 elements"),
        (lambda: S.hardtanh(soma.zeros(2), 1.0, -1.0), "min_val"),
        (lambda: soma.nn.Hardtanh(2.0, 1.0), "min_val"),
        (lambda: S.gelu(soma.zeros(2), approximate="fast"), "'none' or 'tanh'"),
        (lambda: soma.nn.GELU("erf"), "'none' or 'tanh'"),
        (lambda: S.softshrink(soma.zeros(2), -1.0), "lambd"),
        (lambda: S.celu(soma.zeros(2), 0.0), "alpha"),
        (lambda: S.maxout(soma.zeros(2, 5), 2), r"\(2, 5\).*5.*multiple of pieces \(2\)"),
        (lambda: soma.nn.Maxout(3, 2, 2)(soma.zeros(4, 5)), r"3 features.*\(4, 5\)"),
    ],
)
def test_bad_arguments_give_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
