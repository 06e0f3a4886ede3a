"""Losses: every function, each reduction, and the options that change the formula."""

import warnings

import numpy as np

import soma
from tests.op_specs.spec import TF as T
from tests.op_specs.spec import OpSpec

S = soma.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _offset_pair(shape, avoid=(0.0,), low=-2.0, high=2.0):
    """(input, target) whose differences keep away from the kinks in ``avoid``."""

    def make(rng):
        x = rng.uniform(low, high, shape)
        d = rng.uniform(low, high, shape)
        for k in avoid:
            for sign in (1, -1):
                close = np.abs(d - sign * k) < 0.1
                d[close] += 0.25
        return [x, x - d]

    return make


def _torch_kl_div(x, t, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch's note on reduction='mean'
        return T.kl_div(x, t, **kw)


def _log_probs(rng, shape, axis=1):
    z = rng.uniform(-2, 2, shape)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _probs(rng, shape, axis=1):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def _classes(rng, n_classes, shape, ignore=None):
    t = rng.integers(0, n_classes, shape)
    if ignore is not None:
        t.flat[::3] = ignore
    return t


SPECS = []
for red in REDUCTIONS:
    SPECS += [
        OpSpec(
            "mse_loss",
            lambda x, t, r=red: S.mse_loss(x, t, reduction=r),
            lambda x, t, r=red: T.mse_loss(x, t, reduction=r),
            shapes=((3, 4), (3, 4)),
            variant=red,
        ),
        OpSpec(
            "l1_loss",
            lambda x, t, r=red: S.l1_loss(x, t, reduction=r),
            lambda x, t, r=red: T.l1_loss(x, t, reduction=r),
            make=_offset_pair((3, 4)),
            variant=red,
        ),
        OpSpec(
            "kl_div",
            lambda x, t, r=red: S.kl_div(x, t, reduction=r),
            lambda x, t, r=red: _torch_kl_div(x, t, reduction=r),
            make=lambda rng: [_log_probs(rng, (3, 4)), _probs(rng, (3, 4))],
            variant=red,
        ),
        OpSpec(
            "kl_div",
            lambda x, t, r=red: S.kl_div(x, t, reduction=r, log_target=True),
            lambda x, t, r=red: _torch_kl_div(x, t, reduction=r, log_target=True),
            make=lambda rng: [_log_probs(rng, (3, 4)), _log_probs(rng, (3, 4))],
            variant=f"log_target,{red}",
        ),
    ]
    for delta in (1.0, 0.4):
        SPECS.append(
            OpSpec(
                "huber_loss",
                lambda x, t, r=red, d=delta: S.huber_loss(x, t, r, d),
                lambda x, t, r=red, d=delta: T.huber_loss(x, t, reduction=r, delta=d),
                make=_offset_pair((3, 4), (delta,)),
                variant=f"{red},delta={delta}",
            )
        )
    for beta in (1.0, 0.3, 0.0):
        SPECS.append(
            OpSpec(
                "smooth_l1_loss",
                lambda x, t, r=red, b=beta: S.smooth_l1_loss(x, t, r, b),
                lambda x, t, r=red, b=beta: T.smooth_l1_loss(x, t, reduction=r, beta=b),
                make=_offset_pair((3, 4), (beta,)),
                variant=f"{red},beta={beta}",
            )
        )

SPECS += [
    OpSpec(
        "kl_div",
        lambda x, t: S.kl_div(x, t, reduction="batchmean"),
        lambda x, t: T.kl_div(x, t, reduction="batchmean"),
        make=lambda rng: [_log_probs(rng, (3, 4)), _probs(rng, (3, 4))],
        variant="batchmean",
    ),
    OpSpec(
        "kl_div",
        lambda x, t: S.kl_div(x, t, reduction="sum"),
        lambda x, t: T.kl_div(x, t, reduction="sum"),
        grad_inputs=(0,),
        make=lambda rng: [_log_probs(rng, (2, 3)), np.array([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8]])],
        variant="zero_targets",
    ),
]

