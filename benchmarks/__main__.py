"""``python -m benchmarks [--cases NAME ...] [--rounds N]``: soma vs PyTorch, one table.

Each (case, framework) measurement runs in a fresh subprocess; the frameworks alternate for
``--rounds`` rounds and the median over rounds is reported. Nothing about BLAS or threads is
changed: the machine's settings are recorded with the results in ``benchmarks/results/``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import all_cases
from benchmarks.machine import describe
from benchmarks.quiet import NOISE_CORES, Reading

RESULTS = Path(__file__).parent / "results"


def _measure(case, framework, min_time):
    reading = Reading()
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_one", case, framework, "--min-time", str(min_time)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    quiet = reading.stop()
    if out.returncode != 0:
        raise RuntimeError(f"{case} ({framework}) failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["machine_load"] = quiet
    return result


def _table(rows, machine) -> str:
    lines = [
        "| case | soma (ms) | PyTorch (ms) | soma / PyTorch | goal | peak RSS soma / PyTorch (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['soma_ms']:.2f} | {r['torch_ms']:.2f} | "
            f"{r['ratio']:.2f} | ≤ {r['goal']:g} | "
            f"{r.get('soma_peak_rss_mb', 0):.0f} / {r.get('torch_peak_rss_mb', 0):.0f} |"
        )
    env = (
        ", ".join(f"{k}={v}" for k, v in machine["env"].items())
        or "no thread/allocator variables set"
    )
    lines.append("")
    lines.append(
        f"{machine['cpu']} ({machine.get('cpu_generation', 'generation not recorded')}), "
        f"{machine['cores']} cores; Python {machine['python']}; "
        f"NumPy {machine['numpy']} ({machine['numpy_blas']}, "
        f"{machine.get('blas_kernels', 'kernel set not recorded')} kernels); "
        f"PyTorch {machine['torch']} "
        f"({machine.get('torch_threads')} threads); {env}."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--group", help="only cases of this group (e.g. core, conv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--profile", metavar="CASE", help="split one case's step time")
    parser.add_argument("--steps", type=int, default=20, help="steps profiled (--profile)")
    parser.add_argument(
        "--split",
        action="store_true",
        help="where soma's step goes, every case (or --cases), into results/split.md",
    )
    parser.add_argument(
        "--allow-noisy",
        action="store_true",
        help="write results even when other processes used the CPU during a measurement",
    )
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.profile:
        from benchmarks.profile import main as profile

        profile(next(c for c in cases if c.name == args.profile), args.steps)
        return 0
    if args.split:
        from benchmarks.profile import split_table

        chosen = [c for c in cases if not args.cases or c.name in args.cases]
        table = split_table(chosen, args.steps)
        if not args.cases:
            _write_atomically(RESULTS / "split.md", table + "\n")
        return 0
    if args.list:
        for c in cases:
            print(f"{c.name:28s} [{c.group}] {c.description}")
        return
    if args.cases:
        cases = [c for c in cases if c.name in args.cases]
    if args.group:
        cases = [c for c in cases if c.group == args.group]
    machine = describe()
    rows = []
    for case in cases:
        times = {"soma": [], "torch": []}
        others = []
        rss = {"soma": 0.0, "torch": 0.0}
        for _ in range(args.rounds):
            for fw in ("soma", "torch"):
                result = _measure(case.name, fw, args.min_time)
                times[fw].append(result["median_ms"])
                rss[fw] = max(rss[fw], result.get("peak_rss_mb", 0.0))
                others.append(result["machine_load"])
        soma_ms, torch_ms = statistics.median(times["soma"]), statistics.median(times["torch"])
        row = {
            "case": case.name,
            "group": case.group,
            "description": case.description,
            "soma_ms": soma_ms,
            "torch_ms": torch_ms,
            "ratio": soma_ms / torch_ms,
            "goal": case.goal,
            "rounds": times,
            "soma_peak_rss_mb": rss["soma"],
            "torch_peak_rss_mb": rss["torch"],
            "other_cores_max": max((o["other_cores"] or 0.0) for o in others),
            "noisy": any(o["noisy"] for o in others),
        }
        rows.append(row)
        print(
            f"{case.name:28s} soma {soma_ms:9.2f} ms   torch {torch_ms:9.2f} ms   "
            f"ratio {row['ratio']:.2f}" + ("   NOISY" if row["noisy"] else ""),
            flush=True,
        )
    table = _table(rows, machine)
    print()
    print(table)
    RESULTS.mkdir(exist_ok=True)
    name = "latest" if not (args.cases or args.group) else "partial"
    noisy = [r["case"] for r in rows if r["noisy"]]
    if noisy:
        print(
            f"\nnoisy: other processes used more than {NOISE_CORES} cores during {noisy}; "
            f"the ratios are not trustworthy",
            file=sys.stderr,
        )
        if not args.allow_noisy:
            print(
                "results not written (rerun on a quiet machine, or --allow-noisy)", file=sys.stderr
            )
            return 1
        name = "noisy"
    for suffix, text in (
        (".json", json.dumps({"machine": machine, "rows": rows}, indent=2)),
        (".md", table + "\n"),
    ):
        _write_atomically(RESULTS / (name + suffix), text)


def _write_atomically(path, text):
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
