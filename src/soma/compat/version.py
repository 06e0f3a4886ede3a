"""``torch.version``: soma's version; no CUDA or ROCm build."""

from soma._version import __version__

cuda = None
hip = None
debug = False
git_version = "unknown"

__all__ = ["__version__", "cuda", "debug", "git_version", "hip"]
