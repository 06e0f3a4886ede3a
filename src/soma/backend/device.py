"""Devices as values: ``Device("cpu")``. Only the CPU exists today; CUDA plugs in here."""


class Device:
    """Where a tensor's memory lives, e.g. ``Device("cpu")`` or ``Device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        if isinstance(spec, int) and not isinstance(spec, bool):  # torch.device(0) is cuda:0
            spec, index = "cuda", spec
        kind, _, number = str(spec).partition(":")
        if kind not in DEVICE_TYPES:
            raise RuntimeError(
                f"unknown device {spec!r}; expected one of {', '.join(DEVICE_TYPES)} "
                "(with an optional ':N')"
            )
        self.type = kind
        self.index = int(number) if number else index

    def __eq__(self, other):
        try:
            other = Device(other)
        except (ValueError, TypeError):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + (
            f", index={self.index})" if self.index is not None else ")"
        )


DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")  # names PyTorch accepts; only cpu works

cpu = Device("cpu")
_default = cpu


def is_device_spec(value) -> bool:
    """Whether ``value`` names a device (``Device``, ``"cuda:0"``, an index), not a dtype."""
    if isinstance(value, Device) or isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and value.partition(":")[0] in DEVICE_TYPES


def set_default_device(device) -> None:
    """Where factories put new tensors; only the CPU exists (``None`` resets to it)."""
    global _default
    _default = cpu if device is None else check_available(device)


def get_default_device() -> Device:
    return _default


def check_available(device) -> Device:
    """Return ``Device(device)``, refusing devices this installation cannot use."""
    device = Device(device)
    if device.type != "cpu":
        raise RuntimeError(
            f"device {device} is not available: this soma build has only the NumPy (CPU) backend"
        )
    return device
