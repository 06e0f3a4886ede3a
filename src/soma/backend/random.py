"""Random numbers: one global generator, reseeded by ``manual_seed``, and explicit generators.

A generator holds two streams. ``stream`` is PyTorch's own (``mersenne.py``): every op PyTorch
has — ``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``, the in-place fills, dropout's masks, the ``nn.init`` initialisers and the data
samplers — draws from it, so ``manual_seed(s)`` gives them PyTorch's numbers. ``numpy``
(NumPy's PCG64, seeded with the same seed) serves what is soma's own: its data transforms and
synthetic datasets.
"""

import numpy

from soma.backend.array_module import xp
from soma.backend.mersenne import MersenneStream

# the seed of a new ``Generator()`` (PyTorch's default_rng_seed_val)
DEFAULT_SEED = 67280421310721


class Generator:
    """A seeded source of random numbers: PyTorch's stream and a NumPy generator.

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.stream.random(2).tolist()       # torch.manual_seed(0)'s first two 32-bit draws
        [2357136044, 2546248239]
    """

    def __init__(self, device="cpu", seed: int = DEFAULT_SEED):
        self.stream = MersenneStream()
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart both streams from ``seed`` (any integer in [−2⁶³, 2⁶⁴))."""
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise RuntimeError(
                f"manual_seed: seed must be within the range [-0x8000_0000_0000_0000, "
                f"0xffff_ffff_ffff_ffff], got {seed}"
            )
        self._seed = seed % 2**64
        self.stream.seed(self._seed)
        self.numpy = numpy.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        value = int(numpy.random.SeedSequence().entropy) % 2**63
        self.manual_seed(value)
        return value

    @property
    def device(self):
        from soma.backend.device import Device  # NOTE: lazy: device.py imports the backend

        return Device("cpu")

    def clone_state(self) -> "Generator":
        """A new generator at this one's position."""
        twin = Generator()
        twin.set_state(self.get_state())
        return twin

    def get_state(self) -> dict:
        """Both streams' positions, as plain JSON-able values."""
        mt = self.stream.get_state()
        mt["key"] = mt["key"].tolist()
        return {"seed": self._seed, "mersenne": mt, "numpy": self.numpy.bit_generator.state}

    def set_state(self, state: dict) -> None:
        if "mersenne" not in state:  # a NumPy-only state (soma's checkpoints before the stream)
            self.numpy.bit_generator.state = state
            return
        self._seed = state.get("seed", self._seed)
        self.stream.set_state(state["mersenne"])
        self.numpy.bit_generator.state = state["numpy"]


default_generator = Generator(seed=int(numpy.random.SeedSequence().entropy) % 2**64)


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator so runs are reproducible."""
    return default_generator.manual_seed(seed)


def stream(generator) -> MersenneStream:
    """PyTorch's stream of ``generator`` (the global one when ``None``)."""
    return (generator or default_generator).stream


def memory_order(array) -> list:
    """``array``'s axes by decreasing stride: the order PyTorch's kernels visit its elements."""
    return sorted(range(array.ndim), key=lambda d: -abs(array.strides[d]))


def filled(array, draw):
    """``draw(count)``'s values shaped as ``array``, in the order PyTorch's kernels fill its
    elements: memory order (dimensions by decreasing stride), so a transposed or channels-last
    tensor gets the numbers a contiguous one would at the same places in memory."""
    order = memory_order(array)
    values = draw(array.size).reshape([array.shape[d] for d in order])
    return xp.asarray(values.transpose(numpy.argsort(order)))


def check_range(low, high) -> None:
    """``random_``'s rule for a range [low, high): it must not be empty."""
    if not low < high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )


def is_blocked(array) -> bool:
    """Whether PyTorch's normal fill runs its blocked Box–Muller on this array."""
    return array.dtype.kind == "f" and array.flags.c_contiguous and array.size >= 16


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
