"""pebdsl against PyPSA (linopy + HiGHS) on the same design: wall time, peak memory, objective.

The design is benchmarks/model_speed.py's: 3 blocks x 10 participants over a year of hourly
steps (`--days N` for shorter runs), half of them with PV and a 10 kWh battery, a p2p market
in each block (fee 1 ct/kWh, 2 % loss), an exchange market between the blocks over three DSO
links (50 kW, 1 % loss, 0.5 ct/kWh), 200 kW block connections, an energy charge of 4 ct/kWh
on each meter's net withdrawal and grid prices following a daily spot shape.

The same LP is written in PyPSA (`pypsa_network`): per participant a home bus (load, PV,
battery as a StorageUnit) behind a meter bus; the meter's withdrawal is a link into the home
bus that costs the energy charge (and a free link back), so the charge falls on the positive
net withdrawal as in pebdsl; grid purchase and sale are two generators at the meter bus priced
buy_t and sell_t; each market is a bus per block (sales over links with efficiency 1 − loss,
purchases over links that cost the fee); each DSO link is two one-way links; the block
connection bounds Σ (purchase − sale) + the block's net exchange purchases, added to PyPSA's
linopy model as an extra constraint. Both optimal objectives are the community's total cost, so
they must agree (to 1e-6 relative, printed).

Each tool runs in a fresh subprocess, one after the other, so that each peak resident set size
(`ru_maxrss`, HiGHS's C++ memory included) is its own. Timed: pebdsl's `solve` (lower, HiGHS,
extract, settlement, KPIs, price intervals) and PyPSA's network building plus `optimize`
(linopy model, HiGHS, reading back values and duals). The design's arrays are made before the
clock starts on both sides. PyPSA is optional (`pip install pypsa`); without it the script says
so and measures pebdsl alone.

pebdsl solves with its default temporal warm start (`--warm-start auto`, docs/scale.md);
`--warm off` measures its cold solve instead.

    python benchmarks/peer_speed.py [--days 365] [--warm off|auto|7d]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIG = 1e6  # a bound no flow of this design comes near: PyPSA's stand-in for "unlimited"
# linopy hands the model to HiGHS through its Python API (no LP file): its fastest route.
IO_API = "direct"


def make_design(days: int) -> Any:
    return runpy.run_path(str(HERE / "model_speed.py"))["make_design"](days)


def pypsa_network(design: Any) -> tuple[Any, Any]:
    """The PyPSA network of `design` and its extra_functionality (the block connections).
    Only what the benchmark design uses is translated; anything else is refused."""
    import numpy as np
    import pandas as pd
    import pypsa

    d = design
    assert d.dso.capacity_charge_per_kw_month == 0 and not d.shared_batteries
    assert d.dso.charge_on == "meter" and not d.dso.flexibility and not d.products
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(d.n_steps))
    n.snapshot_weightings.loc[:, :] = d.dt_h
    charge = (
        np.zeros(d.n_steps) if d.dso.energy_charge_per_kwh is None else d.dso.energy_charge_per_kwh
    )
    names = list(d.participants)
    home, meter = [f"{p}" for p in names], [f"{p}.meter" for p in names]
    n.add("Bus", home + meter)
    n.add(
        "Load",
        [f"{p}.load" for p in names],
        bus=home,
        p_set=pd.DataFrame({f"{p}.load": d.participants[p].load.profile_kw for p in names}),
    )
    # One `add` per kind of component (PyPSA adds a list at once much faster than one by one).
    gens = [(p, g) for p in names for g in d.participants[p].generation]
    assert all(d.participants[p].flexible is None for p in names)
    assert all(d.participants[p].connection is None for p in names)
    peaks = [float(g.profile_kw.max()) or 1.0 for _, g in gens]
    gnames = [f"{p}.{g.kind}" for p, g in gens]
    n.add(
        "Generator",
        gnames,
        bus=[p for p, _ in gens],
        p_nom=peaks,
        p_max_pu=pd.DataFrame(
            {k: g.profile_kw / pk for k, (_, g), pk in zip(gnames, gens, peaks, strict=True)}
        ),
    )
    bats = [b for p in names if (b := d.participants[p].battery) is not None]
    assert all(b.charge_from == "any" and b.final_kwh is None and not b.min_soc_kwh for b in bats)
    n.add(
        "StorageUnit",
        [b.name for b in bats],
        bus=[b.owner for b in bats],
        p_nom=[b.power_kw for b in bats],
        max_hours=[b.capacity_kwh / b.power_kw for b in bats],
        efficiency_store=[b.efficiency for b in bats],
        efficiency_dispatch=[b.efficiency for b in bats],
        state_of_charge_initial=[b.initial_kwh for b in bats],
        cyclic_state_of_charge=False,
        marginal_cost=[b.throughput_cost_per_kwh for b in bats],
    )
    sell = d.grid.sell_per_kwh
    n.add(
        "Generator",
        [f"{p}.gi" for p in names],
        bus=meter,
        p_nom=BIG,
        marginal_cost=pd.DataFrame({f"{p}.gi": d.grid.buy_per_kwh for p in names}),
    )
    n.add(
        "Generator",
        [f"{p}.ge" for p in names],
        bus=meter,
        p_nom=BIG,
        p_min_pu=-1.0,
        p_max_pu=0.0,
        marginal_cost=pd.DataFrame({f"{p}.ge": sell for p in names}),
    )
    n.add(
        "Link",
        [f"{p}.meter_in" for p in names],
        bus0=meter,
        bus1=home,
        p_nom=BIG,
        marginal_cost=pd.DataFrame({f"{p}.meter_in": charge for p in names}),
    )
    n.add("Link", [f"{p}.meter_out" for p in names], bus0=home, bus1=meter, p_nom=BIG)
    block_of = {p: d.participants[p].block for p in names}
    exchange: dict[str, list[tuple[str, str]]] = {b: [] for b in d.blocks}  # block -> links
    for m in d.markets.values():
        assert m.uniform and not m.batteries and m.products == ("energy",)
        blocks = sorted({block_of[p] for p in m.members})
        nodes = {b: f"{m.name}@{b}" for b in blocks}
        n.add("Bus", list(nodes.values()))
        mem = list(m.members)
        at = [nodes[block_of[p]] for p in mem]
        n.add(
            "Link",
            [f"{m.name}.sell.{p}" for p in mem],
            bus0=[f"{p}.meter" for p in mem],
            bus1=at,
            p_nom=BIG,
            efficiency=1.0 - m.loss,
        )
        n.add(
            "Link",
            [f"{m.name}.buy.{p}" for p in mem],
            bus0=at,
            bus1=[f"{p}.meter" for p in mem],
            p_nom=BIG,
            marginal_cost=m.fee_per_kwh,
        )
        if len(blocks) > 1:
            for p in mem:
                exchange[block_of[p]] += [(f"{m.name}.buy.{p}", f"{m.name}.sell.{p}")]
        if len(blocks) > 1:
            for lk in d.dso.links:
                for a, b in ((lk.a, lk.b), (lk.b, lk.a)):
                    n.add(
                        "Link",
                        f"{m.name}.flow.{a}->{b}",
                        bus0=nodes[a],
                        bus1=nodes[b],
                        p_nom=BIG if lk.capacity_kw is None else lk.capacity_kw,
                        efficiency=1.0 - lk.loss,
                        marginal_cost=lk.fee_per_kwh,
                    )
            assert len(d.dso.links) > 0, "markets between blocks without links: one node"
    members = {b: [p for p in names if block_of[p] == b] for b in d.blocks}

    def connections(net: Any, snapshots: Any) -> None:
        """−export_b ≤ Σ_(p∈b) (gi − ge) + exchange purchases − exchange sales ≤ import_b
        (loss 0 on the exchange market here, else sales would count (1 − loss)·sell)."""
        mdl = net.model
        gen, link = mdl.variables["Generator-p"], mdl.variables["Link-p"]
        for b, blk in d.blocks.items():
            c = blk.connection
            if c is None:
                continue
            grid = [f"{p}.gi" for p in members[b]] + [f"{p}.ge" for p in members[b]]
            expr = gen.sel(name=grid).sum("name")
            if exchange[b]:
                buys, sells = zip(*exchange[b], strict=True)
                expr = expr + link.sel(name=list(buys)).sum("name")
                expr = expr - link.sel(name=list(sells)).sum("name")
            if c.import_kw is not None:
                mdl.add_constraints(expr <= c.import_kw, name=f"connection_import_{b}")
            if c.export_kw is not None:
                mdl.add_constraints(expr >= -c.export_kw, name=f"connection_export_{b}")

    for m in d.markets.values():
        if len({block_of[p] for p in m.members}) > 1:
            assert m.loss == 0.0
    return n, connections


def _peak_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child(tool: str, days: int, warm: str = "auto") -> dict[str, Any]:
    """One tool's run in this (fresh) process."""
    import numpy  # noqa: F401  (imports before the baseline: they are no part of the run)
    import pandas  # noqa: F401

    if tool == "pypsa":
        import pypsa  # noqa: F401
    else:
        import pebdsl.kpis  # noqa: F401
        from pebdsl import solve

    design = make_design(days)
    base = _peak_kib()
    t0 = time.perf_counter()
    if tool == "pypsa":
        import logging

        logging.disable(logging.INFO)
        net, extra = pypsa_network(design)
        built = time.perf_counter() - t0
        status, condition = net.optimize(
            solver_name="highs", extra_functionality=extra, io_api=IO_API
        )
        assert (status, condition) == ("ok", "optimal"), (status, condition)
        objective = float(net.objective)
        detail = {"build": built, "optimize": time.perf_counter() - t0 - built}
        columns = float(net.model.nvars)
    else:
        r = solve(design, warm=warm)
        objective = float(r.objective)
        detail = {k: float(v) for k, v in r.timings.items()}
        columns = float(r.model_stats.get("variables", 0))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_kib": _peak_kib(),
        "base_kib": base,
        "objective": objective,
        "columns": columns,
        "detail": detail,
    }


