"""PyTorch's process-wide switches that programs set at start-up, and ``torch.compile``.

soma computes in float32/float64 with NumPy, deterministically, on NumPy's BLAS threads, and
runs eagerly; so these calls are accepted, remembered where PyTorch lets a program read them
back, and change nothing:

* ``set_float32_matmul_precision("high")`` / ``get_float32_matmul_precision()``;
* ``use_deterministic_algorithms(True)`` / ``are_deterministic_algorithms_enabled()``;
* ``compile(model)`` returns ``model`` itself (also as ``@compile`` and ``@compile(...)``).

``set_num_threads(n)`` does act: it sets soma's own threads for large passes (elementwise
ones and compiled kernels, ``soma.backend.parallel``; without it they run on the calling
thread); NumPy's BLAS threads stay as the environment set them.

``initial_seed``/``seed``/``get_rng_state``/``set_rng_state`` act on soma's global generator
(the state is the generator's own, not PyTorch's byte tensor: save and restore it as a whole).
"""

import random as _random

from soma.backend import parallel as _parallel
from soma.backend import random as _rng

_matmul_precision = "highest"
_deterministic = False


def set_float32_matmul_precision(precision: str) -> None:
    global _matmul_precision
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(
            f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', "
            f"got {precision!r}"
        )
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """soma's kernels are always deterministic; the flag is only remembered."""
    global _deterministic
    _deterministic = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for soma's large passes; BLAS's threads are unchanged."""
    _parallel.set_num_threads(n)


def compile(model=None, **options):  # noqa: A001  (PyTorch's name)
    """``torch.compile``: soma runs eagerly, so the model (or function) comes back unchanged."""
    if model is None:
        return lambda fn: fn
    return model


def initial_seed() -> int:
    """The seed of the global generator (set by ``manual_seed`` or ``seed``)."""
    seed_ = _rng.default_generator.initial_seed()
    return seed() if seed_ is None else seed_


def seed() -> int:
    """Reseed the global generator with a fresh random seed and return it."""
    value = _random.SystemRandom().getrandbits(63)
    _rng.manual_seed(value)
    return value


def get_rng_state() -> dict:
    return _rng.default_generator.get_state()


def set_rng_state(state) -> None:
    _rng.default_generator.set_state(state)
