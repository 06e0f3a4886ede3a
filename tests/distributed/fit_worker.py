"""Run under mpiexec: ``fit(distributed=True)`` on N ranks × batch B equals one process's
``fit`` on batch N·B (same data order without shuffling), and every rank logs the same
whole-epoch metrics. Rank 0 prints "max_diff <value> loss <rank0 loss> <single loss>"."""

import sys

import numpy as np

import soma
import soma.distributed as dist
from soma import nn
from soma.train import fit


def model():
    soma.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3))


def main():
    soma.set_default_dtype(soma.float64)
    dist.init_process_group("mpi")
    world = dist.get_world_size()
    rng = np.random.default_rng(2)
    x = soma.tensor(rng.normal(size=(48, 6)))
    y = soma.tensor(rng.integers(0, 3, size=48))
    ours = model()
    history = fit(
        ours,
        (x, y),
        "cross_entropy",
        "sgd",
        epochs=3,
        lr=0.2,
        batch_size=8,
        shuffle=False,
        verbose=False,
        distributed=True,
    )
    losses = soma.tensor(np.asarray(history["loss"]))
    gathered = [soma.zeros(3, dtype=soma.float64) for _ in range(world)]
    dist.all_gather(gathered, losses)
    assert all(np.array_equal(g.numpy(), losses.numpy()) for g in gathered), "logs differ"
    if dist.get_rank() == 0:
        single = model()
        reference = fit(
            single,
            (x, y),
            "cross_entropy",
            "sgd",
            epochs=3,
            lr=0.2,
            batch_size=8 * world,
            shuffle=False,
            verbose=False,
        )
        diff = max(
            float(np.abs(a.detach().numpy() - b.detach().numpy()).max())
            for a, b in zip(ours.parameters(), single.parameters())
        )
        print(f"max_diff {diff:.3e} loss {history['loss'][-1]:.12f} {reference['loss'][-1]:.12f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
