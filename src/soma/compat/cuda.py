"""``torch.cuda``: what CPU-only PyTorch answers, so device checks take the CPU path.

``is_available()`` is False and ``device_count()`` 0; seeding is a no-op (as in PyTorch without
a GPU); anything that would touch a GPU raises ``RuntimeError`` naming the call.
"""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def manual_seed(seed) -> None:
    """Seed the GPU generators: nothing to seed (PyTorch also ignores it without a GPU)."""


def manual_seed_all(seed) -> None:
    """Seed every GPU's generator: nothing to seed."""


def seed() -> None:
    pass


def seed_all() -> None:
    pass


def empty_cache() -> None:
    """Release cached GPU memory: there is none."""


def memory_allocated(device=None) -> int:
    return 0


def max_memory_allocated(device=None) -> int:
    return 0


def memory_reserved(device=None) -> int:
    return 0


def reset_peak_memory_stats(device=None) -> None:
    pass


def _unavailable(what: str):
    raise RuntimeError(
        f"torch.cuda.{what}: CUDA is not available (soma has only the NumPy CPU backend); "
        "guard GPU code with torch.cuda.is_available()"
    )


def current_device() -> int:
    _unavailable("current_device()")


def set_device(device) -> None:
    _unavailable("set_device()")


def get_device_name(device=None) -> str:
    _unavailable("get_device_name()")


def get_device_properties(device=None):
    _unavailable("get_device_properties()")


def synchronize(device=None) -> None:
    _unavailable("synchronize()")


# NOTE: ``torch.cuda.amp`` is the older home of autocast/GradScaler; both names work
