"""Distances, gating, RMS norm and channel shuffle (issue 11): table rows."""

import numpy as np

import soma.functional as S
from tests.conftest import torch
from tests.op_specs.spec import OpSpec

T = torch.nn.functional if torch is not None else None

SPECS = [
    OpSpec(
        "cosine_similarity",
        lambda a, b: S.cosine_similarity(a, b),
        lambda a, b: T.cosine_similarity(a, b),
        shapes=((3, 4), (3, 4)),
    ),
    OpSpec(
        "cosine_similarity",
        lambda a, b: S.cosine_similarity(a, b, dim=0, eps=1e-3),
        lambda a, b: T.cosine_similarity(a, b, dim=0, eps=1e-3),
        shapes=((4, 3), (1, 3)),
        variant="dim=0,broadcast",
    ),
    OpSpec(
        "cosine_similarity",  # a norm below eps: clamped for the value, not the gradient
        lambda a, b: S.cosine_similarity(a, b, dim=1, eps=0.5),
        lambda a, b: T.cosine_similarity(a, b, dim=1, eps=0.5),
        make=lambda rng: [rng.uniform(-0.1, 0.1, (2, 3)), rng.uniform(-2, 2, (2, 3))],
        gradcheck=False,
        variant="small_norm",
    ),
    OpSpec(
        "pairwise_distance",
        lambda a, b: S.pairwise_distance(a, b),
        lambda a, b: T.pairwise_distance(a, b),
        shapes=((3, 4), (3, 4)),
    ),
    OpSpec(
        "pairwise_distance",
        lambda a, b: S.pairwise_distance(a, b, p=3.0, keepdim=True),
        lambda a, b: T.pairwise_distance(a, b, p=3.0, keepdim=True),
        shapes=((3, 4), (3, 4)),
        variant="p=3,keepdim",
    ),
    OpSpec(
        "pairwise_distance",
        lambda a, b: S.pairwise_distance(a, b, p=1.0, eps=0.0),
        lambda a, b: T.pairwise_distance(a, b, p=1.0, eps=0.0),
        shapes=((4,), (4,)),
        variant="p=1,1d",
    ),
    OpSpec(
        "normalize",
        lambda a: S.normalize(a),
        lambda a: T.normalize(a),
        shapes=((3, 4),),
    ),
    OpSpec(
        "normalize",
        lambda a: S.normalize(a, p=1.0, dim=0),
        lambda a: T.normalize(a, p=1.0, dim=0),
        shapes=((3, 4),),
        variant="p=1,dim=0",
    ),
    OpSpec("glu", lambda a: S.glu(a), lambda a: T.glu(a), shapes=((3, 4),)),
    OpSpec(
        "glu",
        lambda a: S.glu(a, dim=0),
        lambda a: T.glu(a, dim=0),
        shapes=((4, 2, 3),),
        variant="dim=0",
    ),
    OpSpec(
        "rms_norm",
        lambda a: S.rms_norm(a, (4,)),
        lambda a: T.rms_norm(a, (4,)),
        shapes=((3, 4),),
    ),
    OpSpec(
        "rms_norm",
        lambda a, w: S.rms_norm(a, (3, 4), w, eps=1e-5),
        lambda a, w: T.rms_norm(a, (3, 4), w, eps=1e-5),
        shapes=((2, 3, 4), (3, 4)),
        variant="weight,2d",
    ),
    OpSpec(
        "channel_shuffle",
        lambda a: S.channel_shuffle(a, 3),
        lambda a: T.channel_shuffle(a, 3),
        shapes=((2, 6, 5),),
    ),
]


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


SPECS += [
    OpSpec(
        "normalize",
        lambda a: S.normalize(a, dim=-1),
        lambda a: T.normalize(a, dim=-1),
        make=lambda rng: [np.concatenate([rng.uniform(-1, 1, (1, 3)), np.zeros((1, 3))])],
        gradcheck=False,  # a zero row: the norm is clamped at eps
        variant="zero_row",
    ),
]
