"""Trigonometric, hyperbolic and special functions and the element-wise helpers added for
PyTorch parity: each on a (3, 4) float64 input, a 0-d one, an empty one and an integer one."""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec, away_from
from tests.torch_oracle import torch


def _unary(name, fs, ft, low=-2.0, high=2.0, ints=(-2, 3), gradcheck=True, atol=1e-10, base=True):
    """Four rows: (3, 4) floats in [low, high], a 0-d float, an empty (0, 3) tensor, and int64
    values drawn from ``ints`` (None: no integer row). ``base=False`` leaves out the first
    (an op whose plain row lives in another family's table)."""
    mid = (low + high) / 2
    rows = [
        OpSpec(name, fs, ft, low=low, high=high, gradcheck=gradcheck, atol=atol),
        OpSpec(
            name,
            fs,
            ft,
            variant="0d",
            gradcheck=gradcheck,
            atol=atol,
            make=lambda rng: [np.array(mid + (high - low) / 7)],
        ),
        OpSpec(name, fs, ft, shapes=((0, 3),), variant="empty"),
    ]
    if not base:
        rows = rows[1:]
    if ints is not None:
        rows.append(
            OpSpec(
                name,
                fs,
                ft,
                variant="int64",
                rtol=1e-6,
                atol=1e-6,  # float32 results
                make=lambda rng: [rng.integers(ints[0], ints[1], (2, 3))],
            )
        )
    return rows


def _binary(name, fs, ft, low=-2.0, high=2.0, make=None, gradcheck=True):
    """Three rows: equal shapes, broadcasting against a 0-d tensor, and a Python number."""
    return [
        OpSpec(
            name, fs, ft, shapes=((3, 4), (4,)), low=low, high=high, make=make, gradcheck=gradcheck
        ),
        OpSpec(
            name,
            fs,
            ft,
            shapes=((2, 3), ()),
            low=low,
            high=high,
            variant="0d",
            gradcheck=gradcheck,
        ),
        OpSpec(
            name,
            lambda a: fs(a, 0.7),
            lambda a: ft(a, torch.tensor(0.7, dtype=a.dtype)),
            low=low,
            high=high,
            variant="scalar",
            gradcheck=gradcheck,
        ),
    ]


