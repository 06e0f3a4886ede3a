"""``soma.linalg`` (solve, inv, det, slogdet, norms …) and ``soma.special``."""

import math

import numpy as np

import soma
from tests.op_specs.spec import OpSpec
from tests.torch_oracle import torch


def _well_conditioned(*shape):
    def make(rng):
        n = shape[-1]
        return [rng.uniform(-1, 1, shape) + 3 * np.eye(n)]

    return make


def _linalg(name, f_s, f_t, **kw):
    return OpSpec(f"linalg.{name}", f_s, f_t, **kw)


SPECS = [
    _linalg("det", soma.linalg.det, torch.linalg.det, make=_well_conditioned(2, 3, 3)),
    # NOTE: at a singular matrix the gradient is the adjugate (checked by finite differences);
    # PyTorch 2.13 returns zeros there, so it is not the oracle for this row
    _linalg(
        "det",
        soma.linalg.det,
        None,
        make=lambda rng: [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])],
        variant="singular",
    ),
    _linalg("inv", soma.linalg.inv, torch.linalg.inv, make=_well_conditioned(2, 3, 3)),
    _linalg(
        "solve",
        soma.linalg.solve,
        torch.linalg.solve,
        make=lambda rng: [
            rng.uniform(-1, 1, (2, 3, 3)) + 3 * np.eye(3),
            rng.uniform(-1, 1, (2, 3, 2)),
        ],
    ),
    _linalg(
        "solve",
        soma.linalg.solve,
        torch.linalg.solve,
        make=lambda rng: [rng.uniform(-1, 1, (3, 3)) + 3 * np.eye(3), rng.uniform(-1, 1, (3,))],
        variant="vector",
    ),
    _linalg(
        "solve",
        lambda a, b: soma.linalg.solve(a, b, left=False),
        lambda a, b: torch.linalg.solve(a, b, left=False),
        make=lambda rng: [rng.uniform(-1, 1, (3, 3)) + 3 * np.eye(3), rng.uniform(-1, 1, (2, 3))],
        variant="right",
    ),
    _linalg(
        "slogdet",
        # the sign carries no gradient (hand test in test_tensor_ops.py): compare log|det|
        lambda a: soma.linalg.slogdet(a).logabsdet,
        lambda a: torch.linalg.slogdet(a).logabsdet,
        make=lambda rng: [rng.uniform(-1, 1, (2, 3, 3)) - 3 * np.eye(3)],
    ),
    OpSpec("logdet", soma.linalg.logdet, torch.logdet, make=_well_conditioned(3, 3)),
    *[
        _linalg(
            "vector_norm",
            lambda a, o=o: soma.linalg.vector_norm(a, o, dim=(0, 2)),
            lambda a, o=o: torch.linalg.vector_norm(a, o, dim=(0, 2)),
            shapes=((2, 3, 4),),
            variant=f"ord={o}",
        )
        for o in (1, 2, 3.5, math.inf)
    ],
    _linalg(
        "vector_norm",
        lambda a: soma.linalg.vector_norm(a, keepdim=True),
        lambda a: torch.linalg.vector_norm(a, keepdim=True),
        shapes=((2, 3),),
        variant="all_keepdim",
    ),
    *[
        _linalg(
            "matrix_norm",
            lambda a, o=o: soma.linalg.matrix_norm(a, o),
            lambda a, o=o: torch.linalg.matrix_norm(a, o),
            shapes=((2, 3, 4),),
            variant=f"ord={o}",
        )
        for o in ("fro", 1, -1, math.inf, -math.inf)
    ],
    _linalg("norm", soma.linalg.norm, torch.linalg.norm, shapes=((3, 4),)),
    _linalg(
        "norm",
        lambda a: soma.linalg.norm(a, dim=1),
        lambda a: torch.linalg.norm(a, dim=1),
        shapes=((3, 4),),
        variant="dim",
    ),
    _linalg(
        "multi_dot",
        lambda a, b, c: soma.linalg.multi_dot([a, b, c]),
        lambda a, b, c: torch.linalg.multi_dot([a, b, c]),
        shapes=((3,), (3, 4), (4, 2)),
    ),
    _linalg(
        "vecdot",
        lambda a, b: soma.linalg.vecdot(a, b),
        lambda a, b: torch.linalg.vecdot(a, b),
        shapes=((3, 4), (4,)),
    ),
    _linalg(
        "cross",
        lambda a, b: soma.linalg.cross(a, b),
        lambda a, b: torch.linalg.cross(a, b),
        shapes=((2, 3), (2, 3)),
    ),
    OpSpec("special.ndtr", soma.special.ndtr, torch.special.ndtr, low=-4, high=4),
    OpSpec("special.ndtri", soma.special.ndtri, torch.special.ndtri, low=0.05, high=0.95),
    OpSpec("special.log_ndtr", soma.special.log_ndtr, torch.special.log_ndtr, low=-8, high=3),
    OpSpec("special.expit", soma.special.expit, torch.special.expit),
]