# ---------------------------------------------------------------------------- cosine embedding
for red in REDUCTIONS:
    for margin in (0.0, 0.3):
        SPECS.append(
            OpSpec(
                "cosine_embedding_loss",
                lambda a, b, y, m=margin, r=red: S.cosine_embedding_loss(a, b, y, m, r),
                lambda a, b, y, m=margin, r=red: T.cosine_embedding_loss(a, b, y, m, reduction=r),
                make=lambda rng: [
                    rng.uniform(-1, 1, (6, 4)),
                    rng.uniform(-1, 1, (6, 4)),
                    np.array([1, -1, 1, -1, -1, 1]),
                ],
                grad_inputs=(0, 1),
                variant=f"{red},margin={margin}",
            )
        )
SPECS.append(
    OpSpec(
        "cosine_embedding_loss",
        lambda a, b, y: S.cosine_embedding_loss(a, b, y),
        lambda a, b, y: T.cosine_embedding_loss(a, b, y),
        make=lambda rng: [rng.uniform(-1, 1, (4,)), rng.uniform(-1, 1, (4,)), np.array(-1)],
        grad_inputs=(0, 1),
        gradcheck=False,
        variant="unbatched",
    )
)

# ---------------------------------------------------------------------------- binary
_bce_pair = lambda rng, shape=(3, 4): [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]
for red in REDUCTIONS:
    SPECS += [
        OpSpec(
            "binary_cross_entropy",
            lambda p, t, r=red: S.binary_cross_entropy(p, t, reduction=r),
            lambda p, t, r=red: T.binary_cross_entropy(p, t, reduction=r),
            make=_bce_pair,
            variant=red,
        ),
        OpSpec(
            "binary_cross_entropy",
            lambda p, t, w, r=red: S.binary_cross_entropy(p, t, w, reduction=r),
            lambda p, t, w, r=red: T.binary_cross_entropy(p, t, w, reduction=r),
            make=lambda rng: _bce_pair(rng) + [rng.uniform(0.5, 2, (4,))],
            grad_inputs=(0, 1),
            variant=f"weight,{red}",
        ),
        OpSpec(
            "binary_cross_entropy_with_logits",
            lambda x, t, r=red: S.binary_cross_entropy_with_logits(x, t, reduction=r),
            lambda x, t, r=red: T.binary_cross_entropy_with_logits(x, t, reduction=r),
            make=lambda rng: [rng.uniform(-4, 4, (3, 4)), rng.uniform(0, 1, (3, 4))],
            variant=red,
        ),
        OpSpec(
            "binary_cross_entropy_with_logits",
            lambda x, t, w, k, r=red: S.binary_cross_entropy_with_logits(
                x, t, w, reduction=r, pos_weight=k
            ),
            lambda x, t, w, k, r=red: T.binary_cross_entropy_with_logits(
                x, t, w, reduction=r, pos_weight=k
            ),
            make=lambda rng: [
                rng.uniform(-4, 4, (3, 4)),
                rng.uniform(0, 1, (3, 4)),
                rng.uniform(0.5, 2, (3, 1)),
                rng.uniform(0.5, 3, (4,)),
            ],
            grad_inputs=(0, 1),
            variant=f"weight,pos_weight,{red}",
        ),
    ]
SPECS.append(
    OpSpec(
        "binary_cross_entropy_with_logits",
        lambda x, t, k: S.binary_cross_entropy_with_logits(x, t, pos_weight=k),
        lambda x, t, k: T.binary_cross_entropy_with_logits(x, t, pos_weight=k),
        make=lambda rng: [
            rng.uniform(-30, 30, (3, 4)),
            rng.integers(0, 2, (3, 4)).astype(float),
            rng.uniform(0.5, 3, (4,)),
        ],
        grad_inputs=(0, 1),
        variant="pos_weight,large",
    )
)

