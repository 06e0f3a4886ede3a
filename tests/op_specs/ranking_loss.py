"""Margin, ranking, probabilistic and CTC losses (issue 11): table rows."""

import numpy as np

import soma.functional as S
from tests.conftest import torch
from tests.op_specs.spec import OpSpec

T = torch.nn.functional if torch is not None else None
REDUCTIONS = ("mean", "sum", "none")


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def _ctc_case(rng):
    logits = rng.standard_normal((7, 3, 5))
    return [logits]


_CTC_TARGETS = np.array([[1, 2, 2], [3, 0, 0], [4, 4, 1]])


def _ctc(fw, logits, reduction, blank=0, zero_infinity=False, lengths=(7, 5, 6)):
    targets = _CTC_TARGETS if blank == 0 else np.where(_CTC_TARGETS == blank, 0, _CTC_TARGETS)
    lib = S if fw == "soma" else T
    as_tensor = __import__("soma").tensor if fw == "soma" else torch.tensor
    lp = lib.log_softmax(logits, 2)
    return lib.ctc_loss(
        lp,
        as_tensor(targets),
        as_tensor(np.array(lengths)),
        as_tensor(np.array([3, 1, 3])),
        blank=blank,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )


SPECS = []
for red in REDUCTIONS:
    SPECS += [
        OpSpec(
            "margin_ranking_loss",
            lambda a, b, y, r=red: S.margin_ranking_loss(a, b, y, 0.3, r),
            lambda a, b, y, r=red: T.margin_ranking_loss(a, b, y, 0.3, reduction=r),
            make=lambda rng: [rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6), _signs(rng, 6)],
            grad_inputs=(0, 1),
            variant=red,
        ),
        OpSpec(
            "hinge_embedding_loss",
            lambda x, y, r=red: S.hinge_embedding_loss(x, y, 1.5, r),
            lambda x, y, r=red: T.hinge_embedding_loss(x, y, 1.5, reduction=r),
            make=lambda rng: [rng.uniform(0, 2, (3, 4)), _signs(rng, (3, 4))],
            grad_inputs=(0,),
            variant=red,
        ),
        OpSpec(
            "soft_margin_loss",
            lambda x, y, r=red: S.soft_margin_loss(x, y, r),
            lambda x, y, r=red: T.soft_margin_loss(x, y, reduction=r),
            make=lambda rng: [rng.uniform(-3, 3, (3, 4)), _signs(rng, (3, 4))],
            grad_inputs=(0,),
            variant=red,
        ),
        OpSpec(
            "multilabel_soft_margin_loss",
            lambda x, y, w, r=red: S.multilabel_soft_margin_loss(x, y, w, r),
            lambda x, y, w, r=red: T.multilabel_soft_margin_loss(x, y, w, reduction=r),
            make=lambda rng: [
                rng.uniform(-3, 3, (3, 4)),
                rng.integers(0, 2, (3, 4)).astype(float),
                rng.uniform(0.5, 2, 4),
            ],
            grad_inputs=(0,),
            variant=red,
        ),
        OpSpec(
            "multi_margin_loss",
            lambda x, t, r=red: S.multi_margin_loss(x, t, reduction=r),
            lambda x, t, r=red: T.multi_margin_loss(x, t, reduction=r),
            make=lambda rng: [rng.uniform(-1, 1, (4, 5)), rng.integers(0, 5, 4)],
            variant=red,
        ),
        OpSpec(
            "triplet_margin_loss",
            lambda a, p, n, r=red: S.triplet_margin_loss(a, p, n, reduction=r),
            lambda a, p, n, r=red: T.triplet_margin_loss(a, p, n, reduction=r),
            shapes=((5, 3), (5, 3), (5, 3)),
            low=-1.0,
            high=1.0,
            variant=red,
        ),
        OpSpec(
            "gaussian_nll_loss",
            lambda x, t, v, r=red: S.gaussian_nll_loss(x, t, v, reduction=r),
            lambda x, t, v, r=red: T.gaussian_nll_loss(x, t, v, reduction=r),
            make=lambda rng: [
                rng.uniform(-1, 1, (3, 4)),
                rng.uniform(-1, 1, (3, 4)),
                rng.uniform(0.2, 2, (3, 4)),
            ],
            variant=red,
        ),
        OpSpec(
            "poisson_nll_loss",
            lambda x, t, r=red: S.poisson_nll_loss(x, t, reduction=r),
            lambda x, t, r=red: T.poisson_nll_loss(x, t, reduction=r),
            make=lambda rng: [rng.uniform(-1, 1, (3, 4)), rng.integers(0, 5, (3, 4)) * 1.0],
            grad_inputs=(0,),
            variant=red,
        ),
        OpSpec(
            "ctc_loss",
            lambda x, r=red: _ctc("soma", x, r),
            lambda x, r=red: _ctc("torch", x, r),
            make=_ctc_case,
            variant=red,
        ),
    ]

