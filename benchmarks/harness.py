"""Benchmark cases and how one is timed.

A case is a function ``build(torch) -> step`` written once against PyTorch's API: it is called
with the ``torch`` module or with ``soma`` (which has the same API), builds the model and data,
and returns a zero-argument ``step`` that runs one training (or inference) step. The same code
therefore defines the work for both frameworks.
"""

import importlib
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One benchmark: a name, the issue it belongs to, and the builder of its step."""

    name: str
    group: str
    description: str
    build: Callable
    goal: float = 1.0  # soma/torch step-time ratio the issue asks for


def all_cases() -> list:
    """Every case from ``benchmarks/cases/*.py`` (each module lists its own in ``CASES``)."""
    from benchmarks import cases

    found = []
    for info in sorted(pkgutil.iter_modules(cases.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"benchmarks.cases.{info.name}")
        found.extend(module.CASES)
    return found


def time_step(step: Callable, min_time: float = 1.0, warmup: int = 3, repeats: int = 5) -> dict:
    """Median and spread of ``step``'s wall time, in milliseconds.

    Runs ``warmup`` steps, sizes a batch of steps to take about ``min_time / repeats`` seconds,
    then times ``repeats`` such batches.
    """
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-6)
    per_batch = max(1, int(min_time / repeats / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            step()
        samples.append((time.perf_counter() - t0) / per_batch * 1e3)
    samples.sort()
    return {
        "median_ms": samples[len(samples) // 2],
        "min_ms": samples[0],
        "max_ms": samples[-1],
        "steps_per_sample": per_batch,
    }
