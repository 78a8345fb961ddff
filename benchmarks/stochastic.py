"""Benchmark of the extensive form of a two-stage stochastic design (issue 12).

The peer-sized design of `model_speed.py` (3 blocks x 10 participants with PV, private
batteries, p2p markets and DSO links; hourly) over `--days` (default 7), with a staged grid
(day-ahead = the design's prices; intraday buy 1.3 x spot + 5 ct, sell 0.7 x spot) and
`--scenarios` (default 10) scenarios drawn around it (PV 30 %, load 10 %, price 15 %;
resolve/scenarios.py). Prints the extensive form's size, the time to lower it, HiGHS's run,
the time to read every scenario back (invert + settle + kpis, as a deterministic solve would),
the peak memory (`ru_maxrss`: HiGHS's C++ memory included) and the overhead ratio (lower +
hand-off + reading) / (HiGHS run); with `--measures` also the re-solves behind EVPI and VSS.

The baseline, measured in the same run, is the expected-value design: the same design with
every scenario-valued series at its forecast, solved deterministically (one model, no
scenarios). Each of the two is measured in a fresh process (multiprocessing "spawn"), so each
peak memory is its own; the last lines are the ratios extensive form / baseline (size, time,
memory).

    python benchmarks/stochastic.py [--days 7] [--scenarios 10] [--measures] [--decompose N]

`--decompose N` also runs N iterations of progressive hedging (mpi-sppy, the `stochastic`
extra) and prints its time beside the extensive form's, with its bounds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import runpy
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pebdsl.design import DayAhead, Design


def staged_design(days: int, scenarios: int, seed: int = 7) -> Design:
    """The benchmark design with a staged grid and generated scenarios."""
    from pebdsl.resolve.scenarios import Spec, generate

    make = runpy.run_path(str(Path(__file__).with_name("model_speed.py")))["make_design"]
    d: Design = make(days)
    spot = d.grid.sell_per_kwh
    assert spot is not None
    grid = replace(
        d.grid,
        buy_per_kwh=1.3 * spot + 0.05,
        sell_per_kwh=0.7 * spot,
        day_ahead=DayAhead(d.grid.buy_per_kwh, spot),
    )
    d = replace(d, grid=grid)
    spec = Spec(
        generated={
            "count": float(scenarios),
            "seed": float(seed),
            "pv_error": 0.3,
            "load_error": 0.1,
            "price_error": 0.15,
        }
    )
    return replace(d, stochastic=generate(d, spec))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def baseline(design: Design) -> dict[str, float]:
    """The expected-value design solved alone: lower, HiGHS, read back (seconds, sizes, MiB)."""
    from pebdsl.backends import get_backend
    from pebdsl.lower import lower
    from pebdsl.solve import read_solution

    ev = replace(design, stochastic=None)
    t0 = time.perf_counter()
    ir = lower(ev)
    t_lower = time.perf_counter() - t0
    be = get_backend("highs")
    sol = be.solve(ir)
    assert sol.ok, sol.status
    t0 = time.perf_counter()
    read_solution(ev, ir, sol, be, {}, "highs")
    out = {
        "lower": t_lower,
        "build": sol.timings.get("build", 0.0),
        "solve": sol.timings.get("solve", 0.0),
        "read": time.perf_counter() - t0,
        "objective": float(sol.objective),
        **{k: float(v) for k, v in ir.stats().items()},
    }
    out["total"] = out["lower"] + out["build"] + out["solve"] + out["read"]
    out["peak_mib"] = _peak_mib()
    return out


def _child(kind: str, days: int, scenarios: int, measures: bool, q: Any) -> None:
    """Build the design and measure `kind` in this (fresh) process; put the figures on `q`."""
    d = staged_design(days, scenarios)
    q.put(baseline(d) if kind == "ev" else run(d, measures))


def measured(kind: str, days: int, scenarios: int, measures: bool = False) -> dict[str, float]:
    """`_child` in a spawned process: its own peak memory, not the parent's. Run other than as
    a script (runpy, the tests), nothing can import `_child`: measured here (peaks then
    accumulate)."""
    if __name__ != "__main__":
        d = staged_design(days, scenarios)
        return baseline(d) if kind == "ev" else run(d, measures)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(kind, days, scenarios, measures, q))
    p.start()
    out: dict[str, float] = q.get()
    p.join()
    return out


def run(design: Design, measures: bool) -> dict[str, float]:
    """Lower, solve and read the extensive form; seconds and sizes."""
    from pebdsl.backends import Solution, Status, get_backend
    from pebdsl.lower.scenarios import lower_extensive
    from pebdsl.solve import read_solution
    from pebdsl.stochastic import solve_stochastic
    from pebdsl.stochastic.extensive import EXTENSIVE_METHOD

    t0 = time.perf_counter()
    ext = lower_extensive(design)
    stats = ext.ir.stats()
    t_lower = time.perf_counter() - t0
    # The method `solve_stochastic` uses on the extensive form (interior point + crossover).
    be = get_backend("highs", EXTENSIVE_METHOD)
    sol = be.solve(ext.ir)
    assert sol.ok, sol.status
    st = design.stochastic
    assert st is not None
    t0 = time.perf_counter()
    for sc in st.scenarios:
        xs = ext.scenario_x(sol.x, sc.name)
        y = ext.scenario_dual(sol.row_dual, sc.name)
        part = Solution(Status.OPTIMAL, ext.scenario_cost(sol.x, sc.name), xs, y)
        read_solution(st.designs[sc.name], ext.scenario_irs[sc.name], part, be, {}, "highs")
    t_read = time.perf_counter() - t0
    out = {
        "lower": t_lower,
        "build": sol.timings.get("build", 0.0),
        "solve": sol.timings.get("solve", 0.0),
        "read": t_read,
        "objective": float(sol.objective),
        **{k: float(v) for k, v in stats.items()},
    }
    out["total"] = out["lower"] + out["build"] + out["solve"] + out["read"]
    out["peak_mib"] = _peak_mib()
    out["overhead"] = out["lower"] + out["build"] + out["read"]
    out["ratio"] = out["overhead"] / out["solve"] if out["solve"] > 0 else float("inf")
    if measures:
        t0 = time.perf_counter()
        r = solve_stochastic(design, read=False)
        out["measures"] = time.perf_counter() - t0
        out["evpi"], out["vss"] = r.evpi, r.vss if r.vss is not None else float("inf")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--scenarios", type=int, default=10)
    ap.add_argument("--measures", action="store_true", help="also time EVPI and VSS")
    ap.add_argument("--decompose", type=int, default=0, help="PH iterations (0: none)")
    a = ap.parse_args(argv)
    from pebdsl.stochastic.extensive import EXTENSIVE_METHOD

    d = staged_design(a.days, a.scenarios)
    base = measured("ev", a.days, a.scenarios)
    r = measured("extensive", a.days, a.scenarios, a.measures)
    print(
        f"extensive form: {len(d.participants)} participants, {a.days} d hourly, "
        f"{a.scenarios} scenarios"
    )
    print(
        f"  model: {int(r['variables'])} variables, {int(r['constraints'])} constraints, "
        f"{int(r['nonzeros'])} nonzeros"
    )
    print(
        f"  lower {r['lower']:.3f} s, hand-off {r['build']:.3f} s, HiGHS run {r['solve']:.3f} s, "
        f"read {a.scenarios} scenarios {r['read']:.3f} s (HiGHS method {EXTENSIVE_METHOD})"
    )
    print(f"  overhead / HiGHS run = {r['overhead']:.3f} / {r['solve']:.3f} = {r['ratio']:.2f}")
    print(f"  expected cost {r['objective']:.2f} EUR; peak memory {r['peak_mib']:.0f} MiB")
    print(
        f"baseline (the expected-value design, one deterministic model): "
        f"{int(base['variables'])} variables, {int(base['constraints'])} constraints, "
        f"{int(base['nonzeros'])} nonzeros; lower {base['lower']:.3f} s, hand-off "
        f"{base['build']:.3f} s, HiGHS run {base['solve']:.3f} s, read {base['read']:.3f} s; "
        f"cost {base['objective']:.2f} EUR; peak memory {base['peak_mib']:.0f} MiB"
    )
    print(
        "ratios extensive form / baseline: "
        + ", ".join(
            f"{k.replace('peak_mib', 'peak memory')} {r[k] / base[k]:.1f}x"
            for k in ("variables", "constraints", "nonzeros", "solve", "total", "peak_mib")
            if base[k] > 0
        )
    )
    if a.measures:
        print(
            f"  EVPI {r['evpi']:.2f} EUR, VSS {r['vss']:.2f} EUR "
            f"(extensive form + each scenario alone + expected value: {r['measures']:.2f} s)"
        )
    if a.decompose:
        from pebdsl.stochastic.decompose import solve_decomposed

        dec = solve_decomposed(d, rho=0.1, max_iterations=a.decompose)
        ef = r["lower"] + r["build"] + r["solve"]
        ph = sum(dec.seconds.values())
        print(
            f"  extensive form {ef:.2f} s; progressive hedging ({dec.iterations} iterations) "
            f"{ph:.2f} s: bounds [{dec.lower_bound:.2f}, {dec.upper_bound:.2f}] EUR "
            f"({dec.bound} lower bound) around {r['objective']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
