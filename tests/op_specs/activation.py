"""Activations: every function and the options that change its formula.

Inputs keep away from each kink (``away_from``), so finite differences are valid there; the
kinks themselves are checked against PyTorch in ``tests/test_activations.py``.
"""

import numpy as np

import soma
from tests.op_specs.spec import TF as T
from tests.op_specs.spec import OpSpec, away_from, torch

S = soma.nn.functional


def _away(*points, shape=(3, 4), low=-4.0, high=4.0):
    return lambda rng: [away_from(points, rng, shape, low, high)]


def _unary(name, fs, ft, kinks=(), variant="", low=-4.0, high=4.0, shape=(3, 4)):
    make = _away(*kinks, shape=shape, low=low, high=high)
    return OpSpec(name, fs, ft, variant=variant, make=make)


SPECS = [
    _unary("relu", S.relu, T.relu, [0]),
    _unary("relu6", S.relu6, T.relu6, [0, 6], low=-2, high=8),
    _unary("leaky_relu", S.leaky_relu, T.leaky_relu, [0]),
    _unary(
        "leaky_relu",
        lambda x: S.leaky_relu(x, 0.2),
        lambda x: T.leaky_relu(x, 0.2),
        [0],
        variant="slope0.2",
    ),
    _unary(
        "leaky_relu",
        lambda x: S.leaky_relu(x, -1.5),
        lambda x: T.leaky_relu(x, -1.5),
        [0],
        variant="negative_slope",
    ),
    _unary("hardtanh", S.hardtanh, T.hardtanh, [-1, 1]),
    _unary(
        "hardtanh",
        lambda x: S.hardtanh(x, -0.5, 2.0),
        lambda x: T.hardtanh(x, -0.5, 2.0),
        [-0.5, 2.0],
        variant="range",
    ),
    _unary(
        "threshold",
        lambda x: S.threshold(x, 0.3, -2.0),
        lambda x: T.threshold(x, 0.3, -2.0),
        [0.3],
    ),
    # PyTorch's float64 hardsigmoid backward multiplies by float32(1/6) (3e-8 relative);
    # soma's gradient is the exact 1/6, which the finite-difference check pins
    OpSpec(
        "hardsigmoid",
        S.hardsigmoid,
        T.hardsigmoid,
        make=_away(-3, 3, shape=(3, 4), low=-4.0, high=4.0),
        rtol=1e-7,
    ),
    _unary("hardswish", S.hardswish, T.hardswish, [-3, 3]),
    _unary("hardshrink", S.hardshrink, T.hardshrink, [-0.5, 0.5]),
    _unary(
        "hardshrink",
        lambda x: S.hardshrink(x, 1.2),
        lambda x: T.hardshrink(x, 1.2),
        [-1.2, 1.2],
        variant="lambd1.2",
    ),
    _unary("softshrink", S.softshrink, T.softshrink, [-0.5, 0.5]),
    _unary(
        "softshrink",
        lambda x: S.softshrink(x, 1.2),
        lambda x: T.softshrink(x, 1.2),
        [-1.2, 1.2],
        variant="lambd1.2",
    ),
    _unary("elu", S.elu, T.elu, [0]),
    _unary("elu", lambda x: S.elu(x, 0.5), lambda x: T.elu(x, 0.5), [0], variant="alpha0.5"),
    _unary("selu", S.selu, T.selu, [0]),
    _unary("celu", S.celu, T.celu, [0]),
    _unary("celu", lambda x: S.celu(x, 2.5), lambda x: T.celu(x, 2.5), [0], variant="alpha2.5"),
    _unary("gelu", S.gelu, T.gelu, low=-6, high=6),
    _unary(
        "gelu",
        lambda x: S.gelu(x, approximate="tanh"),
        lambda x: T.gelu(x, approximate="tanh"),
        variant="tanh",
        low=-6,
        high=6,
    ),
    _unary("silu", S.silu, T.silu, low=-8, high=8),
    _unary("mish", S.mish, T.mish, low=-8, high=8),
    _unary("softplus", S.softplus, T.softplus, low=-8, high=8),
    _unary(
        "softplus",
        lambda x: S.softplus(x, beta=3.0),
        lambda x: T.softplus(x, beta=3.0),
        variant="beta3",
        low=-3,
        high=3,
    ),
    _unary(
        "softplus",
        lambda x: S.softplus(x, beta=2.0, threshold=1.5),
        lambda x: T.softplus(x, beta=2.0, threshold=1.5),
        [0.75],
        variant="threshold",
    ),
    _unary("softsign", S.softsign, T.softsign, [0]),
    _unary("logsigmoid", S.logsigmoid, T.logsigmoid, low=-8, high=8),
    _unary("tanhshrink", S.tanhshrink, T.tanhshrink),
    _unary("exponential", S.exponential, torch.exp),
    _unary("sigmoid", S.sigmoid, torch.sigmoid, variant="functional", low=-8, high=8),
    _unary("tanh", S.tanh, torch.tanh, variant="functional"),
    OpSpec(
        "prelu",
        S.prelu,
        T.prelu,
        make=lambda rng: [away_from([0], rng, (2, 3, 4)), np.array([0.25])],
        variant="shared",
    ),
    OpSpec(
        "prelu",
        S.prelu,
        T.prelu,
        make=lambda rng: [away_from([0], rng, (2, 3, 4, 2)), rng.uniform(-1, 1, 3)],
        variant="channels",
    ),
    OpSpec(
        "prelu",
        S.prelu,
        T.prelu,
        make=lambda rng: [away_from([0], rng, (5, 3)), rng.uniform(-1, 1, 3)],
        variant="2d",
    ),
    OpSpec(
        "prelu",
        S.prelu,
        T.prelu,
        make=lambda rng: [away_from([0], rng, (3,)), rng.uniform(-1, 1, 1)],
        variant="1d",
    ),
    OpSpec(
        "step", lambda x: S.step(x, 0.5), lambda x: (x >= 0.5).to(x.dtype) + 0 * x, make=_away(0.5)
    ),
    OpSpec(
        "maxout",
        lambda x: S.maxout(x, 3),
        lambda x: x.unflatten(1, (2, 3)).amax(2),
        shapes=((4, 6),),
    ),
    OpSpec(
        "maxout",
        lambda x: S.maxout(x, 2, dim=-1),
        lambda x: x.unflatten(-1, (3, 2)).amax(-1),
        shapes=((2, 3, 6),),
        variant="last_dim",
    ),
    OpSpec(
        "maxout",
        lambda x: S.maxout(x, 2),
        lambda x: x.unflatten(1, (2, 2)).amax(2),
        shapes=((2, 4, 3, 3),),
        variant="conv",
    ),
]

