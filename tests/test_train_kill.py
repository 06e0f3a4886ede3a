"""The kill/interrupt matrix: `soma train` stopped by SIGINT, SIGTERM or SIGKILL at a point
drawn from a seed (between batches, inside a batch, while a checkpoint is being written), then
resumed, ends with exactly the weights of an uninterrupted run.

SIGINT and SIGTERM are deferred to the next batch boundary and save ``interrupted.safetensors``
(exit 130 / 143). SIGKILL cannot be caught: the run resumes from ``last.safetensors`` (the last
finished epoch), so it loses at most the work since that checkpoint, which is never corrupt,
and the half-written temporary file it leaves is removed by the next run in the folder.
"""

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

import soma

EPOCHS, BATCHES = 2, 12  # spirals: 720 training samples in batches of 64
ARGS = ["train", "--model", "mlp", "--data", "spirals", "--epochs", str(EPOCHS)]
ARGS += ["--batch-size", "64", "--quiet", "--seed", "3"]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(os.path.abspath(soma.__file__)))


def _run(out, *cli, point=("NONE", "between", 0, 0)):
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["MPLBACKEND"] = "Agg"
    command = [sys.executable, os.path.join(HERE, "interrupt_driver.py"), *map(str, point)]
    command += ["--", *ARGS, "--out", str(out), *cli]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _weights(out):
    return {
        k: v.numpy() for k, v in soma.load(os.path.join(out, "last.safetensors"))["model"].items()
    }


def _temp_files(out):
    return [name for name in os.listdir(out) if name.endswith(".tmp")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    done = _run(out)
    assert done.returncode == 0, done.stderr
    return _weights(out)


def _point(seed, where):
    """The interruption point for ``seed``: (epoch, batch), or the n-th checkpoint write."""
    rng = random.Random(seed)
    if where == "checkpoint":  # each epoch writes best then last: 2 * EPOCHS writes
        return 0, rng.randint(1, 2 * EPOCHS)
    return rng.randint(1, EPOCHS), rng.randint(1, BATCHES)


@pytest.mark.parametrize("where", ["between", "inside", "checkpoint"])
@pytest.mark.parametrize("name", ["INT", "TERM", "KILL"])
def test_interrupted_and_resumed_run_ends_with_the_uninterrupted_weights(
    tmp_path, reference, name, where
):
    seed = 3 * ["INT", "TERM", "KILL"].index(name) + ["between", "inside", "checkpoint"].index(
        where
    )
    epoch, batch = _point(seed, where)
    out = tmp_path / "run"
    stopped = _run(out, point=(name, where, epoch, batch))
    if name == "KILL":
        assert stopped.returncode == -signal.SIGKILL
        if os.path.exists(out / "last.safetensors"):
            soma.load(out / "last.safetensors")  # intact: a kill never corrupts a checkpoint
    else:
        code = 128 + getattr(signal, "SIG" + name)
        assert stopped.returncode == code, stopped.stderr
        assert "continue with --resume" in stopped.stderr
        assert os.path.exists(out / "interrupted.safetensors")
        assert _temp_files(out) == []

    names = ("interrupted", "last", "best")  # --resume FOLDER takes the most advanced one
    resumable = any(os.path.exists(out / f"{n}.safetensors") for n in names)
    resumed = _run(out, *(["--resume", str(out)] if resumable else []))
    assert resumed.returncode == 0, resumed.stderr
    assert _temp_files(out) == [] and not os.path.exists(out / "interrupted.safetensors")
    weights = _weights(out)
    for key, value in reference.items():
        np.testing.assert_array_equal(weights[key], value, err_msg=f"{name} {where}: {key}")
