"""``soma.special``: PyTorch's ``torch.special`` names for the special functions soma has."""

import math

from soma.functional import (  # noqa: F401  # noqa: F401
    digamma,
    erf,
    erfc,
    erfinv,
    exp2,
    expm1,
    log1p,
    log_softmax,
    logit,
    logsumexp,
    polygamma,
    round,
    sinc,
    softmax,
    xlogy,
)
from soma.functional import digamma as psi  # noqa: F401
from soma.functional import lgamma as gammaln  # noqa: F401
from soma.functional import mvlgamma as multigammaln  # noqa: F401
from soma.functional import sigmoid as expit  # noqa: F401
from soma.functional.elementwise import mul
from soma.functional.special import entr, xlog1py  # noqa: F401
from soma.functional.unary import log


def ndtr(input):
    """The standard normal CDF ``Φ(x) = ½ (1 + erf(x / √2))``."""
    return mul(erf(mul(input, 1 / math.sqrt(2))) + 1.0, 0.5)


def ndtri(input):
    """The inverse of the standard normal CDF, ``√2 · erfinv(2p - 1)``."""
    return mul(erfinv(mul(input, 2.0) - 1.0), math.sqrt(2))


def log_ndtr(input):
    """``log Φ(x)``, accurate in the left tail (through erfc)."""
    return log(mul(erfc(mul(input, -1 / math.sqrt(2))), 0.5))


# PyTorch's keyword names, and out= where torch.special has it (soma/autograd/keywords.py)
from soma.autograd.keywords import adapt_namespace as _adapt_namespace  # noqa: E402

_adapt_namespace(
    globals(),
    out_names=frozenset(
        "digamma erf erfc erfinv exp2 expit expm1 gammaln log1p log_ndtr logit logsumexp "
        "multigammaln ndtr ndtri polygamma psi round sinc xlogy xlog1py entr".split()
    ),
)
