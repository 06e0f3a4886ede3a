"""Element-wise arithmetic and math functions, with broadcasting."""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec, away_from, torch

BROADCASTS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((1,), (2, 3)),
    ((), (2, 3)),
    ((0, 3), (3,)),
]


def _binary(name, fn_s, fn_t, low=-2.0, high=2.0, make=None):
    out = []
    for sa, sb in BROADCASTS:
        out.append(
            OpSpec(
                name,
                fn_s,
                fn_t,
                shapes=(sa, sb),
                low=low,
                high=high,
                variant=f"{sa}x{sb}",
                make=make and (lambda rng, sa=sa, sb=sb: make(rng, sa, sb)),
            )
        )
    return out


def _positive_pair(rng, sa, sb):
    return [rng.uniform(0.5, 2.0, sa), rng.uniform(0.5, 2.0, sb)]


def _apart_pair(rng, sa, sb):
    a = rng.uniform(-2, 2, sa)
    b = rng.uniform(-2, 2, sb)
    return [a, b + 0.3 * np.sign(b - np.mean(a) + 1e-3)]


SPECS = (
    _binary("add", lambda a, b: a + b, lambda a, b: a + b)
    + _binary("sub", lambda a, b: a - b, lambda a, b: a - b)
    + _binary("mul", lambda a, b: a * b, lambda a, b: a * b)
    + _binary("div", lambda a, b: a / b, lambda a, b: a / b, make=_positive_pair)
    + _binary("pow", lambda a, b: a**b, lambda a, b: a**b, make=_positive_pair)
    + [
        OpSpec("radd", lambda a: 2.5 + a, lambda a: 2.5 + a),
        OpSpec("rsub", lambda a: 2.5 - a, lambda a: 2.5 - a),
        OpSpec("rmul", lambda a: 2.5 * a, lambda a: 2.5 * a),
        OpSpec("rdiv", lambda a: 2.5 / a, lambda a: 2.5 / a, low=0.5, high=2),
        OpSpec("rpow", lambda a: 2.5**a, lambda a: 2.5**a),
        OpSpec("pow_scalar", lambda a: a**3, lambda a: a**3),
        OpSpec("pow_half", lambda a: a**0.5, lambda a: a**0.5, low=0.5, high=2),
        OpSpec("neg", lambda a: -a, lambda a: -a),
        OpSpec("exp", soma.exp, torch.exp),
        OpSpec("expm1", soma.expm1, torch.expm1),
        OpSpec("log", soma.log, torch.log, low=0.1, high=3),
        OpSpec("log1p", soma.log1p, torch.log1p, low=-0.5, high=3),
        OpSpec("log2", soma.log2, torch.log2, low=0.1, high=3),
        OpSpec("sqrt", soma.sqrt, torch.sqrt, low=0.1, high=3),
        OpSpec("rsqrt", soma.rsqrt, torch.rsqrt, low=0.1, high=3),
        OpSpec("square", soma.square, torch.square),
        OpSpec("reciprocal", soma.reciprocal, torch.reciprocal, low=0.5, high=3),
        OpSpec("abs", soma.abs, torch.abs, make=lambda rng: [away_from([0], rng, (3, 4))]),
        OpSpec("sin", soma.sin, torch.sin),
        OpSpec("cos", soma.cos, torch.cos),
        OpSpec("tanh", soma.tanh, torch.tanh),
        OpSpec("sigmoid", soma.sigmoid, torch.sigmoid, low=-6, high=6),
        OpSpec(
            "clamp",
            lambda a: soma.clamp(a, -1, 0.5),
            lambda a: torch.clamp(a, -1, 0.5),
            make=lambda rng: [away_from([-1, 0.5], rng, (4, 5))],
        ),
        OpSpec(
            "clamp",
            lambda a: a.clamp(min=0.2),
            lambda a: a.clamp(min=0.2),
            variant="min",
            make=lambda rng: [away_from([0.2], rng, (4, 5))],
        ),
        OpSpec(
            "clamp",
            lambda a, lo, hi: soma.clamp(a, lo, hi),
            lambda a, lo, hi: torch.clamp(a, lo, hi),
            variant="tensor_bounds",
            make=lambda rng: [
                away_from([-0.5, 0.5], rng, (3, 4)),
                np.full((4,), -0.5) + rng.uniform(-0.01, 0.01, 4),
                np.full((3, 1), 0.5),
            ],
        ),
        OpSpec(
            "maximum",
            soma.maximum,
            torch.maximum,
            shapes=((3, 4), (4,)),
            make=lambda rng: _apart_pair(rng, (3, 4), (4,)),
        ),
        OpSpec(
            "minimum",
            soma.minimum,
            torch.minimum,
            shapes=((3, 4), (4,)),
            make=lambda rng: _apart_pair(rng, (3, 4), (4,)),
        ),
        OpSpec(
            "maximum",
            soma.maximum,
            torch.maximum,
            variant="ties",
            gradcheck=False,
            make=lambda rng: [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])],
        ),
        OpSpec(
            "where",
            lambda c, a, b: soma.where(c > 0, a, b),
            lambda c, a, b: torch.where(c > 0, a, b),
            shapes=((3, 4), (3, 4), (4,)),
            grad_inputs=(1, 2),
        ),
        OpSpec(
            "masked_fill",
            lambda a, m: a.masked_fill(m > 0, -1.5),
            lambda a, m: a.masked_fill(m > 0, -1.5),
            shapes=((3, 4), (4,)),
            grad_inputs=(0,),
        ),
        OpSpec(
            "remainder",
            lambda a, b: a % b,
            lambda a, b: a % b,
            make=lambda rng: [
                rng.uniform(0.1, 0.9, (3, 4)) + rng.integers(0, 3, (3, 4)),
                np.full((4,), 1.0),
            ],
            grad_inputs=(0,),
        ),
        OpSpec("floor", soma.floor, torch.floor, gradcheck=False),
        OpSpec("sign", soma.sign, torch.sign, gradcheck=False),
        OpSpec(
            "cast",
            lambda a: a.to(soma.float32).to(soma.float64),
            lambda a: a.to(torch.float32).to(torch.float64),
            atol=1e-6,
            gradcheck=False,
        ),
        OpSpec("clone", lambda a: a.clone(), lambda a: a.clone()),
        OpSpec(
            "lerp",
            lambda a, b: a.lerp(b, 0.3),
            lambda a, b: a.lerp(b, 0.3),
            shapes=((3, 4), (3, 4)),
        ),
    ]
)
