"""PyTorch, the reference oracle, when it is installed.

Without it, ``torch`` here is a stand-in: any attribute is the stand-in again, and calling it
skips the running test ("PyTorch is not installed"). A test module imports ``torch`` from here
so that its finite-difference, worked-example and behaviour tests run without PyTorch and only
the comparisons with PyTorch skip.
"""

import pytest


class _Absent:
    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        pytest.skip("PyTorch (the reference oracle) is not installed", allow_module_level=True)

    def __repr__(self):
        return "<torch: not installed>"


try:
    import torch
except ImportError:  # optional dependency: only the comparisons with PyTorch need it
    torch = _Absent()

HAVE_TORCH = not isinstance(torch, _Absent)

__all__ = ["HAVE_TORCH", "torch"]
