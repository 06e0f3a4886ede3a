"""Run under mpiexec: every collective, dtype and async mode against a NumPy reference.

Each rank r holds values built from r, so every result can be computed locally with NumPy.
Exits non-zero (through an AssertionError, which aborts every rank) on the first mismatch;
rank 0 prints "collectives ok N" at the end, N the number of checks.
"""

import numpy as np

import soma
import soma.distributed as dist
from soma.distributed import ReduceOp

DTYPES = ["float32", "float64", "int32", "int64"]


def local(rank, dtype, shape=(2, 3)):
    return (np.arange(np.prod(shape)).reshape(shape) + 10 * rank + 1).astype(dtype)


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    everyone = [local(r, "float64") for r in range(world)]
    checks = 0
    for dtype in DTYPES:
        every = np.stack([local(r, dtype) for r in range(world)])
        ops = {
            ReduceOp.SUM: every.sum(0),
            ReduceOp.MAX: every.max(0),
            ReduceOp.MIN: every.min(0),
            ReduceOp.PRODUCT: every.prod(0),
        }
        if dtype.startswith("float"):
            ops[ReduceOp.AVG] = every.mean(0)
        for op, expected in ops.items():
            for async_op in (False, True):
                t = soma.tensor(local(rank, dtype))
                work = dist.all_reduce(t, op=op, async_op=async_op)
                if async_op:
                    work.wait()
                    assert work.is_completed()
                np.testing.assert_allclose(t.numpy(), expected.astype(dtype), rtol=1e-6)
                assert t.dtype == np.dtype(dtype), (t.dtype, dtype)
                checks += 1
        for src in range(world):
            t = soma.tensor(local(rank, dtype))
            dist.broadcast(t, src=src)
            np.testing.assert_array_equal(t.numpy(), local(src, dtype))
            checks += 1
        out = [soma.zeros((2, 3), dtype=getattr(soma, dtype)) for _ in range(world)]
        dist.all_gather(out, soma.tensor(local(rank, dtype)), async_op=True).wait()
        for r in range(world):
            np.testing.assert_array_equal(out[r].numpy(), local(r, dtype))
        checks += 1
        pieces = [soma.tensor(local(rank, dtype) * (i + 1)) for i in range(world)]
        out = soma.zeros((2, 3), dtype=getattr(soma, dtype))
        dist.reduce_scatter(out, pieces)
        np.testing.assert_array_equal(out.numpy(), every.sum(0) * (rank + 1))
        checks += 1
        gathered = [soma.zeros((2, 3), dtype=getattr(soma, dtype)) for _ in range(world)]
        dist.gather(soma.tensor(local(rank, dtype)), gathered if rank == 0 else None, dst=0)
        if rank == 0:
            for r in range(world):
                np.testing.assert_array_equal(gathered[r].numpy(), local(r, dtype))
        checks += 1
        out = soma.zeros((2, 3), dtype=getattr(soma, dtype))
        parts = (
            [soma.tensor(local(r, dtype) * 2) for r in range(world)] if rank == 1 % world else None
        )
        dist.scatter(out, parts, src=1 % world)
        np.testing.assert_array_equal(out.numpy(), local(rank, dtype) * 2)
        checks += 1
    # a non-contiguous tensor is reduced in place too
    t = soma.tensor(np.asfortranarray(everyone[rank].reshape(3, 2))).t()
    dist.all_reduce(t)
    np.testing.assert_allclose(t.numpy(), sum(e.reshape(3, 2) for e in everyone).T)
    checks += 1
    dist.barrier()
    if rank == 0:
        print(f"collectives ok {checks}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
