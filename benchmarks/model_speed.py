"""Benchmark of the model pipeline: lower, hand-off, HiGHS run, extract, settle.

Generates (in Python) a design of 3 blocks x 10 participants with PV and private batteries,
a p2p market in each block and an exchange between the blocks over DSO links, over a year of
hourly steps (`--days N` for shorter runs), and prints each stage's time, the overhead ratio
(everything except the solver's own run) / (solver run), the model size and peak memory.

    python benchmarks/model_speed.py [--days 365] [--backend highs|pyomo|both]
    python benchmarks/model_speed.py --design designs/trondheim.peb --variant year --backend highs

With `--design FILE [--variant NAME]` it measures that design instead of the generated one
(the Trondheim year: `--design designs/trondheim.peb --variant year`).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime

import numpy as np

from pebdsl.design import (
    Battery,
    Block,
    Connection,
    Design,
    Dso,
    Generation,
    Grid,
    Link,
    Load,
    Market,
    Participant,
    TimeGrid,
)


def make_design(days: int, blocks: int = 3, per_block: int = 10, seed: int = 1) -> Design:
    rng = np.random.default_rng(seed)
    n = days * 24
    hours = np.arange(n)
    hod = hours % 24
    doy = hours // 24
    season = 0.6 + 0.4 * np.cos(2 * np.pi * (doy - 172) / 365)
    sun = np.clip(np.sin(np.pi * (hod - 5) / 14), 0, None) * season
    clouds = np.repeat(rng.uniform(0.3, 1.0, days), 24)
    solar = sun * clouds  # kW per kWp
    spot = 0.06 + 0.03 * np.sin(2 * np.pi * (hod - 12) / 24) + rng.normal(0, 0.005, n)
    parts: dict[str, Participant] = {}
    blks: dict[str, Block] = {}
    for b in range(blocks):
        bname = f"block{b + 1}"
        members = []
        for k in range(per_block):
            name = f"b{b + 1}p{k + 1}"
            base = rng.uniform(0.3, 1.5)
            load = base * (0.6 + 0.5 * np.exp(-((hod - 19) ** 2) / 8) + rng.normal(0, 0.05, n))
            gens: tuple[Generation, ...] = ()
            bat = None
            if k % 2 == 0:
                peak = rng.uniform(3, 8)
                gens = (Generation("pv", peak * solar, peak),)
                bat = Battery(f"{name}.battery", 10.0, 5.0, 0.95, owner=name)
            parts[name] = Participant(name, bname, Load(np.maximum(load, 0.05)), gens, bat)
            members.append(name)
        blks[bname] = Block(bname, Connection(200.0, 200.0), tuple(members))
    markets = {
        f"{b}_p2p": Market(f"{b}_p2p", "p2p", blk.participants, fee_per_kwh=0.01, loss=0.02)
        for b, blk in blks.items()
    }
    markets["exchange"] = Market("exchange", "p2p", tuple(parts), fee_per_kwh=0.02, loss=0.0)
    names = list(blks)
    links = tuple(
        Link(names[i], names[(i + 1) % len(names)], 50.0, 0.01, 0.005) for i in range(len(names))
    )
    return Design(
        title="benchmark",
        currency="EUR",
        time=TimeGrid(datetime(2021, 1, 1), 1.0, n, "Europe/Oslo"),
        grid=Grid(spot + 0.05, spot),
        participants=parts,
        blocks=blks,
        markets=markets,
        dso=Dso(energy_charge_per_kwh=np.full(n, 0.04), links=links),
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(design: Design, backend: str) -> dict[str, float]:
    from pebdsl.backends import get_backend
    from pebdsl.invert import invert, price_rows
    from pebdsl.lower import lower
    from pebdsl.settle import settle

    t0 = time.perf_counter()
    ir = lower(design)
    t_lower = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = ir.stats()  # assembles the CSC matrix (counted as lowering work)
    t_assemble = time.perf_counter() - t0
    be = get_backend(backend)
    sol = be.solve(ir, price_rows=price_rows(ir))
    t0 = time.perf_counter()
    dispatch, trades = invert(design, ir, sol, be)
    t_extract = time.perf_counter() - t0
    t0 = time.perf_counter()
    settlement = settle(design, ir, sol, dispatch, trades, float(sol.objective))
    t_settle = time.perf_counter() - t0
    out = {
        "lower": t_lower + t_assemble,
        "build": sol.timings.get("build", 0.0),
        "solve": sol.timings.get("solve", 0.0),
        "extract": t_extract,
        "settle": t_settle,
        # Valid intervals of degenerate market prices (backends/intervals.py), apart from the
        # overhead ratio: work on the solver's answer, not the hand-off.
        "price_intervals": sol.timings.get("price_intervals", 0.0),
        **{f"price_{k}": float(v) for k, v in sol.price_stats.items() if k != "seconds"},
        "objective": sol.objective,
        "residual": settlement.money["residual"],
        **{k: float(v) for k, v in stats.items()},
    }
    overhead = out["lower"] + out["build"] + out["extract"] + out["settle"]
    out["overhead"] = overhead
    out["ratio"] = overhead / out["solve"] if out["solve"] > 0 else float("inf")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--backend", choices=("highs", "pyomo", "both"), default="both")
    ap.add_argument("--design", help="a .peb file to measure instead of the generated design")
    ap.add_argument("--variant", help="a variant of --design (e.g. year)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.design:
        from pebdsl.load import load

        design = load(args.design, variant=args.variant)
        what = f"{args.design}" + (f" --variant {args.variant}" if args.variant else "")
        made = "loaded"
    else:
        design = make_design(args.days)
        what, made = "generated", "generated"
    print(
        f"design ({what}): {len(design.participants)} participants, {design.n_steps} steps "
        f"of {design.dt_h:g} h ({made} in {time.perf_counter() - t0:.2f} s)"
    )
    backends = ("highs", "pyomo") if args.backend == "both" else (args.backend,)
    goals = {"highs": 0.10, "pyomo": 0.6}
    for b in backends:
        r = run(design, b)
        print(
            f"\n[{b}] variables {r['variables']:.0f}, constraints {r['constraints']:.0f}, "
            f"nonzeros {r['nonzeros']:.0f}; objective {r['objective']:.6f} {design.currency} "
            f"(money residual {r['residual']:.2e})"
        )
        for k in ("lower", "build", "solve", "extract", "settle"):
            label = {"build": "build/hand-off", "solve": "HiGHS run"}.get(k, k)
            # every stage also as a ratio to the solver's own run, measured in this run
            print(f"  {label:<16} {r[k]:8.3f} s  (x{r[k] / max(r['solve'], 1e-9):.3f} of the run)")
        print(
            f"  overhead / HiGHS run = {r['overhead']:.3f} / {r['solve']:.3f} = "
            f"{r['ratio']:.3f}  (goal ≤ {goals[b]})"
        )
        share = r["price_intervals"] / max(r["solve"], 1e-9)
        print(
            f"  price intervals  {r['price_intervals']:8.3f} s  (x{share:.2f} "
            f"of the run; rows {r.get('price_rows', 0):.0f}, degenerate sides "
            f"{r.get('price_candidates', 0):.0f}, cone LPs {r.get('price_cone_lps', 0):.0f}, "
            f"unresolved {r.get('price_unresolved', 0):.0f})"
        )
        print(f"  peak memory (max RSS so far) {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
