"""Where a soma step's time goes, beside PyTorch's profiler for the same step.

    python -m benchmarks --profile CASE [--steps N]

soma: every ``Function`` subclass's ``forward`` and ``backward`` are wrapped with a timer for
the duration of the profile, so each graph node's kernel time is known; the rest of the step
(``Function.apply`` bookkeeping, the backward engine, module calls, the optimizer's Python) is
reported as Python overhead, with the number of graph nodes per step and the overhead per node.
Kernels are grouped by family (matrix products, convolutions, elementwise, reductions, shape
and copies, normalization, pooling, losses, …) from the module that defines them.

PyTorch: ``torch.profiler`` over the same number of steps, its operators by self CPU time.
"""

import time
from collections import defaultdict

FAMILIES = (
    ("linalg", "matrix products (GEMM)"),
    ("conv", "convolutions (im2col or Winograd + GEMM)"),
    ("recurrent", "recurrent layers"),
    ("attention", "attention"),
    ("normalization", "normalization"),
    ("pooling", "pooling"),
    ("loss", "losses"),
    ("activation", "activations"),
    ("unary", "elementwise, one input"),
    ("elementwise", "elementwise, two inputs"),
    ("reduction", "reductions"),
    ("shape", "shape changes and copies"),
    ("indexing", "indexing and copies"),
    ("dropout", "dropout"),
)


def _family(cls) -> str:
    module = cls.__module__
    for key, label in FAMILIES:
        if f".{key}" in module:
            return label
    return module.rsplit(".", 1)[-1]


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


class _Timers:
    """Wraps every Function's forward/backward; ``restore()`` puts the originals back."""

    def __init__(self, function_base):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.saved = []
        for cls in set(_subclasses(function_base)):
            for phase in ("forward", "backward"):
                original = cls.__dict__.get(phase)
                if isinstance(original, staticmethod):
                    self.saved.append((cls, phase, original))
                    setattr(cls, phase, staticmethod(self._timed(cls, phase, original.__func__)))

    def _timed(self, cls, phase, fn):
        key = (cls.__name__, _family(cls), phase)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
                self.calls[key] += 1

        return timed

    def restore(self):
        for cls, phase, original in self.saved:
            setattr(cls, phase, original)


def measure_soma(case, steps, budget=None):
    """Time ``steps`` plain steps, then the same with every kernel timed; the split as a dict.

    ``budget`` (seconds): fewer steps (at least 3) when ``steps`` would take longer than that.
    """
    import soma
    from soma.autograd.function import Function

    soma.manual_seed(0)
    step = case.build(soma)
    for _ in range(3):
        step()
    if budget is not None:
        start = time.perf_counter()
        step()
        steps = max(3, min(steps, int(budget / max(time.perf_counter() - start, 1e-6))))
    start = time.perf_counter()
    for _ in range(steps):
        step()
    plain = (time.perf_counter() - start) / steps
    timers = _Timers(Function)
    try:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        timed = (time.perf_counter() - start) / steps
    finally:
        timers.restore()
    kernel = sum(timers.seconds.values()) / steps
    families = defaultdict(float)
    for (_, family, _), seconds in timers.seconds.items():
        families[family] += seconds / steps
    return {
        "plain": plain,
        "timed": timed,
        "kernel": kernel,
        "overhead": max(timed - kernel, 0.0),
        "nodes": sum(n for (_, _, phase), n in timers.calls.items() if phase == "forward") / steps,
        "families": dict(families),
        "ops": {key: (timers.calls[key] / steps, s / steps) for key, s in timers.seconds.items()},
    }


def profile_soma(case, steps):
    m = measure_soma(case, steps)
    timed, overhead, nodes = m["timed"], m["overhead"], m["nodes"]
    lines = [
        f"soma step {m['plain'] * 1e3:.2f} ms ({timed * 1e3:.2f} ms with timers), kernels "
        f"{m['kernel'] * 1e3:.2f} ms, Python overhead {overhead * 1e3:.2f} ms for {nodes:.0f} "
        f"graph nodes ({overhead / max(nodes, 1) * 1e6:.1f} µs per node, forward + backward)",
        "",
        "| family | ms per step | share of step |",
        "| --- | ---: | ---: |",
    ]
    for family, seconds in sorted(m["families"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {family} | {seconds * 1e3:.2f} | {seconds / timed:.0%} |")
    lines.append(
        f"| Python overhead (apply, engine, modules, optimizer) | {overhead * 1e3:.2f} "
        f"| {overhead / timed:.0%} |"
    )
    lines += ["", "| op | phase | calls per step | ms per step |", "| --- | --- | ---: | ---: |"]
    ops = sorted(m["ops"].items(), key=lambda kv: -kv[1][1])[:15]
    for (name, _, phase), (calls, seconds) in ops:
        lines.append(f"| {name} | {phase} | {calls:.0f} | {seconds * 1e3:.2f} |")
    return "\n".join(lines)


def split_table(cases, steps):
    """One row per case: where soma's step goes, by family, and the Python overhead."""
    lines = [
        "| case | soma step (ms) | largest kernel families (share of step) | Python overhead |",
        "| --- | ---: | --- | ---: |",
    ]
    for case in cases:
        m = measure_soma(case, steps, budget=3.0)
        timed = m["timed"]
        top = sorted(m["families"].items(), key=lambda kv: -kv[1])[:3]
        families = "; ".join(f"{name} {seconds / timed:.0%}" for name, seconds in top)
        per_node = m["overhead"] / max(m["nodes"], 1) * 1e6
        lines.append(
            f"| {case.name} | {m['plain'] * 1e3:.2f} | {families} | "
            f"{m['overhead'] / timed:.0%} ({m['nodes']:.0f} nodes, {per_node:.0f} µs each) |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def profile_torch(case, steps):
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    step = case.build(torch)
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


def main(case, steps=20):
    print(f"# {case.name}: {case.description}\n")
    print(profile_soma(case, steps))
    print(f"\n## PyTorch ({steps} steps, operators by self CPU time)\n")
    try:
        print(profile_torch(case, steps))
    except ImportError:
        print("(PyTorch is not installed)")
