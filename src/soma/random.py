"""``torch.random``: the global generator's seed and state, and ``fork_rng``.

The same functions as ``soma.manual_seed`` & co., under the module name PyTorch code imports
them from (``torch.random.manual_seed(0)``), plus ``fork_rng``: a block whose random draws
leave the global stream where it was.
"""

import contextlib

from soma.backend.random import Generator, default_generator, manual_seed
from soma.compat.runtime import get_rng_state, initial_seed, seed, set_rng_state

__all__ = [
    "Generator",
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]


@contextlib.contextmanager
def fork_rng(
    devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cpu"
):
    """Run the block, then put the global generator back in the state it had before (soma
    has the CPU generator only, so ``devices`` has nothing to select)."""
    if not enabled:
        yield
        return
    saved = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(saved)
