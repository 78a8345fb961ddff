"""HiGHS strategies measured on pebdsl's models: method, crossover, presolve, threads, warm start.

For each design (benchmarks/model_speed.py's 3 x 10 generated design over `--days`, or a .peb
file with `--design`), the LP pebdsl lowers is handed to HiGHS once per strategy, each on a
fresh `Highs` object, and the table prints the HiGHS run time, the iterations, the objective
and whether a basis came back (market prices need one: the valid dual intervals of
backends/intervals.py are read from the basis; without it pebdsl falls back to the plain dual,
price rule "dual"). Strategies:

    choose          HiGHS's default (dual simplex after presolve): pebdsl's cold solve
    dual-simplex    solver=simplex, simplex_strategy=1 (serial dual)
    dual-pami       simplex_strategy=2 (parallel dual, `--threads`)
    primal-simplex  simplex_strategy=4
    ipm+crossover   solver=ipm, run_crossover=on (a basis: prices as with the simplex)
    ipm             solver=ipm, run_crossover=off (no basis: price rule "dual" only)
    no-presolve     choose with presolve=off
    devex           choose with simplex_dual_edge_weight_strategy=1 (Devex pricing)
    steepest-edge   ... =2 (dual steepest edge)
    scale-off       simplex_scale_strategy=0 (no scaling); scale-equil 2, scale-max 4

Warm start (`--warm`): a sweep-like change of costs (the p2p fees, x `--fee-factor`) solved
cold and from the optimal basis of the unchanged model (same columns and rows, so the basis
fits): the time and iterations of both.

Temporal warm start (`--chunks 1,2,7`: chunk lengths in days, `+` joins levels such as 2+14):
the chunks solved alone (backends/warm.py) and the full LP from their basis, beside the cold
`choose` run of the table: chunk seconds and iterations, final seconds and iterations, total.

    python benchmarks/solver_strategy.py [--days 30] [--threads 1] [--warm] [--chunks 1,2,7]
    python benchmarks/solver_strategy.py --design designs/trondheim.peb --variant year
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

STRATEGIES: dict[str, dict[str, Any]] = {
    "choose": {},
    "dual-simplex": {"solver": "simplex", "simplex_strategy": 1},
    "dual-pami": {"solver": "simplex", "simplex_strategy": 2},
    "primal-simplex": {"solver": "simplex", "simplex_strategy": 4},
    "ipm+crossover": {"solver": "ipm", "run_crossover": "on"},
    "ipm": {"solver": "ipm", "run_crossover": "off"},
    "no-presolve": {"presolve": "off"},
    # dual simplex pricing (HiGHS's default -1 chooses) and scaling (default 1 chooses)
    "devex": {"simplex_dual_edge_weight_strategy": 1},
    "steepest-edge": {"simplex_dual_edge_weight_strategy": 2},
    "scale-off": {"simplex_scale_strategy": 0},
    "scale-equil": {"simplex_scale_strategy": 2},
    "scale-max": {"simplex_scale_strategy": 4},
}


def _highs(lp: Any, options: dict[str, Any], threads: int | None) -> Any:
    from pebdsl.backends.highs import new_highs, pass_model

    h = new_highs()
    if threads is not None:
        # HiGHS's thread pool is made once per process: a later run asking for another
        # count fails ("Not Set"), so the count is only set when asked for.
        h.setOptionValue("threads", threads)
    for k, v in options.items():
        h.setOptionValue(k, v)
    pass_model(h, lp)
    return h


def run_one(
    lp: Any, options: dict[str, Any], threads: int | None, basis: Any = None
) -> dict[str, Any]:
    """One HiGHS run: seconds, iterations, objective, basis validity, status."""
    h = _highs(lp, options, threads)
    if basis is not None:
        h.setBasis(basis)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    info = h.getInfo()
    return {
        "seconds": seconds,
        "status": h.modelStatusToString(h.getModelStatus()),
        "objective": float(info.objective_function_value),
        "simplex_it": int(info.simplex_iteration_count),
        "ipm_it": int(info.ipm_iteration_count),
        "basis": bool(info.basis_validity),
        "h": h,
    }


def design_of(args: argparse.Namespace) -> Any:
    if args.design:
        from pebdsl.load import load

        return load(args.design, variant=args.variant)
    return runpy.run_path(str(HERE / "model_speed.py"))["make_design"](args.days)


def _lp(design: Any) -> tuple[Any, int]:
    from pebdsl.backends.highs import to_highs_lp
    from pebdsl.lower import lower

    ir = lower(design)
    return to_highs_lp(ir), ir.n_cols


def warm(design: Any, factor: float, threads: int | None) -> None:
    """The p2p fees x factor, solved cold and from the unchanged model's basis."""
    markets = {k: replace(m, fee_per_kwh=m.fee_per_kwh * factor) for k, m in design.markets.items()}
    changed = replace(design, markets=markets)
    lp0, _ = _lp(design)
    lp1, _ = _lp(changed)
    base = run_one(lp0, {"solver": "simplex"}, threads)
    cold = run_one(lp1, {"solver": "simplex"}, threads)
    hot = run_one(lp1, {"solver": "simplex"}, threads, basis=base["h"].getBasis())
    print(f"\nwarm start: market fees x{factor:g} after solving the unchanged model")
    for name, r in (("unchanged", base), ("cold", cold), ("from basis", hot)):
        print(
            f"  {name:<11} {r['seconds']:8.2f} s  {r['simplex_it']:>8} simplex iterations  "
            f"objective {r['objective']:.6f}"
        )
    gain = cold["seconds"] / max(hot["seconds"], 1e-9)
    diff = abs(cold["objective"] - hot["objective"])
    print(f"  cold / warm = {gain:.2f}x; objectives differ by {diff:.1e}")


