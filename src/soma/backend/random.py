"""Random numbers: one global generator, reseeded by ``manual_seed``, and explicit generators."""

import numpy


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