SPECS += [
    OpSpec("lgamma", soma.lgamma, torch.lgamma, low=0.1, high=6),
    OpSpec("lgamma", soma.lgamma, torch.lgamma, low=-3.9, high=-3.1, variant="negative"),
    OpSpec("digamma", soma.digamma, torch.digamma, low=0.2, high=6, rtol=1e-9, atol=1e-9),
    OpSpec(
        "digamma",
        soma.digamma,
        torch.digamma,
        low=-2.9,
        high=-2.1,
        variant="negative",
        rtol=1e-9,
        atol=1e-9,
    ),
    OpSpec(
        "polygamma",
        lambda a: soma.polygamma(1, a),
        lambda a: torch.polygamma(1, a),
        low=0.2,
        high=6,
        rtol=1e-8,
        grad_inputs=(),
    ),
    OpSpec(
        "mvlgamma", lambda a: soma.mvlgamma(a, 3), lambda a: torch.mvlgamma(a, 3), low=1.1, high=5
    ),
    OpSpec(
        "special.gammaln",
        soma.special.gammaln,
        torch.special.gammaln,
        shapes=((),),
        low=0.5,
        high=3,
        variant="0d",
    ),
    OpSpec(
        "lgamma",
        soma.lgamma,
        torch.lgamma,
        variant="int64",
        make=lambda rng: [rng.integers(1, 9, (2, 3))],
        rtol=1e-6,
        atol=1e-6,
    ),
]


def _eye_like(x):
    n = x.shape[-1]
    eye = np.eye(n) * 3
    return soma.tensor(eye) if isinstance(x, soma.Tensor) else torch.tensor(eye)


def _sym(x):
    return x + x.transpose(-1, -2)


SPECS += [
    _linalg(
        "cholesky",
        lambda x: soma.linalg.cholesky(x @ x.transpose(-1, -2) + _eye_like(x)),
        lambda x: torch.linalg.cholesky(x @ x.transpose(-1, -2) + _eye_like(x)),
        shapes=((2, 3, 3),),
    ),
    _linalg(
        "cholesky",
        lambda x: soma.linalg.cholesky(x @ x.transpose(-1, -2) + _eye_like(x), upper=True),
        lambda x: torch.linalg.cholesky(x @ x.transpose(-1, -2) + _eye_like(x), upper=True),
        shapes=((3, 3),),
        variant="upper",
    ),
    _linalg(
        "eigvalsh",
        lambda x: soma.linalg.eigvalsh(_sym(x)),
        lambda x: torch.linalg.eigvalsh(_sym(x)),
        shapes=((2, 3, 3),),
    ),
    # eigenvectors are defined up to sign: compare a sign-free function of them (V diag(w) Vᵀ
    # columns squared), which still exercises the eigenvector gradient
    _linalg(
        "eigh",
        lambda x: soma.linalg.eigh(_sym(x))[1] ** 2,
        lambda x: torch.linalg.eigh(_sym(x))[1] ** 2,
        shapes=((3, 3),),
    ),
]

# singular vectors are defined up to sign: compare sign-free functions of them
SPECS += [
    _linalg("svdvals", soma.linalg.svdvals, torch.linalg.svdvals, shapes=((2, 4, 3),)),
    _linalg(
        "svd",
        lambda a: tuple(t**2 if i != 1 else t for i, t in enumerate(soma.linalg.svd(a, False))),
        lambda a: tuple(
            t**2 if i != 1 else t for i, t in enumerate(torch.linalg.svd(a, full_matrices=False))
        ),
        shapes=((4, 3),),
        variant="tall",
    ),
    _linalg(
        "svd",
        lambda a: tuple(t**2 if i != 1 else t for i, t in enumerate(soma.linalg.svd(a, False))),
        lambda a: tuple(
            t**2 if i != 1 else t for i, t in enumerate(torch.linalg.svd(a, full_matrices=False))
        ),
        shapes=((2, 3, 5),),
        variant="wide_batched",
    ),
    _linalg(
        "qr",
        lambda a: tuple(soma.linalg.qr(a)),
        lambda a: tuple(torch.linalg.qr(a)),
        shapes=((2, 4, 3),),
    ),
]

SPECS += [
    _linalg("pinv", soma.linalg.pinv, torch.linalg.pinv, shapes=((2, 4, 3),)),
    OpSpec("pinverse", lambda a: a.pinverse(), lambda a: a.pinverse(), shapes=((3, 5),)),
]

SPECS += [
    _linalg(
        "lstsq",
        lambda a, b: soma.linalg.lstsq(a, b).solution,
        lambda a, b: torch.linalg.lstsq(a, b).solution,
        shapes=((5, 3), (5, 2)),
    ),
]
