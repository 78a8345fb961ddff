"""Temporal aggregation (`--aggregate Nd`, tsam) against the full model: error and speed-up.

Builds model_speed's design (3 blocks x 10 participants, PV and batteries on half of them, a
p2p market per block, an exchange over DSO links, an energy charge; seeded random clouds,
loads and spot prices) over `--days` days (default a year) and solves it, each in a FRESH
process: once on the full horizon, then on N typical days for each N of `--typical` (tsam:
hierarchical clustering, medoid days, inter-period battery state of charge;
pebdsl/aggregate.py). For each run it prints the wall time (aggregation + pebdsl's whole
`solve`), the peak memory, the model's columns, the objective over the whole horizon
(`results.aggregation["objective"]` for an aggregated run), its error against the full
model's objective, tsam's error on the input series (normalised RMSE) and the speed-up
(full wall time / aggregated wall time). Needs the `aggregate` extra (tsam).

    python benchmarks/aggregate_speed.py [--days 365] [--typical 12,24,48]
        [--blocks 3 --per-block 10]   (a smaller design for a year on a busy machine: 2 and 2)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(days: int, typical: int, blocks: int, per_block: int) -> dict[str, float]:
    """One run in this process: typical = 0 solves the full horizon."""
    from model_speed import make_design

    from pebdsl.aggregate import aggregate
    from pebdsl.solve import solve

    design = make_design(days, blocks, per_block)
    t0 = time.perf_counter()
    rmse = 0.0
    if typical:
        design = aggregate(design, f"{typical}d")
        assert design.periods is not None
        rmse = design.periods.error["rmse"]
    t_agg = time.perf_counter() - t0
    r = solve(design)
    wall = time.perf_counter() - t0
    whole = r.aggregation["objective"] if r.aggregation is not None else r.objective
    return {
        "seconds": wall,
        "tsam": t_agg,
        "highs": r.timings.get("solve", 0.0),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "columns": float(r.model_stats.get("variables", 0)),
        "objective": whole,
        "rmse": rmse,
    }


def measure(days: int, typical: int, size: tuple[int, int]) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(days), str(typical), *map(str, size)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"run with {typical or 'all'} days failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--typical", default="12,24,48", help="typical days, comma-separated")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--per-block", type=int, default=10, help="participants per block")
    ap.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    head = ("run", "columns", "seconds", "HiGHS s", "tsam s", "peak MiB", "objective", "error")
    widths = (10, 9, 8, 8, 7, 8, 14, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(head, widths, strict=True)), "series RMSE speed-up")
    # The aggregated runs first (each is shown as it ends: the full year is the long one).
    rows = []
    size = (args.blocks, args.per_block)
    for k in (int(s) for s in args.typical.split(",") if s.strip()):
        rows.append((f"{k} days", measure(args.days, k, size)))
        print(f"# {rows[-1][0]}: {json.dumps(rows[-1][1])}", file=sys.stderr, flush=True)
    full = measure(args.days, 0, size)
    rows.insert(0, ("full", full))
    for name, r in rows:
        err = (r["objective"] - full["objective"]) / abs(full["objective"])
        print(
            f"{name:>10} {int(r['columns']):>9} {r['seconds']:>8.1f} {r['highs']:>8.1f} "
            f"{r['tsam']:>7.2f} {r['peak_mib']:>8.0f} {r['objective']:>14.6f} {err:>+9.2%} "
            f"{r['rmse']:>11.4f} {full['seconds'] / r['seconds']:>7.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
