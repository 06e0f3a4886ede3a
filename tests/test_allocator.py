"""soma keeps freed memory for the next step (backend/allocator.py), unless told not to."""

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from soma.backend import allocator

SRC = Path(__file__).resolve().parents[1] / "src"
glibc = pytest.mark.skipif(allocator._mallopt() is None, reason="needs Linux with glibc")

# The lecture's sin(3x) training step (1→64→128→1, Adam, 1000 points): its temporaries of
# different sizes are freed and allocated again every step.
FAULTS = """
import resource
import soma
x = soma.linspace(-1, 1, 1000).unsqueeze(1)
y = soma.sin(3 * x)
net = soma.nn.Sequential(soma.nn.Linear(1, 64), soma.nn.ReLU(), soma.nn.Linear(64, 128),
                         soma.nn.ReLU(), soma.nn.Linear(128, 1))
opt = soma.optim.Adam(net.parameters(), lr=0.01)
def step():
    opt.zero_grad()
    soma.nn.functional.mse_loss(net(x), y).backward()
    opt.step()
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env):
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    # NOTE: without compiled kernels: loading them from Numba's disk cache frees a few large
    # blocks, which raises glibc's own (dynamic) mmap threshold, and the system allocator then
    # stopped faulting too (1 fault in 20 steps, against 10,640 when they compiled afresh and
    # 13,761 without them): the count would depend on the state of that cache
    run_env.update(PYTHONPATH=str(SRC), SOMA_FAST="0", **env)
    done = subprocess.run(
        [sys.executable, "-c", FAULTS], capture_output=True, text=True, env=run_env, check=True
    )
    return int(done.stdout.split()[-1])


@glibc
def test_repeated_large_temporaries_stop_faulting():
    # measured: about 590 minor page faults per step with glibc's defaults, none retained
    assert _faults(SOMA_ALLOCATOR="system") > 20 * 200
    assert _faults() < 20 * 10


@glibc
def test_the_settings_are_applied_and_reported():
    settings = allocator.allocator_settings()
    assert settings == {
        "M_MMAP_THRESHOLD": 32 << 20,
        "M_TOP_PAD": 64 << 20,
        "M_TRIM_THRESHOLD": 256 << 20,
    } or os.environ.get("SOMA_ALLOCATOR")


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="SOMA_ALLOCATOR"):
        allocator.configure_allocator("fastest")


@glibc
def test_users_own_malloc_variables_win():
    code = "import soma; print(soma.allocator_settings())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(PYTHONPATH=str(SRC), MALLOC_TOP_PAD_="1048576")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "{}"
    assert resource is not None