for dim, shape in [(1, (3, 5)), (0, (3, 5)), (-1, (2, 3, 4)), (1, (2, 3, 4))]:
    v = f"dim={dim},{len(shape)}d"
    SPECS += [
        OpSpec(
            "softmax",
            lambda x, d=dim: S.softmax(x, d),
            lambda x, d=dim: T.softmax(x, d),
            shapes=(shape,),
            variant=v,
        ),
        OpSpec(
            "log_softmax",
            lambda x, d=dim: S.log_softmax(x, d),
            lambda x, d=dim: T.log_softmax(x, d),
            shapes=(shape,),
            variant=v,
        ),
        OpSpec(
            "softmin",
            lambda x, d=dim: S.softmin(x, d),
            lambda x, d=dim: T.softmin(x, d),
            shapes=(shape,),
            variant=v,
        ),
    ]
SPECS += [
    OpSpec(
        "softmax",
        lambda x: S.softmax(x, 0),
        lambda x: T.softmax(x, 0),
        shapes=((5,),),
        variant="1d",
    ),
    OpSpec(
        "softmax",
        lambda x: S.softmax(x, 1),
        lambda x: T.softmax(x, 1),
        make=lambda rng: [rng.uniform(-1, 1, (2, 3)) * 1e3],
        variant="large",
    ),
    OpSpec(
        "log_softmax",
        lambda x: S.log_softmax(x, 1),
        lambda x: T.log_softmax(x, 1),
        make=lambda rng: [rng.uniform(-1, 1, (2, 3)) * 1e3],
        variant="large",
    ),
]
