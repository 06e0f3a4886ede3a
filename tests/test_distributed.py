"""soma.distributed: collectives, DistributedDataParallel, SyncBatchNorm, DistributedSampler.

The MPI tests start real jobs with ``mpiexec -n N`` (the ``dist`` extra installs mpi4py and the
MPICH wheel, whose ``mpiexec`` sits beside the venv's python); they skip without it.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import soma
from soma.data import DistributedSampler

WORKERS = Path(__file__).parent / "distributed"
SRC = Path(__file__).resolve().parents[1] / "src"


def _mpiexec():
    beside_python = Path(sys.executable).parent / "mpiexec"
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return found


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs the dist extra (mpi4py, mpiexec)")


def run_mpi(n, script, *args, timeout=120):
    env = dict(
        os.environ,
        PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    command = [MPIEXEC, "-n", str(n), sys.executable, str(WORKERS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_match_numpy_for_every_op_dtype_and_async_mode(n):
    done = run_mpi(n, "collectives_worker.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "collectives ok" in done.stdout


CASES = [(m, o) for m in ("mlp", "cnn", "lstm") for o in ("sgd", "adam")] + [("tied", "sgd")]


@needs_mpi
@pytest.mark.parametrize("model,optimizer", CASES)
@pytest.mark.parametrize("dtype,tolerance", [("float64", 1e-10), ("float32", 1e-5)])
def test_two_ranks_train_exactly_as_one_process_on_the_merged_batch(
    model, optimizer, dtype, tolerance
):
    done = run_mpi(2, "equivalence_worker.py", model, optimizer, dtype)
    assert done.returncode == 0, done.stdout + done.stderr
    _, diff, _, equal = done.stdout.split()
    assert equal == "1", "the replicas drifted apart"
    assert float(diff) < tolerance, f"{model}/{optimizer}/{dtype}: max relative diff {diff}"


@needs_mpi
def test_three_ranks_with_sync_batchnorm_match_one_process():
    done = run_mpi(3, "equivalence_worker.py", "cnn", "adam", "float64")
    assert done.returncode == 0, done.stdout + done.stderr
    assert float(done.stdout.split()[1]) < 1e-10


@needs_mpi
def test_plain_batchnorm_keeps_per_rank_statistics_so_it_differs():
    # the equivalence check has teeth: per-rank BatchNorm statistics are not the merged batch's
    done = run_mpi(2, "equivalence_worker.py", "cnn", "sgd", "float64", "per-rank-bn")
    assert done.returncode == 0, done.stdout + done.stderr
    assert float(done.stdout.split()[1]) > 1e-4


@needs_mpi
def test_a_failing_rank_ends_every_rank_at_once_with_its_message():
    start = time.monotonic()
    done = run_mpi(2, "fault_worker.py", timeout=60)
    assert done.returncode != 0
    assert time.monotonic() - start < 30
    said = done.stdout + done.stderr
    assert "rank 1 of 2 failed with RuntimeError: boom" in said, said
    assert "not reached" not in done.stdout


def test_refuses_pytorchs_backends_with_a_clear_message():
    dist = pytest.importorskip("soma.distributed")
    with pytest.raises(ValueError, match="soma runs data parallelism on MPI"):
        dist.init_process_group("nccl")


def test_using_the_group_before_init_says_what_to_do():
    import soma.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.DistributedDataParallel(soma.nn.Linear(2, 2))


def test_sync_batchnorm_without_a_group_is_batchnorm():
    soma.manual_seed(0)
    x = soma.randn(6, 3, 4, 4)
    plain = soma.nn.BatchNorm2d(3)
    sync = soma.nn.SyncBatchNorm.convert_sync_batchnorm(soma.nn.Sequential(soma.nn.BatchNorm2d(3)))
    assert type(sync[0]).__name__ == "SyncBatchNorm"
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(sync[0].running_var.numpy(), plain.running_var.numpy(), rtol=1e-6)


def test_convert_sync_batchnorm_keeps_the_layer_order_and_the_tensors():
    net = soma.nn.Sequential(soma.nn.Conv2d(1, 2, 3), soma.nn.BatchNorm2d(2), soma.nn.ReLU())
    weight = net[1].weight
    net = soma.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert [type(m).__name__ for m in net] == ["Conv2d", "SyncBatchNorm", "ReLU"]
    assert net[1].weight is weight


# ------------------------------------------------------------------ DistributedSampler
@pytest.mark.parametrize(
    "n,replicas,drop_last",
    [(10, 3, False), (10, 3, True), (9, 3, False), (2, 3, False), (7, 2, True), (1, 4, False)],
)
def test_distributed_sampler_matches_pytorch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert torch is not None


def test_distributed_sampler_shuffles_disjoint_shares_that_cover_the_data():
    n, replicas = 23, 4
    shares = [list(DistributedSampler(range(n), replicas, r, seed=5)) for r in range(replicas)]
    assert all(len(s) == 6 for s in shares)  # ⌈23 / 4⌉
    flat = [i for s in shares for i in s]
    assert set(flat) == set(range(n)) and len(flat) == 24  # one index padded in
    again = [list(DistributedSampler(range(n), replicas, r, seed=5)) for r in range(replicas)]
    assert again == shares  # every rank draws the same order


def test_set_epoch_changes_the_order_reproducibly():
    sampler = DistributedSampler(range(50), num_replicas=2, rank=0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_distributed_sampler_checks_its_rank():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


def test_distributed_sampler_drives_the_loaders_fast_path():
    x = soma.arange(10).float().reshape(10, 1)
    data = soma.data.TensorDataset(x)
    loader = soma.data.DataLoader(
        data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False)
    )
    assert [b[0].flatten().tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]


@needs_mpi
def test_soma_launch_runs_a_command_as_an_mpi_job():
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    code = (
        "import sys, soma.distributed as d; d.init_process_group(); "
        "sys.stdout.write(f'<r{d.get_rank()}>'); sys.stdout.flush()"
    )
    done = subprocess.run(
        [sys.executable, "-m", "soma.cli", "launch", "-n", "2", "--", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "<r0>" in done.stdout and "<r1>" in done.stdout  # one token per rank (lines may mix)


def test_soma_launch_needs_a_command():
    from soma.distributed.launch import launch_command

    with pytest.raises(ValueError, match="give the command"):
        launch_command(2, [])


@needs_mpi
def test_fit_distributed_equals_one_process_on_the_merged_batch():
    done = run_mpi(2, "fit_worker.py")
    assert done.returncode == 0, done.stdout + done.stderr
    _, diff, _, ours, single = done.stdout.split()
    assert float(diff) < 1e-10
    assert abs(float(ours) - float(single)) < 1e-10  # the logged loss is the whole epoch's


@needs_mpi
def test_soma_train_distributed_writes_one_run_from_rank_0(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    out = tmp_path / "run"
    train = [
        sys.executable,
        "-m",
        "soma.cli",
        "train",
        "--model",
        "mlp",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--distributed",
        "--quiet",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "soma.cli", "launch", "-n", "2", "--", *train],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("test: loss") == 1  # one rank reports
    assert {"last.safetensors", "history.json"} <= set(os.listdir(out))
    assert float(done.stdout.split("accuracy")[1].split()[0]) > 0.8


def _train_distributed(out, *extra, epochs=4):
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "soma.cli", "train"]
    command += ["--model", "mlp", "--data", "spirals", "--epochs", str(epochs)]
    command += ["--batch-size", "32", "--seed", "5", "--distributed", "--quiet"]
    return [*command, "--out", str(out), *extra]


def _env():
    return dict(
        os.environ,
        PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )


def _final_weights(out):
    state = soma.load(os.path.join(out, "last.safetensors"))["model"]
    return {k: v.numpy() for k, v in state.items()}


@needs_mpi
def test_a_killed_distributed_run_resumes_from_its_last_checkpoint(tmp_path):
    """SIGKILL of the whole job (as a lost node) once an epoch's checkpoint exists; --resume
    then ends with exactly the weights of an uninterrupted run: only the running epoch is lost."""
    straight = tmp_path / "straight"
    done = subprocess.run(
        _train_distributed(straight), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr

    out = tmp_path / "killed"
    job = subprocess.Popen(
        _train_distributed(out),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while not (out / "last.safetensors").exists() and job.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    assert job.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    soma.load(out / "last.safetensors")  # intact: a kill never corrupts a checkpoint

    resumed = subprocess.run(
        _train_distributed(out, "--resume", str(out)),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    expected = _final_weights(straight)
    for key, value in _final_weights(out).items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
