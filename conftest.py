"""Doctests in ``src/`` whose examples need an optional package skip when it is missing (the
suite runs without PyTorch; see ``tests/torch_oracle.py`` for the tests themselves)."""

import importlib.util

import pytest

# module whose docstring examples need the package -> the package
NEEDS = {"soma.io.torch_interop": "torch"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for module, package in NEEDS.items():
            if item.name.startswith(module + ".") and importlib.util.find_spec(package) is None:
                item.add_marker(pytest.mark.skip(reason=f"the example needs {package}"))
