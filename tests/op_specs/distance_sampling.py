"""(Merged beside the optim helper's ``distance.py`` rows.) Distances and similarities (normalize, cosine_similarity, pairwise_distance, cdist, pdist),
the gated activations (glu, rrelu in eval mode) and image sampling (affine_grid,
grid_sample)."""

import numpy as np

import soma
import soma.nn.functional as F
from tests.op_specs.spec import OpSpec
from tests.torch_oracle import torch

TF = torch.nn.functional

SPECS = []
for p in (1.0, 2.0, 3.0, float("inf")):
    SPECS += [
        OpSpec(
            "normalize",
            lambda a, p=p: F.normalize(a, p, 1),
            lambda a, p=p: TF.normalize(a, p, 1),
            shapes=((3, 4),),
            variant=f"p={p}",
        ),
        OpSpec(
            "pairwise_distance",
            lambda a, b, p=p: F.pairwise_distance(a, b, p),
            lambda a, b, p=p: TF.pairwise_distance(a, b, p),
            shapes=((3, 4), (3, 4)),
            variant=f"p={p}",
        ),
        OpSpec(
            "cdist",
            lambda a, b, p=p: soma.cdist(a, b, p),
            lambda a, b, p=p: torch.cdist(a, b, p),
            shapes=((2, 3, 4), (2, 5, 4)),
            variant=f"p={p}",
        ),
    ]
SPECS += [
    OpSpec(
        "normalize",
        lambda a: F.normalize(a, dim=-1),
        lambda a: TF.normalize(a, dim=-1),
        make=lambda rng: [np.array([[3.0, 4.0], [0.0, 0.0]])],
        variant="zero_row,dim=-1",
        gradcheck=False,  # x / eps near a zero row: a slope of 1e12, beyond finite differences
    ),
    OpSpec(
        "normalize",
        lambda a: F.normalize(a, dim=0),
        lambda a: TF.normalize(a, dim=0),
        shapes=((),),
        variant="0d",
    ),
    OpSpec(
        "cosine_similarity",
        F.cosine_similarity,
        TF.cosine_similarity,
        shapes=((2, 3, 4), (2, 3, 4)),
        variant="3d",
    ),
    OpSpec(
        "cosine_similarity",
        lambda a, b: F.cosine_similarity(a, b, dim=-1),
        lambda a, b: TF.cosine_similarity(a, b, dim=-1),
        shapes=((2, 3, 4), (3, 4)),
        variant="broadcast",
    ),
    OpSpec(
        "pairwise_distance",
        lambda a, b: F.pairwise_distance(a, b, keepdim=True),
        lambda a, b: TF.pairwise_distance(a, b, keepdim=True),
        shapes=((4,), (3, 4)),
        variant="broadcast_keepdim",
    ),
    OpSpec(
        "cdist",
        soma.cdist,
        torch.cdist,
        variant="coincident",
        make=lambda rng: [np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[0.0, 1.0], [1.0, 3.0]])],
        gradcheck=False,  # not differentiable where two points coincide (gradient taken as 0)
    ),
    OpSpec("cdist", soma.cdist, torch.cdist, shapes=((5, 3), (4, 3)), variant="2d"),
    OpSpec("pdist", F.pdist, TF.pdist, shapes=((4, 3),)),
    OpSpec(
        "pdist",
        lambda a: F.pdist(a, 1.5),
        lambda a: TF.pdist(a, 1.5),
        shapes=((4, 3),),
        variant="p=1.5",
    ),
    # gated activations
    OpSpec("glu", F.glu, TF.glu, shapes=((3, 6),), variant="dim-1"),
    OpSpec("glu", lambda a: F.glu(a, 0), lambda a: TF.glu(a, 0), shapes=((4, 3),), variant="dim0"),
    OpSpec(
        "rrelu",
        lambda a: F.rrelu(a, 0.1, 0.3),
        lambda a: TF.rrelu(a, 0.1, 0.3),
        make=lambda rng: [rng.uniform(-2, 2, (3, 4)) + 0.05],
    ),
    # sampling
    OpSpec(
        "affine_grid",
        lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False),
        lambda t: TF.affine_grid(t, (2, 1, 3, 4), align_corners=False),
        shapes=((2, 2, 3),),
    ),
    OpSpec(
        "affine_grid",
        lambda t: F.affine_grid(t, (1, 2, 2, 3, 4), align_corners=True),
        lambda t: TF.affine_grid(t, (1, 2, 2, 3, 4), align_corners=True),
        shapes=((1, 3, 4),),
        variant="3d_align",
    ),
]


def _grid(rng, low=-1.3, high=1.3):
    """An image and sampling points that stay off pixel-grid lines and reflection folds."""
    img = rng.uniform(-2, 2, (2, 3, 4, 5))
    pts = rng.uniform(low, high, (2, 3, 2, 2))
    return [img, pts]


for mode in ("bilinear", "nearest"):
    for pad in ("zeros", "border", "reflection"):
        for align in (False, True):
            SPECS.append(
                OpSpec(
                    "grid_sample",
                    lambda x, g, m=mode, p=pad, a=align: F.grid_sample(x, g, m, p, a),
                    lambda x, g, m=mode, p=pad, a=align: TF.grid_sample(x, g, m, p, a),
                    make=_grid,
                    variant=f"{mode},{pad},align={align}",
                    # nearest is piecewise constant in the grid, and bilinear has kinks at the
                    # pixel lines the random points may straddle: compare to PyTorch only there
                    gradcheck=mode == "bilinear" and pad == "zeros",
                )
            )


def _volume(rng):
    return [rng.uniform(-2, 2, (1, 2, 3, 4, 5)), rng.uniform(-1.2, 1.2, (1, 2, 2, 3, 3))]


for mode in ("bilinear", "nearest"):
    for pad in ("zeros", "border", "reflection"):
        SPECS.append(
            OpSpec(
                "grid_sample",
                lambda x, g, m=mode, p=pad: F.grid_sample(x, g, m, p, align_corners=p == "border"),
                lambda x, g, m=mode, p=pad: TF.grid_sample(
                    x, g, m, p, align_corners=p == "border"
                ),
                make=_volume,
                variant=f"3d,{mode},{pad}",
                gradcheck=mode == "bilinear" and pad == "zeros",
            )
        )

for pad in ("zeros", "border", "reflection"):
    for align in (False, True):
        SPECS.append(
            OpSpec(
                "grid_sample",
                lambda x, g, p=pad, a=align: F.grid_sample(x, g, "bicubic", p, a),
                lambda x, g, p=pad, a=align: TF.grid_sample(x, g, "bicubic", p, a),
                make=_grid,
                variant=f"bicubic,{pad},align={align}",
                gradcheck=pad == "zeros",
            )
        )
