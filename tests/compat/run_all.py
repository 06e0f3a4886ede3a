"""Run every compat program in this process and print their results as one JSON object.

``python run_all.py OUT.json`` runs them with whatever ``torch`` imports (the real PyTorch);
``python -m soma.run run_all.py OUT.json`` runs them with ``torch`` resolved to soma. Each
program runs as ``__main__`` (``runpy``); its ``RESULT`` line is collected, and an exception is
recorded with its type and message instead of stopping the others.
"""

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def run_one(name):
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(os.path.join(HERE, name + ".py"), run_name="__main__")
    except BaseException as error:  # noqa: BLE001  (report any failure of the program)
        return {
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=-4),
            "stdout": out.getvalue()[-2000:],
        }
    finally:
        os.chdir(cwd)
        torch.set_default_dtype(torch.float32)  # a failed program must not leak its default
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("RESULT ")]
    if not lines:
        return {"error": "no RESULT line", "stdout": out.getvalue()[-2000:]}
    result = json.loads(lines[-1][len("RESULT ") :])
    result["stdout"] = out.getvalue()
    return result


def main():
    sys.path.insert(0, HERE)
    names = sys.argv[2:] or sorted(
        f[:-3] for f in os.listdir(HERE) if f.endswith(".py") and not f.startswith("_")
    )
    results = {name: run_one(name) for name in names}
    with open(sys.argv[1], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
