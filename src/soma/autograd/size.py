"""``Size`` (a tensor's shape) and the small named tuples tensor methods return."""

from collections import namedtuple

# The library name printed in reprs (``soma.Size([2, 3])``, ``dtype=soma.float64``). Running a
# PyTorch program as ``torch`` (``soma run``, ``install_as_torch``) sets it to "torch", so the
# program prints what it prints under PyTorch.
_display = {"name": "soma"}


def display_name() -> str:
    return _display["name"]


def set_display_name(name: str) -> None:
    _display["name"] = name


class Size(tuple):
    """The shape of a tensor: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self):
        return f"{_display['name']}.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


MinMax = namedtuple("MinMax", ["values", "indices"])


def dims_of(args):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        return tuple(args[0])
    return tuple(args)
