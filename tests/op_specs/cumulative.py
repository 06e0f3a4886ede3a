"""Cumulative ops, order statistics and the paired statistics (std_mean, var_mean)."""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec
from tests.torch_oracle import torch


def _distinct(shape):
    """Values without ties (so max/min/sort/median are differentiable at the sample)."""

    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) / n * 4 - 2 + rng.uniform(0, 1e-3, shape)]

    return make


def _pair(name, fs, ft, **kw):
    """``fs``/``ft`` applied as ``f(a)``; the result may be a (values, indices) pair."""
    return OpSpec(name, fs, ft, **kw)


SPECS = []
for dim in (0, 1, -1):
    SPECS += [
        OpSpec(
            "cumprod",
            lambda a, d=dim: soma.cumprod(a, d),
            lambda a, d=dim: torch.cumprod(a, d),
            shapes=((3, 4),),
            variant=f"dim={dim}",
        ),
        OpSpec(
            "logcumsumexp",
            lambda a, d=dim: a.logcumsumexp(d),
            lambda a, d=dim: a.logcumsumexp(d),
            shapes=((3, 4),),
            variant=f"dim={dim}",
        ),
        OpSpec(
            "cummax",
            lambda a, d=dim: soma.cummax(a, d),
            lambda a, d=dim: torch.cummax(a, d),
            make=_distinct((3, 4)),
            variant=f"dim={dim}",
        ),
        OpSpec(
            "cummin",
            lambda a, d=dim: a.cummin(d),
            lambda a, d=dim: a.cummin(d),
            make=_distinct((3, 4)),
            variant=f"dim={dim}",
        ),
    ]

