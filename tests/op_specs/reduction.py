"""Reductions with dim/keepdim, and the ordering ops that carry gradients."""

import numpy as np

from tests.op_specs.spec import OpSpec


def _distinct(shape):
    """Values without ties, so max/min/sort are differentiable at the sample."""

    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) / n * 4 - 2 + rng.uniform(0, 1e-3, shape)]

    return make


SPECS = []
for dim, keep in [
    (None, False),
    (0, False),
    (1, True),
    (-1, False),
    ((0, 2), False),
    ((0, 2), True),
]:
    v = f"dim={dim},keepdim={keep}"
    SPECS += [
        OpSpec(
            "sum",
            lambda a, d=dim, k=keep: a.sum(d, keepdim=k) if d is not None else a.sum(),
            lambda a, d=dim, k=keep: a.sum(d, keepdim=k) if d is not None else a.sum(),
            shapes=((2, 3, 4),),
            variant=v,
        ),
        OpSpec(
            "mean",
            lambda a, d=dim, k=keep: a.mean(d, keepdim=k) if d is not None else a.mean(),
            lambda a, d=dim, k=keep: a.mean(d, keepdim=k) if d is not None else a.mean(),
            shapes=((2, 3, 4),),
            variant=v,
        ),
        OpSpec(
            "var",
            lambda a, d=dim, k=keep: a.var(d, keepdim=k),
            lambda a, d=dim, k=keep: a.var(d, keepdim=k),
            shapes=((2, 3, 4),),
            variant=v,
        ),
        OpSpec(
            "std",
            lambda a, d=dim, k=keep: a.std(d, unbiased=False, keepdim=k),
            lambda a, d=dim, k=keep: a.std(d, unbiased=False, keepdim=k),
            shapes=((2, 3, 4),),
            variant=v,
        ),
        OpSpec(
            "amax",
            lambda a, d=dim, k=keep: a.amax(d if d is not None else (0, 1, 2), keepdim=k),
            lambda a, d=dim, k=keep: a.amax(d if d is not None else (0, 1, 2), keepdim=k),
            make=_distinct((2, 3, 4)),
            variant=v,
        ),
        OpSpec(
            "logsumexp",
            lambda a, d=dim, k=keep: a.logsumexp(d if d is not None else (0, 1, 2), keepdim=k),
            lambda a, d=dim, k=keep: a.logsumexp(d if d is not None else (0, 1, 2), keepdim=k),
            shapes=((2, 3, 4),),
            variant=v,
        ),
    ]

SPECS += [
    OpSpec("sum", lambda a: a.sum(1), lambda a: a.sum(1), shapes=((0, 3),), variant="empty"),
    OpSpec("prod", lambda a: a.prod(1), lambda a: a.prod(1), shapes=((3, 4),)),
    OpSpec("prod", lambda a: a.prod(), lambda a: a.prod(), shapes=((3, 4),), variant="all"),
    OpSpec(
        "prod",
        lambda a: a.prod(0, keepdim=True),
        lambda a: a.prod(0, keepdim=True),
        gradcheck=False,
        make=lambda rng: [np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 2.0], [0.0, 0.0, 1.0]])],
        variant="zeros",
    ),
    OpSpec("max", lambda a: a.max(), lambda a: a.max(), make=_distinct((3, 4)), variant="all"),
    OpSpec(
        "max",
        lambda a: a.max(),
        lambda a: a.max(),
        gradcheck=False,
        make=lambda rng: [np.array([[1.0, 3.0], [3.0, 0.0]])],
        variant="ties",
    ),
    OpSpec("max", lambda a: a.max(1), lambda a: a.max(1), make=_distinct((3, 4)), variant="dim"),
    OpSpec(
        "max",
        lambda a: a.max(0, keepdim=True),
        lambda a: a.max(0, keepdim=True),
        gradcheck=False,
        make=lambda rng: [np.array([[1.0, 3.0, 2.0], [1.0, 3.0, 5.0]])],
        variant="dim_ties",
    ),
    OpSpec(
        "min",
        lambda a: a.min(-1, keepdim=True),
        lambda a: a.min(-1, keepdim=True),
        make=_distinct((3, 4)),
        variant="dim",
    ),
    OpSpec("min", lambda a: a.min(), lambda a: a.min(), make=_distinct((3, 4)), variant="all"),
    OpSpec(
        "amin",
        lambda a: a.amin((0, 1)),
        lambda a: a.amin((0, 1)),
        gradcheck=False,
        make=lambda rng: [np.array([[1.0, 3.0], [1.0, 0.5], [0.5, 2.0]])],
        variant="ties",
    ),
    OpSpec("norm", lambda a: a.norm(), lambda a: a.norm()),
    OpSpec("norm", lambda a: a.norm(dim=1), lambda a: a.norm(dim=1), variant="dim"),
    OpSpec(
        "norm",
        lambda a: a.norm(p=1, dim=1),
        lambda a: a.norm(p=1, dim=1),
        variant="p1",
        make=lambda rng: [rng.uniform(0.1, 1, (3, 4)) * rng.choice([-1, 1], (3, 4))],
    ),
    OpSpec("norm", lambda a: a.norm(p=3), lambda a: a.norm(p=3), variant="p3"),
    OpSpec("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1)),
    OpSpec(
        "var",
        lambda a: a.var(1, correction=0),
        lambda a: a.var(1, correction=0),
        variant="correction0",
    ),
    OpSpec(
        "topk",
        lambda a: a.topk(2, dim=1)[0],
        lambda a: a.topk(2, dim=1)[0],
        make=_distinct((3, 5)),
    ),
    OpSpec(
        "topk",
        lambda a: a.topk(2, dim=0, largest=False)[0],
        lambda a: a.topk(2, dim=0, largest=False)[0],
        make=_distinct((3, 5)),
        variant="smallest",
    ),
    OpSpec(
        "sort",
        lambda a: a.sort(dim=1, descending=True)[0],
        lambda a: a.sort(dim=1, descending=True)[0],
        make=_distinct((3, 5)),
    ),
]