# ---------------------------------------------------------------------------- cross-entropy, NLL
# (input shape, target shape): 2-d, N-d and unbatched
LAYOUTS = [((5, 4), (5,)), ((2, 4, 3, 2), (2, 3, 2)), ((4,), ())]
for xs, ts in LAYOUTS:
    n_classes = xs[1] if len(xs) > 1 else xs[0]
    lay = f"{len(xs)}d"
    for red in REDUCTIONS:
        for opts in [
            {},
            {"label_smoothing": 0.15},
            {"ignore_index": 1},
            {"weight": True},
            {"weight": True, "ignore_index": 2, "label_smoothing": 0.3},
        ]:
            name = ",".join(f"{k}={v}" for k, v in opts.items())
            ignore = opts.get("ignore_index")

            def make(rng, xs=xs, ts=ts, c=n_classes, ig=ignore, weighted="weight" in opts):
                arrays = [rng.uniform(-2, 2, xs), _classes(rng, c, ts, ig if ts else None)]
                return arrays + ([rng.uniform(0.2, 2, (c,))] if weighted else [])

            kw = {k: v for k, v in opts.items() if k != "weight"}
            if "weight" in opts:
                fs = lambda x, t, w, r=red, kw=kw: S.cross_entropy(x, t, w, reduction=r, **kw)
                ft = lambda x, t, w, r=red, kw=kw: T.cross_entropy(x, t, w, reduction=r, **kw)
                ns = lambda x, t, w, r=red, kw=kw: S.nll_loss(x, t, w, reduction=r, **_nll(kw))
                nt = lambda x, t, w, r=red, kw=kw: T.nll_loss(x, t, w, reduction=r, **_nll(kw))
            else:
                fs = lambda x, t, r=red, kw=kw: S.cross_entropy(x, t, reduction=r, **kw)
                ft = lambda x, t, r=red, kw=kw: T.cross_entropy(x, t, reduction=r, **kw)
                ns = lambda x, t, r=red, kw=kw: S.nll_loss(x, t, reduction=r, **_nll(kw))
                nt = lambda x, t, r=red, kw=kw: T.nll_loss(x, t, reduction=r, **_nll(kw))
            SPECS.append(
                OpSpec(
                    "cross_entropy",
                    fs,
                    ft,
                    make=make,
                    grad_inputs=(0,),
                    variant=f"{lay},{red},{name}",
                )
            )
            if "label_smoothing" not in opts:
                SPECS.append(
                    OpSpec(
                        "nll_loss",
                        ns,
                        nt,
                        make=make,
                        grad_inputs=(0,),
                        variant=f"{lay},{red},{name}",
                    )
                )
        # class probabilities (soft targets), with and without weights and smoothing
        for opts in [{}, {"label_smoothing": 0.2}, {"weight": True}]:
            name = ",".join(f"{k}={v}" for k, v in opts.items())

            def make_p(rng, xs=xs, c=n_classes, weighted="weight" in opts):
                arrays = [rng.uniform(-2, 2, xs), _probs(rng, xs, axis=1 if len(xs) > 1 else 0)]
                return arrays + ([rng.uniform(0.2, 2, (c,))] if weighted else [])

            if "weight" in opts:
                fs = lambda x, q, w, r=red: S.cross_entropy(x, q, w, reduction=r)
                ft = lambda x, q, w, r=red: T.cross_entropy(x, q, w, reduction=r)
                grads = (0, 1)
            else:
                ls = opts.get("label_smoothing", 0.0)
                fs = lambda x, q, r=red, ls=ls: S.cross_entropy(
                    x, q, reduction=r, label_smoothing=ls
                )
                ft = lambda x, q, r=red, ls=ls: T.cross_entropy(
                    x, q, reduction=r, label_smoothing=ls
                )
                grads = (0, 1)
            SPECS.append(
                OpSpec(
                    "cross_entropy",
                    fs,
                    ft,
                    make=make_p,
                    grad_inputs=grads,
                    variant=f"probs,{lay},{red},{name}",
                )
            )


def _nll(kw):
    return {k: v for k, v in kw.items() if k != "label_smoothing"}


SPECS.append(
    OpSpec(
        "cross_entropy",
        lambda x, t: S.cross_entropy(x, t),
        lambda x, t: T.cross_entropy(x, t),
        grad_inputs=(0,),
        variant="large_logits",
        make=lambda rng: [rng.uniform(-1, 1, (4, 6)) * 1e3, rng.integers(0, 6, (4,))],
    )
)
