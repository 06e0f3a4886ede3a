"""``Size`` (a tensor's shape) and the small named tuples tensor methods return."""

from collections import namedtuple


class Size(tuple):
    """The shape of a tensor: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self):
        return f"soma.Size({list(self)})"

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
