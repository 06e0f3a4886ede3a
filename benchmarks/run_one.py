"""Time one case in one framework, in this process: ``python -m benchmarks.run_one CASE FRAMEWORK``.

Prints one JSON line. Called by ``python -m benchmarks`` in a fresh subprocess per measurement,
so the two frameworks never share a process (their thread pools would compete).
"""

import argparse
import json
import resource
import sys

from benchmarks.harness import all_cases, time_step


def _peak_rss_mb() -> float:
    """This process's peak resident memory. NOTE: /proc's VmHWM, not ru_maxrss, which Linux
    carries over from the parent across fork+exec (the harness parent has PyTorch loaded)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("framework", choices=["soma", "torch"])
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args(argv)
    case = next(c for c in all_cases() if c.name == args.case)
    if args.framework == "torch":
        import torch as fw
    else:
        import soma as fw
    fw.manual_seed(0)
    step = case.build(fw)
    result = time_step(step, min_time=args.min_time)
    result.update(case=case.name, framework=args.framework)
    result["peak_rss_mb"] = _peak_rss_mb()
    if args.framework == "torch":
        result["threads"] = fw.get_num_threads()
    else:
        result["allocator"] = fw.allocator_settings()
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