def temporal(design: Any, lp: Any, specs: str, threads: int | None) -> None:
    """Chunks of each length solved alone, then the full LP from their basis."""
    from pebdsl.backends.warm import build
    from pebdsl.lower import lower

    ir = lower(design)
    steps_per_day = round(24.0 / ir.dt_h)
    print("\ntemporal warm start (chunks solved alone, then the full LP from their basis)")
    print(f"{'chunks':<8} {'chunks s':>8} {'chunk it':>9} {'final s':>8} {'final it':>9} total s")
    for spec in specs.split(","):
        levels = [round(float(p) * steps_per_day) for p in spec.split("+")]
        wb = build(ir, levels)
        if wb is None:
            print(f"{spec + 'd':<8} no basis (a chunk not optimal, or a single chunk)")
            continue
        r = run_one(lp, {}, threads, basis=wb.basis)
        t = wb.stats["chunk_seconds"]
        print(
            f"{spec + 'd':<8} {t:>8.2f} {int(wb.stats['chunk_iterations']):>9} "
            f"{r['seconds']:>8.2f} {r['simplex_it']:>9} {t + r['seconds']:>7.2f}  "
            f"objective {r['objective']:.9f} {r['status']}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--design", help="a .peb file instead of the generated design")
    ap.add_argument("--variant")
    ap.add_argument("--threads", type=int, help="HiGHS threads (default: HiGHS's own)")
    ap.add_argument("--only", help="comma-separated strategies (default: all)")
    ap.add_argument("--warm", action="store_true", help="also measure basis reuse")
    ap.add_argument("--fee-factor", type=float, default=2.0)
    ap.add_argument("--chunks", help="temporal warm start: chunk lengths in days, e.g. 1,2,7")
    args = ap.parse_args(argv)
    design = design_of(args)
    lp, n_cols = _lp(design)
    names = args.only.split(",") if args.only else list(STRATEGIES)
    print(
        f"design: {len(design.participants)} participants, {design.n_steps} steps, "
        f"{n_cols} columns; threads {args.threads}"
    )
    print(f"{'strategy':<15} {'seconds':>8} {'simplex it':>10} {'ipm it':>7} basis  objective")
    ref = None
    for name in names:
        r = run_one(lp, STRATEGIES[name], args.threads)
        ref = r["objective"] if ref is None else ref
        print(
            f"{name:<15} {r['seconds']:>8.2f} {r['simplex_it']:>10} {r['ipm_it']:>7} "
            f"{'yes' if r['basis'] else 'no ':<5}  {r['objective']:.9f} "
            f"(Δ {abs(r['objective'] - ref):.1e}) {r['status']}"
        )
    if args.warm:
        warm(design, args.fee_factor, args.threads)
    if args.chunks:
        temporal(design, lp, args.chunks, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
