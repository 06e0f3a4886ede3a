"""Random numbers: one global generator, reseeded by ``manual_seed``, and explicit generators."""

import numpy

from soma.backend.array_module import xp


class Generator:
    """A seeded source of random numbers (wraps NumPy's PCG64 ``Generator``).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.numpy.integers(0, 10, 3).tolist() == Generator().manual_seed(0).numpy.integers(0, 10, 3).tolist()
        True
    """

    def __init__(self, device="cpu"):
        self._seed = None
        self.numpy = numpy.random.default_rng()

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.numpy = numpy.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self) -> dict:
        return self.numpy.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.numpy.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator so runs are reproducible."""
    return default_generator.manual_seed(seed)


def resolve(generator) -> numpy.random.Generator:
    """The NumPy generator behind ``generator`` (the global one when ``None``)."""
    return (generator or default_generator).numpy


class _BackendDraws:
    """A NumPy generator whose array results are moved to the active backend.

    Random streams are drawn on the host, so a seed gives the same numbers on every backend;
    kernels then receive arrays of the backend they run on.
    """

    __slots__ = ("_rng",)

    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        method = getattr(self._rng, name)

        def draw(*args, **kwargs):
            result = method(*args, **kwargs)
            return xp.asarray(result) if isinstance(result, numpy.ndarray) else result

        return draw


def draws(generator) -> _BackendDraws:
    """Random draws for kernels: ``resolve(generator)`` with arrays on the active backend.

    The data pipeline (samplers, datasets, transforms) works on the host and uses ``resolve``.
    """
    return _BackendDraws(resolve(generator))