SPECS += [
    OpSpec(
        "multi_margin_loss",
        lambda x, t, w: S.multi_margin_loss(x, t, p=2, margin=0.7, weight=w),
        lambda x, t, w: T.multi_margin_loss(x, t, p=2, margin=0.7, weight=w),
        make=lambda rng: [
            rng.uniform(-1, 1, (4, 5)),
            rng.integers(0, 5, 4),
            rng.uniform(0.5, 2, 5),
        ],
        grad_inputs=(0,),
        variant="p=2,weight",
    ),
    OpSpec(
        "multi_margin_loss",
        lambda x, t: S.multi_margin_loss(x, t),
        lambda x, t: T.multi_margin_loss(x, t),
        make=lambda rng: [rng.uniform(-1, 1, 5), np.array(2)],
        variant="unbatched",
    ),
    OpSpec(
        "triplet_margin_loss",
        lambda a, p, n: S.triplet_margin_loss(a, p, n, margin=0.5, p=1.0, swap=True),
        lambda a, p, n: T.triplet_margin_loss(a, p, n, margin=0.5, p=1.0, swap=True),
        shapes=((5, 3), (5, 3), (5, 3)),
        low=-1.0,
        high=1.0,
        gradcheck=False,  # |·| kinks and the min of the swap
        variant="p=1,swap",
    ),
    OpSpec(
        "gaussian_nll_loss",
        lambda x, t, v: S.gaussian_nll_loss(x, t, v, full=True),
        lambda x, t, v: T.gaussian_nll_loss(x, t, v, full=True),
        make=lambda rng: [
            rng.uniform(-1, 1, (3, 4)),
            rng.uniform(-1, 1, (3, 4)),
            rng.uniform(0.2, 2, 3),
        ],
        variant="full,homoscedastic",
    ),
    OpSpec(
        "gaussian_nll_loss",
        lambda x, t, v: S.gaussian_nll_loss(x, t, v, eps=0.1),
        lambda x, t, v: T.gaussian_nll_loss(x, t, v, eps=0.1),
        make=lambda rng: [
            rng.uniform(-1, 1, (3, 4)),
            rng.uniform(-1, 1, (3, 4)),
            rng.uniform(0.01, 0.3, (3, 1)),
        ],
        gradcheck=False,  # some variances below eps: clamped for the value only, as PyTorch
        variant="clamped,last_dim_1",
    ),
    OpSpec(
        "poisson_nll_loss",
        lambda x, t: S.poisson_nll_loss(x, t, log_input=False, full=True),
        lambda x, t: T.poisson_nll_loss(x, t, log_input=False, full=True),
        make=lambda rng: [rng.uniform(0.2, 3, (3, 4)), rng.integers(0, 6, (3, 4)) * 1.0],
        grad_inputs=(0,),
        variant="rate,full",
    ),
    OpSpec(
        "ctc_loss",
        lambda x: _ctc("soma", x, "mean", blank=4),
        lambda x: _ctc("torch", x, "mean", blank=4),
        make=_ctc_case,
        variant="blank=4",
    ),
    OpSpec(
        "ctc_loss",  # "4 4 1" needs 4 frames (a blank between the 4s), gets 2: loss 0, gradient 0
        lambda x: _ctc("soma", x, "sum", zero_infinity=True, lengths=(7, 5, 2)),
        lambda x: _ctc("torch", x, "sum", zero_infinity=True, lengths=(7, 5, 2)),
        make=_ctc_case,
        variant="zero_infinity",
    ),
]


def _multilabel_targets(rng, n=3, c=5):
    """Rows of class indices ended by −1 (PyTorch's layout), some rows with no −1."""
    rows = []
    for i in range(n):
        k = int(rng.integers(1, c + 1)) if i else c  # the first row lists every class
        row = list(rng.permutation(c)[:k]) + [-1] * (c - k)
        rows.append(row)
    return np.array(rows)


def _l1(fw):
    return lambda x, y: (x - y).abs().sum(-1)


for red in REDUCTIONS:
    SPECS += [
        OpSpec(
            "multilabel_margin_loss",
            lambda x, t, r=red: S.multilabel_margin_loss(x, t, r),
            lambda x, t, r=red: T.multilabel_margin_loss(x, t, reduction=r),
            make=lambda rng: [rng.uniform(-1, 1, (3, 5)), _multilabel_targets(rng)],
            variant=red,
        ),
        OpSpec(
            "triplet_margin_with_distance_loss",
            lambda a, p, n, r=red: S.triplet_margin_with_distance_loss(
                a, p, n, distance_function=_l1(S), margin=1.5, swap=True, reduction=r
            ),
            lambda a, p, n, r=red: T.triplet_margin_with_distance_loss(
                a, p, n, distance_function=_l1(T), margin=1.5, swap=True, reduction=r
            ),
            shapes=((4, 3), (4, 3), (4, 3)),
            gradcheck=False,  # |·| and min kinks
            variant=red,
        ),
    ]

SPECS += [
    OpSpec(
        "multilabel_margin_loss",
        lambda x, t: S.multilabel_margin_loss(x, t),
        lambda x, t: T.multilabel_margin_loss(x, t),
        make=lambda rng: [rng.uniform(-1, 1, 4), np.array([2, 0, -1, 3])],
        variant="unbatched",
    ),
    OpSpec(
        "triplet_margin_with_distance_loss",
        lambda a, p, n: S.triplet_margin_with_distance_loss(a, p, n),
        lambda a, p, n: T.triplet_margin_with_distance_loss(a, p, n),
        shapes=((4, 3), (4, 3), (4, 3)),
        variant="default_distance",
    ),
]
