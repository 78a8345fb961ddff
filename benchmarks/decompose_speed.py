"""Exact decomposition measured: one LP against its independent parts, serial and on workers.

The design is benchmarks/model_speed.py's (3 blocks x 10 participants, PV, batteries, a p2p
market per block, energy charge) without its exchange market and DSO links, so nothing joins
the blocks and the LP falls apart into 3 parts (backends/split.py). Printed: the HiGHS time of
the single LP; the parts solved one after another in this process (their summed HiGHS time and
the split's own cost); the parts on the study runner (`--workers`, default 2, local
processes: the wall time of the whole `solve_by_parts`, worker start-up included); each
objective against the single LP's.

    python benchmarks/decompose_speed.py [--days 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def separable(days: int) -> Any:
    d = runpy.run_path(str(HERE / "model_speed.py"))["make_design"](days)
    markets = {k: m for k, m in d.markets.items() if k != "exchange"}
    return replace(d, markets=markets, dso=replace(d.dso, links=()))


def main(argv: list[str] | None = None) -> int:
    from pebdsl.backends.split import SplitBackend
    from pebdsl.solve import solve
    from pebdsl.study.decompose import solve_by_parts

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    d = separable(args.days)
    print(f"design: {len(d.participants)} participants in 3 unjoined blocks, {d.n_steps} steps")
    t0 = time.perf_counter()
    whole = solve(d)
    t_whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    serial = solve(d, backend=SplitBackend(min_nnz=1))
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    par = solve_by_parts(d, workers=args.workers)
    t_par = time.perf_counter() - t0
    print(f"{'run':<22} {'solve s':>8} {'HiGHS s':>8} {'longest':>8} objective")
    for name, r, t in (
        ("single LP", whole, t_whole),
        ("3 parts, serial", serial, t_serial),
        (f"3 parts, {args.workers} workers", par, t_par),
    ):
        tm = r.timings
        print(
            f"{name:<22} {t:>8.2f} {tm.get('solve', 0.0):>8.2f} "
            f"{tm.get('longest_part', tm.get('solve', 0.0)):>8.2f} {r.objective:.9f} "
            f"(Δ {abs(r.objective - whole.objective):.1e})"
        )
    print(
        f"speed-up of the whole solve: serial parts {t_whole / t_serial:.2f}x, "
        f"{args.workers} workers {t_whole / t_par:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
