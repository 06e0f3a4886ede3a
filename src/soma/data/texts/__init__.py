"""Public-domain texts shipped with soma, for character-level language models.

``sonnets``: sixteen of Shakespeare's sonnets (I, II, XII, XVIII, XXIX, XXX, LV, LX, LXV, LXXI,
LXXIII, CVI, CXVI, CXXX, CXXXVIII) in the usual modern spelling; first printed in 1609, in the
public domain. About 9 KB.

Example:
    >>> text = load_text("sonnets")
    >>> text.splitlines()[5]
    'From fairest creatures we desire increase,'
"""

from importlib import resources

_TEXTS = {"sonnets": "sonnets.txt"}


def available_texts() -> list:
    """Names accepted by ``load_text``."""
    return sorted(_TEXTS)


def load_text(name: str = "sonnets") -> str:
    """The text called ``name`` (see ``available_texts()``), as one string."""
    if name not in _TEXTS:
        raise ValueError(f"load_text: unknown text {name!r}; available: {available_texts()}")
    return resources.files(__name__).joinpath(_TEXTS[name]).read_text(encoding="utf-8")


__all__ = ["available_texts", "load_text"]
