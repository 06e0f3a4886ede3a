"""Dropout, made deterministic: a seeded generator fixes soma's mask, which the PyTorch twin
applies by hand (PyTorch's own masks come from a different random stream)."""

import math

import numpy as np

import soma
from soma.functional.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
    keep_mask,
)
from tests.op_specs.spec import OpSpec, torch

SEED = 7
SATURATION = 1.7580993408473766


def _gen():
    return soma.Generator().manual_seed(SEED)


def _mask(shape, p):
    return torch.tensor(keep_mask(shape, p, _gen()).astype(np.float64))


def _alpha_twin(x, p, shape):
    keep = _mask(shape, p)
    a = 1.0 / math.sqrt((SATURATION**2 * p + 1) * (1 - p))
    return x * keep * a + (keep - 1) * SATURATION * a + SATURATION * a * p


SPECS = []
for p in (0.2, 0.5, 0.3001):
    SPECS += [
        OpSpec(
            "dropout",
            lambda x, p=p: dropout(x, p, generator=_gen()),
            lambda x, p=p: x * _mask(tuple(x.shape), p) / (1 - p),
            shapes=((6, 7),),
            variant=f"p={p}",
        ),
        OpSpec(
            "dropout2d",
            lambda x, p=p: dropout2d(x, p, generator=_gen()),
            lambda x, p=p: x * _mask((2, 5, 1, 1), p) / (1 - p),
            shapes=((2, 5, 3, 4),),
            variant=f"p={p}",
        ),
        OpSpec(
            "alpha_dropout",
            lambda x, p=p: alpha_dropout(x, p, True, generator=_gen()),
            lambda x, p=p: _alpha_twin(x, p, tuple(x.shape)),
            shapes=((6, 7),),
            variant=f"p={p}",
        ),
    ]
SPECS += [
    OpSpec(
        "dropout1d",
        lambda x: dropout1d(x, 0.4, generator=_gen()),
        lambda x: x * _mask((3, 4, 1), 0.4) / 0.6,
        shapes=((3, 4, 5),),
    ),
    OpSpec(
        "dropout1d",
        lambda x: dropout1d(x, 0.4, generator=_gen()),
        lambda x: x * _mask((4, 1), 0.4) / 0.6,
        shapes=((4, 5),),
        variant="unbatched",
    ),
    OpSpec(
        "dropout3d",
        lambda x: dropout3d(x, 0.5, generator=_gen()),
        lambda x: x * _mask((2, 3, 1, 1, 1), 0.5) / 0.5,
        shapes=((2, 3, 2, 2, 3),),
    ),
    OpSpec(
        "dropout3d",
        lambda x: dropout3d(x, 0.5, generator=_gen()),
        lambda x: x * _mask((3, 1, 1, 1), 0.5) / 0.5,
        shapes=((3, 2, 2, 3),),
        variant="unbatched",
    ),
    OpSpec(
        "feature_alpha_dropout",
        lambda x: feature_alpha_dropout(x, 0.25, True, generator=_gen()),
        lambda x: _alpha_twin(x, 0.25, (2, 4, 1, 1)),
        shapes=((2, 4, 3, 3),),
    ),
    # the deterministic cases PyTorch computes itself
    OpSpec(
        "dropout",
        lambda x: dropout(x, 0.5, training=False),
        lambda x: torch.nn.functional.dropout(x, 0.5, training=False),
        variant="eval",
    ),
    OpSpec(
        "dropout",
        lambda x: dropout(x, 0.0),
        lambda x: torch.nn.functional.dropout(x, 0.0),
        variant="p=0",
    ),
    OpSpec(
        "dropout",
        lambda x: dropout(x, 1.0),
        lambda x: torch.nn.functional.dropout(x, 1.0),
        variant="p=1",
    ),
    OpSpec(
        "alpha_dropout",
        lambda x: alpha_dropout(x, 0.5),
        lambda x: torch.nn.functional.alpha_dropout(x, 0.5),
        variant="eval",
    ),
    OpSpec(
        "alpha_dropout",
        lambda x: alpha_dropout(x, 1.0, True),
        lambda x: torch.nn.functional.alpha_dropout(x, 1.0, True),
        variant="p=1",
    ),
]
