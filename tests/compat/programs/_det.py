"""Shared by the compat programs: the same initial weights and data in PyTorch and in soma.

Both frameworks' random generators differ, so every program overwrites its initial weights
with values drawn from NumPy (PyTorch's default uniform(-1/sqrt(fan_in), ...) bounds) and draws
its data from NumPy too. ``report`` prints the results as one JSON line the test compares.
"""

import json

import numpy as np
import torch


def deterministic_init(model, seed=0):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            bound = 1.0 / np.sqrt(fan_in)
            values = rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)
            p.copy_(torch.from_numpy(values))
    return model


def array(x):
    return x.detach().cpu().numpy().tolist()


def report(**results):
    print("RESULT " + json.dumps(results))
