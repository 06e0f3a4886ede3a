"""``torch.accelerator``: which accelerator a program may use. soma runs on the CPU only.

PyTorch's programs pick their device with::

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() \\
        else "cpu"

which, here as on a CPU-only PyTorch, chooses ``"cpu"``.
"""

from soma.backend.device import check_available


def is_available() -> bool:
    """Whether an accelerator (CUDA, MPS, …) can be used: never, in this soma build."""
    return False


def current_accelerator(check_available: bool = False):
    """The accelerator device, or ``None`` when there is none (always, in this soma build)."""
    return None


def device_count() -> int:
    """Number of accelerator devices: 0."""
    return 0


def _no_accelerator(what: str):
    raise RuntimeError(f"torch.accelerator.{what}: no accelerator is available (soma is CPU-only)")


def current_device_index() -> int:
    _no_accelerator("current_device_index()")


def set_device_index(device) -> None:
    check_available(device if not isinstance(device, int) else f"cuda:{device}")


set_device_idx = set_device_index
current_device_idx = current_device_index


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work: nothing to wait for on the CPU."""
    _no_accelerator("synchronize()")
