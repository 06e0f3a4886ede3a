"""Ten PyTorch-idiom programs, each run with the real PyTorch and through ``soma run``.

``run_all.py`` runs every program in ``programs/`` in one process per framework (PyTorch's
import alone takes seconds); each test then compares one program's results: the same losses,
outputs and printed values from the same initial weights (drawn from NumPy, see ``_det.py``).
A program that needs a feature soma does not have yet skips with the reason, and runs as soon
as the feature lands.
"""

import contextlib
import json
import math
import os
import subprocess
import sys

import pytest

import soma

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")


def _needs():
    """program -> the reason it cannot run on soma today (None when it can)."""
    ctx = getattr(soma.autograd, "FunctionCtx", soma.autograd.Context)
    return {
        "transformer_tril": None if hasattr(soma, "tril") else "needs torch.tril (helper ops)",
        "gcn_sparse": None
        if hasattr(soma, "sparse_coo_tensor") and hasattr(soma, "spmm")
        else "needs sparse_coo_tensor / spmm (helper optim)",
        "lbfgs_fit": None if hasattr(soma.optim, "LBFGS") else "needs optim.LBFGS (helper optim)",
        "custom_function": None
        if hasattr(ctx, "save_for_backward")
        else "needs ctx.save_for_backward / saved_tensors (helper autograd)",
    }


PROGRAMS = sorted(
    f[:-3] for f in os.listdir(os.path.join(HERE, "programs")) if f[0] != "_" and f.endswith(".py")
)


def _run(tmp_path_factory, *prefix):
    """Run every runnable program once per test session, shared by pytest-xdist's workers."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the directory all workers of this session share
    out = base / f"compat-results-{'soma' if prefix else 'torch'}.json"
    with _locked(str(out) + ".lock"):
        if not out.exists():
            env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
            runnable = [p for p in PROGRAMS if not _needs().get(p)]
            cmd = [sys.executable, *prefix, os.path.join(HERE, "run_all.py"), str(out), *runnable]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(out.read_text())


@contextlib.contextmanager
def _locked(path):
    try:
        import fcntl
    except ImportError:  # not POSIX: each worker runs the programs itself
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def torch_results(tmp_path_factory):
    pytest.importorskip("torch")
    return _run(tmp_path_factory)


@pytest.fixture(scope="module")
def soma_results(tmp_path_factory):
    return _run(tmp_path_factory, "-m", "soma.run")


def _same(a, b, path="result"):
    """Equal structures; floats to float32 accumulation tolerance (rtol 1e-4)."""
    if isinstance(a, str) and isinstance(b, str):
        # NOTE: soma's dtypes are NumPy's and print as 'float32', PyTorch's as 'torch.float32'
        assert a.replace("torch.", "") == b.replace("torch.", ""), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, bool) or a is None:
        assert a == b, f"{path}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)):
        assert isinstance(b, (int, float)), f"{path}: {a!r} vs {b!r}"
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5) or a == b, f"{path}: {a} != {b}"
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert isinstance(a, dict) and isinstance(b, dict), f"{path}: {a!r} vs {b!r}"
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_gives_pytorchs_results(program, torch_results, soma_results):
    reason = _needs().get(program)
    if reason:
        pytest.skip(reason)
    expected, got = torch_results[program], soma_results[program]
    assert "error" not in expected, expected
    assert "error" not in got, f"{got['error']}\n{got.get('traceback', '')}"
    expected.pop("stdout"), got.pop("stdout")
    _same(expected, got)


def test_there_are_at_least_ten_programs():
    assert len(PROGRAMS) >= 10
