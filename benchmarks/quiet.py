"""Is anything else running? The CPU time other processes used while a measurement ran.

A busy machine distorts the ratios: PyTorch's OpenMP threads spin-wait for cores another
process holds, so its step time balloons far more than soma's. Each measurement is therefore
bracketed by two readings of ``/proc/stat`` (CPU time of the whole machine) and of this
process's children's CPU time; the difference is what *other* processes used. A measurement
during which they used more than ``NOISE_CORES`` cores on average is marked noisy, and a run
with a noisy measurement does not overwrite ``results/latest.*``.
"""

import os
import resource
import time

NOISE_CORES = 0.15  # other processes' average CPU use (in cores) above which a run is noisy
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_seconds():
    """CPU seconds the whole machine has spent busy since boot (None if unknown)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def _children_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Reading:
    """Start a reading; ``stop()`` returns what other processes did meanwhile."""

    def __init__(self):
        self.wall = time.monotonic()
        self.busy = _machine_busy_seconds()
        self.children = _children_seconds()
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def stop(self) -> dict:
        wall = time.monotonic() - self.wall
        busy = _machine_busy_seconds()
        result = {"load_before": self.load, "wall_s": wall}
        if hasattr(os, "getloadavg"):
            result["load_after"] = os.getloadavg()[0]
        if busy is None or self.busy is None:
            result.update(other_cores=None, noisy=False)
            return result
        own = _children_seconds() - self.children
        # NOTE: /proc/stat counts in clock ticks (10 ms): a short measurement reads ±1 tick
        other = max(0.0, busy - self.busy - own - 2.0 / _TICK)
        cores = other / wall if wall > 0 else 0.0
        result.update(other_cores=cores, noisy=cores > NOISE_CORES)
        return result
