"""``soma.utils.data``: PyTorch's name for ``soma.data`` (the same objects, re-exported).

Example:
    >>> import soma.utils.data, soma.data
    >>> soma.utils.data.DataLoader is soma.data.DataLoader
    True
"""

from soma.data import *  # noqa: F403  (exactly soma.data's public names)
from soma.data import __all__  # noqa: F401
