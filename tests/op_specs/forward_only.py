"""Ops with no gradient: comparisons, logical ops, ``fmod``/``remainder``/``floor_divide`` on
integers, and the aliases. Forward only: each row is checked against PyTorch (values and
dtype) and, without PyTorch, against a NumPy ``reference`` worked independently of soma.

Integer inputs include negative dividends and divisors, where ``fmod`` (sign of the dividend,
C's ``%``) and ``remainder`` (sign of the divisor, Python's ``%``) differ.
"""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec, torch


def _ints(rng):
    a = rng.integers(-7, 8, (3, 4))
    b = rng.choice(np.array([-3, -2, 2, 3]), (4,))
    return [a, b]


def _ties(rng):  # integer-valued floats, so equal pairs occur
    return [rng.integers(-2, 3, (3, 4)).astype(np.float64), rng.integers(-2, 3, (4,)) * 1.0]


def _mixed(rng):
    return [rng.integers(-2, 3, (3, 4)), rng.integers(0, 2, (4,)).astype(bool)]


def _rows(name, fn_s, fn_t, reference, make, variant=""):
    return OpSpec(
        name, fn_s, fn_t, make=make, grad_inputs=(), reference=reference, variant=variant
    )


_COMPARISONS = [
    ("eq", soma.eq, lambda a, b: torch.eq(a, b), np.equal),
    ("ne", soma.ne, lambda a, b: torch.ne(a, b), np.not_equal),
    ("lt", soma.lt, lambda a, b: torch.lt(a, b), np.less),
    ("le", soma.le, lambda a, b: torch.le(a, b), np.less_equal),
    ("gt", soma.gt, lambda a, b: torch.gt(a, b), np.greater),
    ("ge", soma.ge, lambda a, b: torch.ge(a, b), np.greater_equal),
    ("greater", soma.greater, lambda a, b: torch.greater(a, b), np.greater),
    (
        "greater_equal",
        soma.greater_equal,
        lambda a, b: torch.greater_equal(a, b),
        np.greater_equal,
    ),
    ("less", soma.less, lambda a, b: torch.less(a, b), np.less),
    ("less_equal", soma.less_equal, lambda a, b: torch.less_equal(a, b), np.less_equal),
]

_LOGICAL = [
    ("logical_and", soma.logical_and, lambda a, b: torch.logical_and(a, b), np.logical_and),
    ("logical_or", soma.logical_or, lambda a, b: torch.logical_or(a, b), np.logical_or),
    ("logical_xor", soma.logical_xor, lambda a, b: torch.logical_xor(a, b), np.logical_xor),
]

_DIVISION = [  # integer dividends and divisors of both signs
    ("fmod", soma.fmod, lambda a, b: torch.fmod(a, b), np.fmod),
    ("remainder", soma.remainder, lambda a, b: torch.remainder(a, b), np.remainder),
    ("floor_divide", soma.floor_divide, lambda a, b: torch.floor_divide(a, b), np.floor_divide),
    ("mod_operator", lambda a, b: a % b, lambda a, b: a % b, np.remainder),
    ("floordiv_operator", lambda a, b: a // b, lambda a, b: a // b, np.floor_divide),
]

SPECS = (
    [_rows(n, s, t, r, _ties, "float") for n, s, t, r in _COMPARISONS]
    + [_rows(n, s, t, r, _ints, "int") for n, s, t, r in _COMPARISONS[:2]]
    + [_rows(n, s, t, r, _ties, "float") for n, s, t, r in _LOGICAL]
    + [_rows(n, s, t, r, _mixed, "int_bool") for n, s, t, r in _LOGICAL]
    + [_rows(n, s, t, r, _ints, "int") for n, s, t, r in _DIVISION]
    + [
        _rows(
            "logical_not",
            soma.logical_not,
            torch.logical_not,
            np.logical_not,
            lambda rng: [rng.integers(-2, 3, (3, 4))],
            "int",
        ),
        _rows(
            "logical_not",
            soma.logical_not,
            torch.logical_not,
            np.logical_not,
            lambda rng: [rng.integers(-1, 2, (3, 4)) * 0.5],
            "float",
        ),
        _rows(
            "logical_not",
            soma.logical_not,
            torch.logical_not,
            np.logical_not,
            lambda rng: [rng.integers(0, 2, (3, 4)).astype(bool)],
            "bool",
        ),
        _rows(
            "invert_operator",
            lambda a: ~a,
            lambda a: ~a,
            np.invert,
            lambda rng: [rng.integers(-3, 4, (3, 4))],
            "int",
        ),
        _rows(
            "invert_operator",
            lambda a: ~a,
            lambda a: ~a,
            np.invert,
            lambda rng: [rng.integers(0, 2, (3, 4)).astype(bool)],
            "bool",
        ),
        _rows("isnan", soma.isnan, torch.isnan, np.isnan, lambda rng: [_specials(rng)]),
        _rows("isinf", soma.isinf, torch.isinf, np.isinf, lambda rng: [_specials(rng)]),
        _rows(
            "isfinite", soma.isfinite, torch.isfinite, np.isfinite, lambda rng: [_specials(rng)]
        ),
        # floor_divide of floats: PyTorch gives no gradient, and neither does soma
        OpSpec(
            "floor_divide",
            soma.floor_divide,
            lambda a, b: torch.floor_divide(a, b),
            shapes=((3, 4), (4,)),
            variant="float",
            reference=np.floor_divide,
            keeps_graph=False,
            gradcheck=False,
        ),
    ]
)

# The aliases are the same functions under PyTorch's other names (checked by identity here,
# and their values through the rows of the names they alias).
ALIASES = {
    "subtract": "sub",
    "multiply": "mul",
    "clip": "clamp",
    "negative": "neg",
    "absolute": "abs",
    "greater": "gt",
    "greater_equal": "ge",
    "less": "lt",
    "less_equal": "le",
    "swapaxes": "transpose",
}


def _specials(rng):
    x = rng.uniform(-2, 2, (3, 4))
    x[0, :3] = [np.nan, np.inf, -np.inf]
    return x