SPECS += [
    OpSpec(
        "cumprod",
        lambda a: a.cumprod(1),
        lambda a: a.cumprod(1),
        variant="zeros",
        make=lambda rng: [
            np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [2.0, 0.5, 1.5, 0.0]])
        ],
    ),
    OpSpec("cumprod", lambda a: a.cumprod(0), lambda a: a.cumprod(0), shapes=((),), variant="0d"),
    OpSpec(
        "cumprod",
        lambda a: a.cumprod(0),
        lambda a: a.cumprod(0),
        shapes=((0, 3),),
        variant="empty",
    ),
    OpSpec(
        "cumprod",
        lambda a: a.cumprod(1),
        lambda a: a.cumprod(1),
        variant="int64",
        make=lambda rng: [rng.integers(-3, 4, (2, 3))],
    ),
    OpSpec(
        "cumsum",
        lambda a: a.cumsum(1),
        lambda a: a.cumsum(1),
        variant="int64",
        make=lambda rng: [rng.integers(-3, 4, (2, 3)).astype(np.int32)],
    ),
    OpSpec("cumsum", lambda a: a.cumsum(0), lambda a: a.cumsum(0), shapes=((),), variant="0d"),
    OpSpec(
        "logcumsumexp",
        lambda a: a.logcumsumexp(0),
        lambda a: a.logcumsumexp(0),
        variant="wide_range",
        make=lambda rng: [np.array([-800.0, 0.0, 700.0, -5.0, 710.0])],
    ),
    OpSpec(
        "logcumsumexp",
        lambda a: a.logcumsumexp(0),
        lambda a: a.logcumsumexp(0),
        shapes=((),),
        variant="0d",
    ),
    OpSpec(
        "cummax",
        lambda a: a.cummax(0),
        lambda a: a.cummax(0),
        variant="ties",
        make=lambda rng: [np.array([1.0, 3.0, 3.0, 2.0, 5.0, 5.0])],
        gradcheck=False,
    ),
    OpSpec(
        "cummax",
        lambda a: a.cummax(0),
        lambda a: a.cummax(0),
        variant="int64",
        make=lambda rng: [rng.integers(-3, 4, (5,))],
    ),
    OpSpec("cummin", lambda a: a.cummin(0), lambda a: a.cummin(0), shapes=((),), variant="0d"),
    # order statistics (distinct values: the selected element is unambiguous)
    OpSpec(
        "kthvalue", lambda a: a.kthvalue(2, 1), lambda a: a.kthvalue(2, 1), make=_distinct((3, 4))
    ),
    OpSpec(
        "kthvalue",
        lambda a: soma.kthvalue(a, 3, 0, True),
        lambda a: torch.kthvalue(a, 3, 0, True),
        make=_distinct((3, 4)),
        variant="keepdim",
    ),
    OpSpec("median", lambda a: a.median(), lambda a: a.median(), make=_distinct((3, 4))),
    OpSpec(
        "median",
        lambda a: a.median(),
        lambda a: a.median(),
        variant="ties",
        make=lambda rng: [np.array([2.0, 1.0, 2.0, 3.0, 2.0])],
        gradcheck=False,  # ties share the gradient; a finite difference breaks the tie
    ),
    OpSpec(
        "median",
        lambda a: a.median(1),
        lambda a: a.median(1),
        make=_distinct((3, 4)),
        variant="dim",
    ),
    OpSpec(
        "median",
        lambda a: a.median(0, keepdim=True),
        lambda a: a.median(0, keepdim=True),
        make=_distinct((5, 2)),
        variant="dim_odd",
    ),
    OpSpec(
        "median",
        lambda a: a.median(1),
        lambda a: a.median(1),
        variant="int64",
        make=lambda rng: [rng.permutation(12).reshape(3, 4)],
    ),
    OpSpec(
        "nanmedian",
        lambda a: (a / (a > -1.5)).nanmedian(1),
        lambda a: (a / (a > -1.5)).nanmedian(1),
        make=_distinct((3, 5)),
        gradcheck=False,
    ),
    OpSpec(
        "mode",
        lambda a: a.mode(1),
        lambda a: a.mode(1),
        variant="int64",
        make=lambda rng: [np.array([[1, 2, 2, 1, 3], [0, 0, 1, 1, 1], [4, 4, 4, 2, 2]])],
    ),
    OpSpec(
        "mode",
        lambda a: soma.mode(a, 0),
        lambda a: torch.mode(a, 0),
        make=lambda rng: [np.array([[0.5, 1.0], [0.5, 2.0], [1.5, 2.0]])],
        gradcheck=False,  # the mode is defined by ties
    ),
    OpSpec(
        "msort",
        soma.msort,
        torch.msort,
        make=_distinct((4, 3)),
    ),
    OpSpec(
        "sort",
        lambda a: a.sort(dim=1, descending=True, stable=True),
        lambda a: a.sort(dim=1, descending=True, stable=True),
        variant="stable_desc",
        make=lambda rng: [np.array([[1.0, 3.0, 1.0, 3.0, 2.0], [0.0, 0.0, 1.0, 0.0, -1.0]])],
        gradcheck=False,
    ),
    OpSpec(
        "argsort",
        lambda a: soma.argsort(a, stable=True),
        lambda a: torch.argsort(a, stable=True),
        make=lambda rng: [np.array([[1.0, 3.0, 1.0, 3.0, 2.0], [0.0, 0.0, 1.0, 0.0, -1.0]])],
        variant="stable",
        gradcheck=False,
    ),
    OpSpec("sort", lambda a: a.sort(0), lambda a: a.sort(0), shapes=((),), variant="0d"),
    OpSpec("sort", lambda a: a.sort(1), lambda a: a.sort(1), shapes=((0, 3),), variant="empty"),
    # paired statistics
    OpSpec(
        "std_mean",
        lambda a: soma.std_mean(a, 1),
        lambda a: torch.std_mean(a, 1),
        shapes=((3, 4),),
    ),
    OpSpec(
        "var_mean",
        lambda a: soma.var_mean(a, (0, 1), keepdim=True, correction=0),
        lambda a: torch.var_mean(a, (0, 1), keepdim=True, correction=0),
        shapes=((3, 4),),
    ),
    OpSpec("var_mean", soma.var_mean, torch.var_mean, shapes=((5,),), variant="all"),
    OpSpec("nansum", lambda a: a.nansum(1), lambda a: a.nansum(1), shapes=((3, 4),)),
    OpSpec("nanmean", lambda a: a.nanmean(0), lambda a: a.nanmean(0), shapes=((3, 4),)),
    OpSpec(
        "nanmean",
        lambda a: a.nanmean(1),
        lambda a: a.nanmean(1),
        variant="with_nan",
        make=lambda rng: [np.array([[1.0, np.nan, 2.0], [0.5, 0.25, np.nan]])],
        gradcheck=False,
    ),
    OpSpec(
        "aminmax",
        lambda a: tuple(soma.aminmax(a, dim=1)),
        lambda a: tuple(torch.aminmax(a, dim=1)),
        make=_distinct((3, 4)),
    ),
]

# 0-d, empty and integer rows of the older ordering and moving ops
SPECS += [
    OpSpec("topk", lambda a: a.topk(1), lambda a: a.topk(1), shapes=((),), variant="0d"),
    OpSpec("topk", lambda a: a.topk(0), lambda a: a.topk(0), shapes=((0,),), variant="empty"),
    OpSpec(
        "topk",
        lambda a: a.topk(2),
        lambda a: a.topk(2),
        variant="int64",
        make=lambda rng: [rng.permutation(5)],
    ),
    OpSpec("flip", lambda a: a.flip(0), lambda a: a.flip(0), shapes=((),), variant="0d"),
    OpSpec("flip", lambda a: a.flip(0), lambda a: a.flip(0), shapes=((0, 2),), variant="empty"),
    OpSpec("roll", lambda a: a.roll(2), lambda a: a.roll(2), shapes=((2, 3),), variant="flat"),
    OpSpec(
        "roll",
        lambda a: a.roll((1, -1), (0, 1)),
        lambda a: a.roll((1, -1), (0, 1)),
        variant="int64",
        make=lambda rng: [rng.integers(0, 9, (2, 3))],
    ),
    OpSpec("roll", lambda a: a.roll(1), lambda a: a.roll(1), shapes=((),), variant="0d"),
]
