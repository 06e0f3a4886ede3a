"""Run under mpiexec: N ranks × batch B must train exactly as one process on the batch N·B.

Usage: mpiexec -n N python equivalence_worker.py MODEL OPTIMIZER DTYPE [per-rank-bn]
(``per-rank-bn`` keeps plain BatchNorm: per-rank statistics, which must NOT match.)
Prints one line on rank 0: "max_diff <value> replicas_equal <0|1>".
"""

import sys

import numpy as np

import soma
import soma.distributed as dist
from soma import nn

STEPS, LOCAL_BATCH = 20, 4


def build(name):
    soma.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 36, 3),
        )
    if name == "lstm":
        return _LSTMNet()
    if name == "tied":
        return _TiedNet()
    raise ValueError(name)


class _TiedNet(nn.Module):
    """One Linear applied twice: its weight gets two gradients a step (summed, then averaged)."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(10, 10)
        self.head = nn.Linear(10, 3)

    def forward(self, x):
        return self.head(self.shared(self.shared(x).tanh()))


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def data(name, world, dtype):
    rng = np.random.default_rng(1)
    n = world * LOCAL_BATCH
    shape = {
        "mlp": (STEPS, n, 10),
        "tied": (STEPS, n, 10),
        "cnn": (STEPS, n, 1, 8, 8),
        "lstm": (STEPS, n, 6, 5),
    }[name]
    x = rng.normal(size=shape).astype(dtype)
    y = rng.integers(0, 3, size=(STEPS, n))
    return x, y


def optimizer(name, params):
    if name == "sgd":
        return soma.optim.SGD(params, lr=0.1, momentum=0.9)
    return soma.optim.Adam(params, lr=0.01)


def train(model, opt_name, xs, ys):
    opt = optimizer(opt_name, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss_fn(model(soma.tensor(x)), soma.tensor(y)).backward()
        opt.step()
    return model


def main():
    model_name, opt_name, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
    soma.set_default_dtype(getattr(soma, dtype))
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    xs, ys = data(model_name, world, dtype)
    local = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
    model = build(model_name)
    if model_name == "cnn" and "per-rank-bn" not in sys.argv:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = dist.DistributedDataParallel(model)
    train(ddp, opt_name, xs[:, local], ys[:, local])
    ours = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    ours = np.concatenate([ours] + [b.numpy().ravel().astype(ours.dtype) for b in model.buffers()])
    gathered = [soma.zeros(ours.shape, dtype=ours.dtype) for _ in range(world)]
    dist.all_gather(gathered, soma.tensor(ours))
    if rank == 0:
        reference = train(build(model_name), opt_name, xs, ys)
        ref = np.concatenate([p.detach().numpy().ravel() for p in reference.parameters()])
        ref = np.concatenate(
            [ref] + [b.numpy().ravel().astype(ref.dtype) for b in reference.buffers()]
        )
        equal = all(np.array_equal(g.numpy(), ours) for g in gathered)
        scale = max(1.0, float(np.abs(ref).max()))
        print(f"max_diff {np.abs(ours - ref).max() / scale:.3e} replicas_equal {int(equal)}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