def measure(tool: str, days: int, warm: str = "auto") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", tool, "--days", str(days), "--warm", warm]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--warm", default="auto", help="pebdsl's --warm-start (default auto)")
    ap.add_argument("--child", choices=("pebdsl", "pypsa"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.days, args.warm)))
        return 0
    try:
        import pypsa  # noqa: F401

        tools = ("pebdsl", "pypsa")
    except ImportError:
        print("PyPSA is not installed (pip install pypsa): measuring pebdsl alone")
        tools = ("pebdsl",)
    res = {t: measure(t, args.days, args.warm) for t in tools}
    print(
        f"design: 3 blocks x 10 participants, {args.days * 24} hourly steps; "
        f"pebdsl --warm-start {args.warm}"
    )
    print(f"{'tool':<8} {'columns':>10} {'seconds':>9} {'peak MiB':>9} {'run MiB':>8} objective")
    for t, r in res.items():
        run_mib = (r["peak_kib"] - r["base_kib"]) / 1024
        print(
            f"{t:<8} {int(r['columns']):>10} {r['seconds']:>9.1f} {r['peak_kib'] / 1024:>9.0f} "
            f"{run_mib:>8.0f} {r['objective']:.9f}"
        )
        print("         " + ", ".join(f"{k} {v:.2f} s" for k, v in r["detail"].items()))
    if len(res) == 2:
        a, b = res["pebdsl"], res["pypsa"]
        rel = abs(a["objective"] - b["objective"]) / max(abs(b["objective"]), 1e-9)
        print(
            f"pebdsl / PyPSA: wall time {a['seconds'] / b['seconds']:.2f}x (goal <= 0.5), "
            f"peak memory {a['peak_kib'] / b['peak_kib']:.2f}x (goal <= 0.5); "
            f"objective difference {rel:.1e} relative (goal <= 1e-6)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
