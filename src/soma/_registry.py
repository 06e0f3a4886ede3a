"""Things by name: the one registry style for every by-name family in soma.

Models, datasets, optimizers, learning-rate schedules, losses and activations are each a
``Registry``. A constructor joins its family with a decorator in the file that defines it,
with a one-line description::

    @register_optimizer("adam", "Adam (Kingma & Ba 2015): adaptive moments", lr=3e-3)
    class Adam(Optimizer): ...

The keyword options (here the learning rate the ``soma`` command starts from) are kept on the
entry. The CLI, ``fit(loss="mse", optimizer="adam")`` and the ``list_*()`` functions read the
registry, so adding a member touches only the file that defines it (and the package's export
list, to make it public). Names are case-insensitive and ``-`` reads as ``_``.

This module needs only the standard library; each family creates its registry where it lives
(``models/registry.py``, ``data/datasets/base.py``, ``optim/registry.py``, ``nn/registry.py``).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """A registered constructor, its one-line description and the family's options."""

    name: str
    builder: object
    description: str
    options: dict = field(default_factory=dict)


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


class Registry:
    """Names of one family (``"optimizer"``, ``"dataset"`` …) → their entries.

    Example:
        >>> shapes = Registry("shape")
        >>> @shapes.register("square", "four equal sides", corners=4)
        ... def square(side):
        ...     return side * side
        >>> shapes.get("Square").builder(3), shapes.get("square").options
        (9, {'corners': 4})
        >>> shapes.descriptions()
        {'square': 'four equal sides'}
    """

    def __init__(self, family: str, entry=None):
        self.family = family
        self._entry = entry or (
            lambda name, builder, description, **options: Entry(
                name, builder, description, options
            )
        )
        self._entries = {}
        self._aliases = {}

    def register(self, name: str, description: str = "", *, aliases=(), **options):
        """Decorator: register the decorated class or function as ``name`` (and ``aliases``).

        The description defaults to the first line of the constructor's docstring.
        """

        def add(builder):
            for key in (name, *aliases):
                known = self._entries.get(self._aliases.get(_key(key), _key(key)))
                if known is not None and known.builder is not builder:
                    raise ValueError(
                        f"register_{self.family}: a {self.family} named {key!r} is already "
                        f"registered ({known.builder.__qualname__})"
                    )
            text = description
            if not text and builder.__doc__:
                text = builder.__doc__.strip().splitlines()[0]
            self._entries[_key(name)] = self._entry(name, builder, text, **options)
            for alias in aliases:
                self._aliases[_key(alias)] = _key(name)
            return builder

        return add

    def get(self, name: str):
        """The entry of ``name`` (or of an alias); an unknown name lists the valid ones."""
        key = _key(name) if isinstance(name, str) else None
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise ValueError(
                f"unknown {self.family} {name!r}; available {self.family}s: "
                f"{', '.join(self.names())}"
            )
        return self._entries[key]

    def names(self, aliases: bool = False) -> list:
        """Registered names, sorted (with the aliases too when asked)."""
        names = [entry.name for entry in self._entries.values()]
        if aliases:
            names += list(self._aliases)
        return sorted(names)

    def descriptions(self) -> dict:
        """``{name: one-line description}``, sorted by name."""
        return {name: self.get(name).description for name in self.names()}

    def __contains__(self, name) -> bool:
        key = _key(name) if isinstance(name, str) else None
        return self._aliases.get(key, key) in self._entries

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
