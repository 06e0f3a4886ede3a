"""The op table: one ``OpSpec`` per public op, grouped by family (one module per family).

Adding an op means adding an entry to its family's ``SPECS`` list; ``tests/test_op_table.py``
then checks it against finite differences in float64 and against PyTorch (forward and every
input gradient); ``tests/test_backend_seam.py`` runs it on a recording second backend, and
``tests/test_cupy_backend.py`` (marked ``gpu``) on CuPy.
"""

import importlib
import pkgutil

from tests.op_specs.spec import OpSpec


def all_specs():
    specs = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "spec":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        specs.extend(module.SPECS)
    names = [s.id for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"duplicate op spec ids: {sorted(duplicates)}"
    return specs


__all__ = ["OpSpec", "all_specs"]
