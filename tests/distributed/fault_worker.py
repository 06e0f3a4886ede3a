"""Run under mpiexec: rank 1 raises in the middle of training; every rank must exit at once
(MPI_Abort through soma.distributed's exception hook), not wait forever in a collective."""

import soma
import soma.distributed as dist
from soma import nn


def main():
    dist.init_process_group("mpi")
    soma.manual_seed(0)
    model = dist.DistributedDataParallel(nn.Linear(4, 2))
    opt = soma.optim.SGD(model.parameters(), lr=0.1)
    for step in range(100):
        if dist.get_rank() == 1 and step == 3:
            raise RuntimeError("boom: rank 1 fails at step 3")
        opt.zero_grad()
        model(soma.randn(8, 4)).pow(2).mean().backward()
        opt.step()
    print("not reached")


if __name__ == "__main__":
    main()
