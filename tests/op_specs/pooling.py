"""Pooling: max, average, LP, min, sum, adaptive, unpooling."""

import numpy as np

from soma.functional.pooling import adaptive as SA
from soma.functional.pooling import lp_min_sum as SV
from soma.functional.pooling import max_avg as SP
from soma.functional.pooling import unpooling as SU
from tests.op_specs.spec import TF, OpSpec, torch


def distinct(shape):
    """Values at least 4/size apart, so every window has a single maximum (and minimum)."""

    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) / n * 4 - 2 + rng.uniform(0, 1e-3, shape)]

    return make


def positive(shape):
    return lambda rng: [rng.uniform(0.2, 2.0, shape)]


SPECS = []

# (variant, input shape, kwargs): stride, padding, dilation, ceil_mode, odd and non-square sizes
MAX_2D = [
    ("k2", (2, 3, 6, 8), dict(kernel_size=2)),
    ("k3s2p1", (2, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("k3s2p1_ceil", (1, 2, 8, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("k2x3_s1x2_d2x1", (2, 2, 7, 9), dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))),
    (
        "k4_d2_p2_ceil",
        (1, 1, 9, 10),
        dict(kernel_size=4, stride=3, padding=2, dilation=2, ceil_mode=True),
    ),
    ("unbatched", (3, 5, 5), dict(kernel_size=2, stride=1)),
    ("k3s2p1_pixels", (4, 5, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
]
for variant, shape, kw in MAX_2D:
    SPECS.append(
        OpSpec(
            "max_pool2d",
            lambda a, kw=kw: SP.max_pool2d(a, **kw),
            lambda a, kw=kw: TF.max_pool2d(a, **kw),
            make=distinct(shape),
            variant=variant,
        )
    )
    SPECS.append(
        OpSpec(
            "max_pool2d",
            lambda a, kw=kw: SP.max_pool2d(a, return_indices=True, **kw),
            lambda a, kw=kw: TF.max_pool2d(a, return_indices=True, **kw),
            make=distinct(shape),
            variant=variant + "_indices",
        )
    )
    SPECS.append(
        OpSpec(
            "min_pool2d",
            lambda a, kw=kw: SV.min_pool2d(a, **kw),
            lambda a, kw=kw: -TF.max_pool2d(-a, **kw),
            make=distinct(shape),
            variant=variant,
        )
    )

SPECS += [
    OpSpec(
        "max_pool1d",
        lambda a: SP.max_pool1d(a, 3, 2, 1, ceil_mode=True, return_indices=True),
        lambda a: TF.max_pool1d(a, 3, 2, 1, ceil_mode=True, return_indices=True),
        make=distinct((2, 3, 10)),
    ),
    OpSpec(
        "max_pool1d",
        lambda a: SP.max_pool1d(a, 2, dilation=3),
        lambda a: TF.max_pool1d(a, 2, dilation=3),
        make=distinct((2, 10)),
        variant="dilated",
    ),
    OpSpec(
        "max_pool3d",
        lambda a: SP.max_pool3d(a, 2, return_indices=True),
        lambda a: TF.max_pool3d(a, 2, return_indices=True),
        make=distinct((2, 2, 4, 4, 6)),
    ),
    OpSpec(
        "max_pool3d",
        lambda a: SP.max_pool3d(
            a, (3, 2, 2), (2, 1, 2), (1, 0, 1), ceil_mode=True, return_indices=True
        ),
        lambda a: TF.max_pool3d(
            a, (3, 2, 2), (2, 1, 2), (1, 0, 1), ceil_mode=True, return_indices=True
        ),
        make=distinct((1, 2, 5, 4, 5)),
        variant="mixed",
    ),
    OpSpec(
        "min_pool1d",
        lambda a: SV.min_pool1d(a, 2),
        lambda a: -TF.max_pool1d(-a, 2),
        make=distinct((2, 3, 8)),
    ),
    OpSpec(
        "min_pool3d",
        lambda a: SV.min_pool3d(a, 2),
        lambda a: -TF.max_pool3d(-a, 2),
        make=distinct((1, 2, 4, 4, 4)),
    ),
]

AVG_2D = [
    ("k2", (2, 3, 6, 8), dict(kernel_size=2)),
    ("k3s2p1", (2, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    (
        "k3s2p1_nopad",
        (2, 2, 7, 9),
        dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    ),
    ("k3s2p1_ceil", (1, 2, 8, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (
        "k3s2p1_ceil_nopad",
        (1, 2, 8, 7),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
    ("k2x3_s2x1_ceil", (2, 1, 7, 6), dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True)),
    ("divisor", (2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ("unbatched", (3, 5, 5), dict(kernel_size=2, stride=1)),
    (
        "k3s2p1_pixels",
        (4, 5, 7, 6),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
]
for variant, shape, kw in AVG_2D:
    SPECS.append(
        OpSpec(
            "avg_pool2d",
            lambda a, kw=kw: SP.avg_pool2d(a, **kw),
            lambda a, kw=kw: TF.avg_pool2d(a, **kw),
            shapes=(shape,),
            variant=variant,
        )
    )

SPECS += [
    OpSpec(
        "avg_pool1d",
        lambda a: SP.avg_pool1d(a, 3, 2, 1, True, False),
        lambda a: TF.avg_pool1d(a, 3, 2, 1, True, False),
        shapes=((2, 3, 10),),
    ),
    OpSpec(
        "avg_pool3d",
        lambda a: SP.avg_pool3d(a, (3, 2, 2), 2, (1, 0, 1), True, False),
        lambda a: TF.avg_pool3d(a, (3, 2, 2), 2, (1, 0, 1), True, False),
        shapes=((1, 2, 5, 4, 5),),
    ),
    OpSpec(
        "avg_pool3d",
        lambda a: SP.avg_pool3d(a, 2, divisor_override=3),
        lambda a: TF.avg_pool3d(a, 2, divisor_override=3),
        shapes=((1, 2, 4, 4, 4),),
        variant="divisor",
    ),
    OpSpec(
        "sum_pool1d",
        lambda a: SV.sum_pool1d(a, 3, 2),
        lambda a: TF.lp_pool1d(a, 1, 3, 2),
        shapes=((2, 3, 9),),
    ),
    OpSpec(
        "sum_pool2d",
        lambda a: SV.sum_pool2d(a, 3, 2, 1),
        lambda a: TF.avg_pool2d(a, 3, 2, 1, divisor_override=1),
        shapes=((2, 2, 7, 6),),
    ),
    OpSpec(
        "sum_pool3d",
        lambda a: SV.sum_pool3d(a, 2),
        lambda a: TF.avg_pool3d(a, 2) * 8,
        shapes=((1, 2, 4, 4, 4),),
    ),
]

for p in (1, 2, 3.5):
    SPECS += [
        OpSpec(
            "lp_pool2d",
            lambda a, p=p: SV.lp_pool2d(a, p, 3, 2, ceil_mode=True),
            lambda a, p=p: TF.lp_pool2d(a, p, 3, 2, ceil_mode=True),
            make=positive((2, 2, 7, 8)),
            variant=f"p{p}",
        ),
        OpSpec(
            "lp_pool1d",
            lambda a, p=p: SV.lp_pool1d(a, p, 2),
            lambda a, p=p: TF.lp_pool1d(a, p, 2),
            make=positive((2, 3, 8)),
            variant=f"p{p}",
        ),
    ]
SPECS += [
    OpSpec(
        "lp_pool3d",
        lambda a: SV.lp_pool3d(a, 2, 2),
        lambda a: TF.lp_pool3d(a, 2, 2),
        make=positive((1, 2, 4, 4, 4)),
    ),
    OpSpec(
        "lp_pool2d",
        lambda a: SV.lp_pool2d(a, float("inf"), 2),
        lambda a: TF.lp_pool2d(a, float("inf"), 2),
        make=distinct((2, 2, 4, 6)),
        variant="inf",
    ),
]

# adaptive pooling: divisible sizes (ordinary pooling), ragged windows, global, None
for size in (1, 2, 3, (4, None), (5, 7), (7, 9)):
    v = f"out={size}"
    SPECS += [
        OpSpec(
            "adaptive_avg_pool2d",
            lambda a, s=size: SA.adaptive_avg_pool2d(a, s),
            lambda a, s=size: TF.adaptive_avg_pool2d(a, s),
            shapes=((2, 3, 7, 9),),
            variant=v,
        ),
        OpSpec(
            "adaptive_max_pool2d",
            lambda a, s=size: SA.adaptive_max_pool2d(a, s, return_indices=True),
            lambda a, s=size: TF.adaptive_max_pool2d(a, s, return_indices=True),
            make=distinct((2, 3, 7, 9)),
            variant=v,
        ),
    ]
SPECS += [
    OpSpec(
        "adaptive_avg_pool2d",
        lambda a: SA.adaptive_avg_pool2d(a, 2),
        lambda a: TF.adaptive_avg_pool2d(a, 2),
        shapes=((3, 8, 8),),
        variant="unbatched",
    ),
    OpSpec(
        "adaptive_avg_pool1d",
        lambda a: SA.adaptive_avg_pool1d(a, 4),
        lambda a: TF.adaptive_avg_pool1d(a, 4),
        shapes=((2, 3, 10),),
    ),
    OpSpec(
        "adaptive_avg_pool3d",
        lambda a: SA.adaptive_avg_pool3d(a, (2, 3, 1)),
        lambda a: TF.adaptive_avg_pool3d(a, (2, 3, 1)),
        shapes=((1, 2, 5, 7, 3),),
    ),
    OpSpec(
        "adaptive_max_pool1d",
        lambda a: SA.adaptive_max_pool1d(a, 4, True),
        lambda a: TF.adaptive_max_pool1d(a, 4, True),
        make=distinct((2, 3, 10)),
    ),
    OpSpec(
        "adaptive_max_pool3d",
        lambda a: SA.adaptive_max_pool3d(a, (2, 3, 1), True),
        lambda a: TF.adaptive_max_pool3d(a, (2, 3, 1), True),
        make=distinct((1, 2, 5, 7, 3)),
    ),
    OpSpec(
        "adaptive_max_pool3d",
        lambda a: SA.adaptive_max_pool3d(a, 1),
        lambda a: TF.adaptive_max_pool3d(a, 1),
        make=distinct((2, 2, 3, 4, 3)),
        variant="global",
    ),
]


def _unpool_case(shape, k, s, p, d):
    """(pooled values, their indices) from a max pooling of a random input."""
    pool = {1: TF.max_pool1d, 2: TF.max_pool2d, 3: TF.max_pool3d}[d]

    def make(rng):
        x = torch.tensor(distinct(shape)(rng)[0])
        y, idx = pool(x, k, s, p, return_indices=True)
        return [rng.standard_normal(tuple(y.shape)), idx.numpy()]

    return make


UNPOOL = [
    (1, (2, 3, 9), 2, 2, 0, (9,)),
    (2, (2, 2, 6, 6), 2, 2, 0, None),
    (2, (1, 2, 7, 9), 2, 2, 1, (7, 9)),
    (3, (1, 2, 4, 5, 4), 2, 2, 0, (4, 5, 4)),
]
for d, shape, k, s, p, out in UNPOOL:
    fs = {1: SU.max_unpool1d, 2: SU.max_unpool2d, 3: SU.max_unpool3d}[d]
    ft = {1: TF.max_unpool1d, 2: TF.max_unpool2d, 3: TF.max_unpool3d}[d]
    SPECS.append(
        OpSpec(
            f"max_unpool{d}d",
            lambda a, i, fs=fs, k=k, s=s, p=p, out=out: fs(a, i, k, s, p, out),
            lambda a, i, ft=ft, k=k, s=s, p=p, out=out: ft(a, i, k, s, p, out),
            make=_unpool_case(shape, k, s, p, d),
            variant=f"{shape}",
        )
    )
