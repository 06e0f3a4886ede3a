"""``soma run SCRIPT.py [ARGS…]``: run an unmodified PyTorch program on soma.

The script runs as ``__main__`` with ``sys.argv = [SCRIPT.py, ARGS…]`` and its folder first on
``sys.path``, exactly as ``python SCRIPT.py ARGS…`` would run it, except that ``import torch``
(and every ``torch.*``) resolves to soma (see ``importer.py``). ``-m MODULE`` runs a module
instead, like ``python -m``. The exit status is the script's (1 after an uncaught exception,
whose traceback is printed as Python prints it).
"""

import os
import runpy
import sys
import traceback

from soma.compat.importer import install_as_torch

USAGE = """usage: soma run SCRIPT.py [ARGS ...]
       soma run -m MODULE [ARGS ...]

Run a PyTorch program unchanged on soma: `import torch` and every `torch.*` module it imports
resolve to soma (PyTorch itself is never imported, installed or not)."""


def main(argv=None) -> int:
    """Run the program named in ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    as_module = argv[0] == "-m"
    if as_module:
        if len(argv) < 2:
            print("soma run: error: -m needs a module name\n" + USAGE, file=sys.stderr)
            return 2
        target, args = argv[1], argv[2:]
    else:
        target, args = argv[0], argv[1:]
        if not os.path.isfile(target):
            print(f"soma run: error: no such file: '{target}'", file=sys.stderr)
            return 2
    try:
        install_as_torch()
    except ImportError as error:
        print(f"soma run: error: {error}", file=sys.stderr)
        return 1
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [target, *args]
    sys.path.insert(0, os.getcwd() if as_module else os.path.dirname(os.path.abspath(target)))
    try:
        if as_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nsoma run: interrupted", file=sys.stderr)
        return 130
    except BaseException:  # the script's own error: show it as Python would
        traceback.print_exc()
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0
