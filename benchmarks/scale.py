"""Memory against the number of participants: check, solve, write outputs (report included).

For each N (default 1 000, 2 000 and 4 000) a design of N participants in one block trading in
one pool market, over a day of hourly steps, is written as a .peb file (every 4th participant
has PV, every 8th also a battery) and run in a FRESH subprocess: `load`, `solve`, `write_outputs`
(results.json, CSVs, Parquet, report.html). Each subprocess reports its peak resident set size
(`ru_maxrss`, which counts HiGHS's C++ memory too, unlike tracemalloc) and its RSS after the
imports; the difference is the memory the run needed. The last line prints the memory per
participant at the largest N over that at the smallest: 1.0 is linear, 4.0 (for 1 000 -> 4 000)
would be quadratic. Issue 9 asks for at most 1.5.

    python benchmarks/scale.py [--sizes 1000,2000,4000] [--hours 24] [--no-report]

Issue 16's big designs are two presets (the same design, longer): `--preset week300` (300
participants x a week of hourly steps) and `--preset year100` (100 participants x a year); each
prints its time, peak memory and model size (columns, rows, nonzeros). Issue 16 asks for at
most 16 GiB each.

    python benchmarks/scale.py --preset week300
    python benchmarks/scale.py --preset year100 --no-report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_DESIGN = """design "scale {n}" {{ currency = EUR }}
horizon {{ start = 2021-06-07; duration = {hours} h; step = 1 h; timezone = "Europe/Oslo" }}
series home = daily [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6,
                     0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5] kW
series solar = daily [0, 0, 0, 0, 0.02, 0.08, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74,
                      0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.08, 0.02, 0, 0, 0, 0]
grid {{ buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }}
template household {{ load {{ profile = home }} }}
block town {{
  connection = {conn} kW
  participant h[1..{plain}] from household {{ }}
  participant s[1..{pv}] from household {{ pv {{ profile = solar; peak = 5 kWp }} }}
  participant b[1..{bat}] from household {{
    pv {{ profile = solar; peak = 6 kWp }}
    battery {{ capacity = 10 kWh; power = 5 kW; efficiency = 95 % }}
  }}
}}
market town_pool {{ type = pool; members = town; fee = 1 ct/kWh }}
"""


# Issue 16's big designs: (participants, hourly steps).
PRESETS = {"week300": ("300", 168), "year100": ("100", 8760)}


def design_text(n: int, hours: int = 24) -> str:
    """N participants: N/8 with PV and a battery, N/8 with PV only, the rest load only."""
    bat = max(1, n // 8)
    pv = max(1, n // 8)
    plain = n - bat - pv
    return _DESIGN.format(n=n, hours=hours, conn=20 * n, plain=plain, pv=pv, bat=bat)


def _rss_kib() -> int:
    """Current resident set size (KiB), from /proc where there is one."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child(path: str, out: str, report: bool) -> dict[str, float]:
    """One run in this process (the subprocess side): figures in KiB and seconds."""
    import resource
    import time

    import numpy  # noqa: F401  (imports before the baseline: they are no part of the run)
    import pandas  # noqa: F401

    from pebdsl.load import load
    from pebdsl.present.output import write_outputs
    from pebdsl.solve import solve

    base = _rss_kib()
    t0 = time.perf_counter()
    design = load(path)
    results = solve(design)
    if report:
        write_outputs(results, Path(out))
    elapsed = time.perf_counter() - t0
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {
        "base_kib": base,
        "peak_kib": peak,
        "seconds": elapsed,
        "columns": float(results.model_stats.get("variables", 0)),
        "rows": float(results.model_stats.get("constraints", 0)),
        "nonzeros": float(results.model_stats.get("nonzeros", 0)),
    }


def measure(n: int, hours: int, report: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.peb"
        path.write_text(design_text(n, hours), encoding="utf-8")
        cmd = [sys.executable, __file__, "--child", str(path), str(Path(tmp) / "out")]
        if not report:
            cmd.append("--no-report")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(f"N={n} failed:\n{done.stderr[-2000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,2000,4000", help="participant counts, comma-separated")
    ap.add_argument("--hours", type=int, default=24, help="horizon length in hourly steps")
    ap.add_argument("--no-report", action="store_true", help="skip write_outputs")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="issue 16's big designs")
    ap.add_argument("--child", nargs=2, metavar=("DESIGN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], not args.no_report)))
        return 0
    if args.preset:
        args.sizes, args.hours = PRESETS[args.preset]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"{'participants':>12} {'steps':>6} {'columns':>10} {'rows':>10} {'nonzeros':>10} "
          f"{'peak MiB':>9} {'run MiB':>8} {'KiB/participant':>16} {'seconds':>8}")  # fmt: skip
    per: dict[int, float] = {}
    for n in sizes:
        r = measure(n, args.hours, not args.no_report)
        used = max(r["peak_kib"] - r["base_kib"], 1.0)
        per[n] = used / n
        print(
            f"{n:>12} {args.hours:>6} {int(r['columns']):>10} {int(r['rows']):>10} "
            f"{int(r['nonzeros']):>10} {r['peak_kib'] / 1024:>9.0f} {used / 1024:>8.0f} "
            f"{per[n]:>16.1f} {r['seconds']:>8.1f}"
        )
    lo, hi = min(per), max(per)
    if lo != hi:
        print(
            f"memory per participant {lo} -> {hi}: ratio {per[hi] / per[lo]:.2f} "
            "(1.0 linear; goal <= 1.5)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
