"""Data-parallel scaling on this machine, and a model of it on a cluster (issue 15).

    python -m benchmarks.scaling             # measure (needs the dist extra) and print the table
    python -m benchmarks.scaling --model     # only the cluster projection, from given inputs

Measured here: training throughput of one process with 2 BLAS threads against 2 MPI processes
(DistributedDataParallel) with 1 thread each, at the same global batch, for LeNet-5 (digits
size, 1×32×32) and ResNet-18 (3×32×32); and the time of one all-reduce of ResNet-18's 11.7 M
float32 gradients between 2 processes. Run it on a quiet machine: another process on a core
distorts both sides.

The projection: a ring all-reduce of S bytes over N nodes sends 2(N−1)/N·S bytes per node in
2(N−1) steps, so  T_allreduce(N) = 2(N−1)/N · S / B + 2(N−1) · α  (B the link bandwidth, α the
per-message latency). With the per-node batch fixed (weak scaling) a step takes
T_step = T_compute + (1 − overlap) · T_allreduce, and the efficiency is T_compute / T_step.
"""

import argparse
import json
import os
import subprocess
import sys
import time

RESNET18_PARAMETERS = 11_689_512  # torchvision's resnet18 (1000 classes); 11.17 M at 10 classes


def _worker(model_name, global_batch, steps):
    """Run in each process: time ``steps`` DDP training steps; print samples/s on rank 0."""
    import soma
    import soma.models
    from soma import nn

    world, rank = 1, 0
    ddp = os.environ.get("SCALING_DDP") == "1"
    if ddp:
        import soma.distributed as dist

        dist.init_process_group("mpi")
        world, rank = dist.get_world_size(), dist.get_rank()
    soma.manual_seed(0)
    if model_name == "lenet5":
        model = soma.models.get_model("lenet5", num_classes=10)
        shape = (1, 32, 32)
    else:
        model = soma.models.get_model("resnet18", num_classes=10, cifar_stem=True)
        shape = (3, 32, 32)
    if ddp:
        model = dist.DistributedDataParallel(model)
    local = global_batch // world
    x = soma.randn(local, *shape)
    y = soma.randint(0, 10, (local,))
    opt = soma.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    if ddp:
        dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if ddp:
        dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(
            json.dumps(
                {"samples_per_s": global_batch * steps / elapsed, "step_ms": elapsed / steps * 1e3}
            )
        )


def _allreduce_worker(count, repeats):
    import numpy as np

    import soma
    import soma.distributed as dist

    dist.init_process_group("mpi")
    grads = soma.tensor(np.ones(count, np.float32))
    dist.all_reduce(grads)
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(grads)
        times.append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        print(json.dumps({"allreduce_ms": sorted(times)[len(times) // 2] * 1e3}))


def _run(command, threads, ddp):
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        SCALING_DDP="1" if ddp else "0",
    )
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(steps):
    from soma.distributed.launch import find_mpiexec

    mpiexec = find_mpiexec()
    me = [sys.executable, "-m", "benchmarks.scaling"]
    rows = []
    for model, batch in (("lenet5", 64), ("resnet18", 32)):
        one = _run(me + ["--worker", model, str(batch), str(steps)], threads=2, ddp=False)
        two = _run(
            [mpiexec, "-n", "2"] + me + ["--worker", model, str(batch), str(steps)],
            threads=1,
            ddp=True,
        )
        rows.append((model, batch, one, two))
    reduce = _run(
        [mpiexec, "-n", "2"] + me + ["--allreduce", str(RESNET18_PARAMETERS), "10"],
        threads=1,
        ddp=True,
    )
    return rows, reduce


def project(compute_ms, size_bytes, latency_s=20e-6, overlap=0.5):
    """Ring all-reduce time, step time and efficiency for 4–64 nodes at 10 and 100 Gbit/s."""
    table = []
    for gbit in (10, 100):
        bandwidth = gbit * 1e9 / 8
        for n in (4, 8, 16, 32, 64):
            t_reduce = 2 * (n - 1) / n * size_bytes / bandwidth + 2 * (n - 1) * latency_s
            t_step = compute_ms / 1e3 + (1 - overlap) * t_reduce
            table.append((gbit, n, t_reduce * 1e3, t_step * 1e3, compute_ms / 1e3 / t_step))
    return table


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "BATCH", "STEPS"))
    parser.add_argument("--allreduce", nargs=2, type=int, metavar=("COUNT", "REPEATS"))
    parser.add_argument("--model", action="store_true", help="only the projection")
    parser.add_argument(
        "--compute-ms",
        type=float,
        default=None,
        help="per-node step compute time for the projection",
    )
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return
    if args.allreduce:
        _allreduce_worker(*args.allreduce)
        return
    compute_ms = args.compute_ms
    if not args.model:
        rows, reduce = measure(args.steps)
        print(
            "| model | global batch | 1 process × 2 threads | 2 processes × 1 thread | speed-up |"
        )
        print("| --- | --- | --- | --- | --- |")
        for model, batch, one, two in rows:
            print(
                f"| {model} | {batch} | {one['samples_per_s']:.0f} samples/s "
                f"({one['step_ms']:.1f} ms) | {two['samples_per_s']:.0f} samples/s "
                f"({two['step_ms']:.1f} ms) | {two['samples_per_s'] / one['samples_per_s']:.2f}× |"
            )
        print(
            f"\nall-reduce of {RESNET18_PARAMETERS / 1e6:.1f} M float32 gradients "
            f"({RESNET18_PARAMETERS * 4 / 1e6:.1f} MB), 2 processes: {reduce['allreduce_ms']:.1f} ms"
        )
        if compute_ms is None:
            compute_ms = rows[1][2]["step_ms"]
    compute_ms = compute_ms or 1000.0
    size = RESNET18_PARAMETERS * 4
    print(
        f"\nprojection: ResNet-18, {size / 1e6:.1f} MB of gradients, compute {compute_ms:.0f} "
        f"ms per step per node, latency 20 µs, half the all-reduce hidden behind backward"
    )
    print("| network | nodes | ring all-reduce | step | efficiency |")
    print("| --- | --- | --- | --- | --- |")
    for gbit, n, t_reduce, t_step, eff in project(compute_ms, size):
        print(f"| {gbit} Gbit/s | {n} | {t_reduce:.1f} ms | {t_step:.0f} ms | {eff:.1%} |")


if __name__ == "__main__":
    main()
