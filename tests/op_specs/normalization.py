"""Normalization: batch, layer, group, instance and local response normalization."""

import numpy as np

import soma
from soma.functional.normalization.batch import batch_norm
from soma.functional.normalization.layer import group_norm, instance_norm, layer_norm
from soma.functional.normalization.local_response import local_response_norm
from tests.op_specs.spec import TF, OpSpec, torch


def _stats(c, seed=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(c), rng.uniform(0.5, 2.0, c)


def _bn(training, affine, c):
    """batch_norm with fixed running statistics (copied fresh each call: training updates them)."""
    mean, var = _stats(c)

    def ours(x, *wb):
        return batch_norm(
            x, soma.tensor(mean), soma.tensor(var), *wb, training=training, momentum=0.3
        )

    def theirs(x, *wb):
        return TF.batch_norm(
            x, torch.tensor(mean), torch.tensor(var), *wb, training=training, momentum=0.3
        )

    return ours, theirs


SPECS = []
for shape in [(5, 3), (4, 3, 6), (2, 3, 4, 5), (2, 3, 2, 3, 4), (1, 3, 4, 4)]:
    for training in (True, False):
        for affine in (True, False):
            ours, theirs = _bn(training, affine, shape[1])
            shapes = (shape, (shape[1],), (shape[1],)) if affine else (shape,)
            SPECS.append(
                OpSpec(
                    "batch_norm",
                    ours,
                    theirs,
                    shapes=shapes,
                    variant=f"{shape},train={training},affine={affine}",
                )
            )
SPECS += [
    OpSpec(
        "batch_norm",
        lambda x: batch_norm(x, None, None, training=True, eps=1e-3),
        lambda x: TF.batch_norm(x, None, None, training=True, eps=1e-3),
        shapes=((3, 4, 5),),
        variant="no_running_stats",
    ),
    # a mean far from zero against the spread: the two-pass statistics path
    OpSpec(
        "batch_norm",
        lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        make=lambda rng: [
            50 + rng.standard_normal((4, 3, 5)),
            rng.standard_normal(3),
            rng.standard_normal(3),
        ],
        variant="large_mean",
    ),
]

for shape, normalized in [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4), (2, 3, 4))]:
    v = f"{shape},{normalized}"
    SPECS += [
        OpSpec(
            "layer_norm",
            lambda x, w, b, n=normalized: layer_norm(x, n, w, b),
            lambda x, w, b, n=normalized: TF.layer_norm(x, n, w, b),
            shapes=(shape, normalized, normalized),
            variant=v,
        ),
        OpSpec(
            "layer_norm",
            lambda x, n=normalized: layer_norm(x, n, eps=1e-3),
            lambda x, n=normalized: TF.layer_norm(x, n, eps=1e-3),
            shapes=(shape,),
            variant=v + ",plain",
        ),
    ]
SPECS.append(
    OpSpec(
        "layer_norm",
        lambda x, w: layer_norm(x, 5, w),
        lambda x, w: TF.layer_norm(x, (5,), w),
        shapes=((3, 5), (5,)),
        variant="weight_only",
    )
)

for shape, groups in [((2, 6, 4, 5), 3), ((3, 4, 7), 1), ((2, 4, 3), 4), ((2, 6, 2, 2, 3), 2)]:
    SPECS += [
        OpSpec(
            "group_norm",
            lambda x, w, b, g=groups: group_norm(x, g, w, b),
            lambda x, w, b, g=groups: TF.group_norm(x, g, w, b),
            shapes=(shape, (shape[1],), (shape[1],)),
            variant=f"{shape},groups={groups}",
        ),
    ]
SPECS.append(
    OpSpec(
        "group_norm",
        lambda x: group_norm(x, 2, eps=1e-2),
        lambda x: TF.group_norm(x, 2, eps=1e-2),
        shapes=((2, 4, 6),),
        variant="plain",
    )
)

for shape in [(2, 3, 6), (2, 3, 4, 5), (1, 2, 3, 4, 2)]:
    c = shape[1]
    mean, var = _stats(c)
    SPECS += [
        OpSpec(
            "instance_norm",
            lambda x, w, b: instance_norm(x, weight=w, bias=b),
            lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
            shapes=(shape, (c,), (c,)),
            variant=f"{shape},affine",
        ),
        OpSpec(
            "instance_norm",
            lambda x: instance_norm(x),
            lambda x: TF.instance_norm(x),
            shapes=(shape,),
            variant=f"{shape}",
        ),
        OpSpec(
            "instance_norm",
            lambda x, m=mean, v=var: instance_norm(
                x, soma.tensor(m), soma.tensor(v), use_input_stats=False
            ),
            lambda x, m=mean, v=var: TF.instance_norm(
                x, torch.tensor(m), torch.tensor(v), use_input_stats=False
            ),
            shapes=(shape,),
            variant=f"{shape},running",
        ),
    ]

for size in (1, 2, 3, 5):
    for shape in [(2, 7, 5), (2, 6, 3, 4)]:
        SPECS.append(
            OpSpec(
                "local_response_norm",
                lambda x, s=size: local_response_norm(x, s, 0.3, 0.75, 2.0),
                lambda x, s=size: TF.local_response_norm(x, s, 0.3, 0.75, 2.0),
                shapes=(shape,),
                variant=f"size={size},{shape}",
            )
        )
SPECS.append(
    OpSpec(
        "local_response_norm",
        lambda x: local_response_norm(x, 3),
        lambda x: TF.local_response_norm(x, 3),
        shapes=((2, 4, 3, 3, 2),),
        variant="defaults,5d",
    )
)
