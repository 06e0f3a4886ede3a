"""Devices as values: ``Device("cpu")``. Only the CPU exists today; CUDA plugs in here."""


class Device:
    """Where a tensor's memory lives, e.g. ``Device("cpu")`` or ``Device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        kind, _, number = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}; expected 'cpu' or 'cuda[:N]'")
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


cpu = Device("cpu")


def check_available(device) -> Device:
    """Return ``Device(device)``, refusing devices this installation cannot use."""
    device = Device(device)
    if device.type != "cpu":
        raise RuntimeError(
            f"device {device} is not available: this soma build has only the NumPy (CPU) backend"
        )
    return device