SPECS = (
    _unary("tan", soma.tan, torch.tan, -1.2, 1.2)
    + _unary("asin", soma.asin, torch.asin, -0.95, 0.95, ints=(-1, 2))
    + _unary("acos", soma.acos, torch.acos, -0.95, 0.95, ints=(-1, 2))
    + _unary("atan", soma.atan, torch.atan)
    + _unary("sinh", soma.sinh, torch.sinh)
    + _unary("cosh", soma.cosh, torch.cosh)
    + _unary("asinh", soma.asinh, torch.asinh)
    + _unary("acosh", soma.acosh, torch.acosh, 1.1, 4.0, ints=(1, 5))
    + _unary("atanh", soma.atanh, torch.atanh, -0.9, 0.9, ints=(0, 1))
    + _unary("erf", soma.erf, torch.erf, -3.0, 3.0)
    + _unary("erfc", soma.erfc, torch.erfc, -3.0, 5.0)
    + _unary("erfinv", soma.erfinv, torch.erfinv, -0.95, 0.95, ints=(0, 1), atol=1e-9)
    + _unary("exp2", soma.exp2, torch.exp2)
    + _unary("expm1", soma.expm1, torch.expm1, base=False)
    + _unary("log10", soma.log10, torch.log10, 0.1, 3.0, ints=(1, 9))
    + _unary("log2", soma.log2, torch.log2, 0.1, 3.0, ints=(1, 9), base=False)
    + _unary("log1p", soma.log1p, torch.log1p, -0.5, 3.0, ints=(0, 9), base=False)
    + _unary("sinc", soma.sinc, torch.sinc)
    + _unary("deg2rad", soma.deg2rad, torch.deg2rad, ints=None)
    + _unary("rad2deg", soma.rad2deg, torch.rad2deg, ints=None)
    + _unary("logit", soma.logit, torch.logit, 0.05, 0.95, ints=None)
    + _unary("trunc", soma.trunc, torch.trunc, -3.0, 3.0, gradcheck=False)
    + _unary("frac", soma.frac, torch.frac, -3.0, 3.0, ints=None)
    + _unary("nan_to_num", soma.nan_to_num, torch.nan_to_num)
    + _binary("atan2", soma.atan2, torch.atan2)
    + _binary(
        "copysign",
        soma.copysign,
        torch.copysign,
        make=lambda rng: [away_from([0], rng, (3, 4)), away_from([0], rng, (4,))],
    )
    + _binary("logaddexp", soma.logaddexp, torch.logaddexp)
    + _binary("logaddexp2", soma.logaddexp2, torch.logaddexp2)
    + _binary("xlogy", soma.xlogy, torch.xlogy, 0.1, 3.0)
    + _binary("hypot", soma.hypot, torch.hypot, 0.2, 2.0)
    + _binary("fmax", soma.fmax, torch.fmax, gradcheck=False)
    + _binary("fmin", soma.fmin, torch.fmin, gradcheck=False)
    + [
        OpSpec(
            "logit",
            lambda a: soma.logit(a, 0.2),
            lambda a: torch.logit(a, 0.2),
            variant="eps",
            make=lambda rng: [away_from([0.2, 0.8], rng, (3, 4), 0.0, 1.0)],
        ),
        OpSpec(
            "nan_to_num",
            lambda a: soma.nan_to_num(a / (a > 0), nan=1.5, posinf=9.0, neginf=-9.0),
            lambda a: torch.nan_to_num(a / (a > 0), nan=1.5, posinf=9.0, neginf=-9.0),
            variant="nonfinite",
            make=lambda rng: [np.array([[0.0, 1.0, -1.0], [-0.5, 0.5, 2.0]])],
            gradcheck=False,
        ),
        OpSpec(
            "xlogy",
            soma.xlogy,
            torch.xlogy,
            variant="zeros",
            make=lambda rng: [np.array([0.0, 1.0, 0.0, 2.0]), np.array([0.0, 2.0, 3.0, 0.5])],
            grad_inputs=(0,),
            gradcheck=False,
        ),
        OpSpec(
            "lerp",
            lambda a, b, w: soma.lerp(a, b, w),
            lambda a, b, w: torch.lerp(a, b, w),
            shapes=((3, 4), (4,), (3, 1)),
            variant="tensor_weight",
        ),
        OpSpec(
            "addcmul",
            lambda a, b, c: soma.addcmul(a, b, c, value=0.5),
            lambda a, b, c: torch.addcmul(a, b, c, value=0.5),
            shapes=((3, 4), (3, 4), (4,)),
        ),
        OpSpec(
            "addcdiv",
            lambda a, b, c: soma.addcdiv(a, b, c, value=-2),
            lambda a, b, c: torch.addcdiv(a, b, c, value=-2),
            make=lambda rng: [
                rng.uniform(-2, 2, (3, 4)),
                rng.uniform(-2, 2, (3, 4)),
                rng.uniform(0.5, 2, (4,)),
            ],
        ),
        OpSpec(
            "float_power",
            lambda a: soma.float_power(a, 2.5),
            lambda a: torch.float_power(a, 2.5),
            low=0.2,
            high=2.0,
        ),
        OpSpec(
            "clamp_min",
            lambda a: soma.clamp_min(a, 0.1),
            lambda a: torch.clamp_min(a, 0.1),
            make=lambda rng: [away_from([0.1], rng, (3, 4))],
        ),
        OpSpec(
            "clamp_max",
            lambda a: a.clamp_max(0.1),
            lambda a: a.clamp_max(0.1),
            make=lambda rng: [away_from([0.1], rng, (3, 4))],
        ),
        OpSpec(
            "atan2",
            soma.atan2,
            torch.atan2,
            variant="int64",
            make=lambda rng: [rng.integers(-3, 4, (2, 3)), rng.integers(1, 4, (3,))],
        ),
        OpSpec(
            "isclose",
            lambda a, b: soma.isclose(a, a + b * 1e-6, rtol=1e-6),
            lambda a, b: torch.isclose(a, a + b * 1e-6, rtol=1e-6),
            shapes=((3, 4), (3, 4)),
            gradcheck=False,
        ),
    ]
)
