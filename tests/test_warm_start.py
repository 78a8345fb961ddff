"""The temporal warm start (backends/warm.py): a basis of the full LP from its time chunks solved
alone. It changes where HiGHS's simplex starts, never the optimum it proves: the warm-started
solve gives the cold solve's objective and market prices, and falls back to the cold solve
whenever a chunk is not optimal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import highspy
import numpy as np
import pytest
from model_helpers import coupled, random_blocks

from pebdsl.backends import get_backend
from pebdsl.backends.highs import solve as highs_solve
from pebdsl.backends.highs import to_highs_lp
from pebdsl.backends.intervals import steps
from pebdsl.backends.session import new_highs, pass_model
from pebdsl.backends.warm import build, chunks, levels, parse
from pebdsl.design import (
    Connection,
    Design,
    Investment,
)
from pebdsl.diagnostics import PebdslError
from pebdsl.invert import price_rows
from pebdsl.ir import Expr, ModelIR
from pebdsl.lower import lower
from pebdsl.solve import solve

BASIC = highspy.HighsBasisStatus.kBasic


def tiny(cap_cost: float | None = None) -> ModelIR:
    """Four hourly steps, load 1 kWh each, buy prices 1, 3, 1, 3; a battery (net discharge
    `net[t]` in [−1, 1], `soc[t]` in [0, 2], soc[t] = soc[t−1] − net[t], empty at the start);
    a monthly peak `peak` (step-less, 0.5 per kW) with buy[t] ≤ peak.
    Rows: balance[t]: buy + net = 1 (4), soc[t] (4), peak[t]: buy − peak ≤ 0 (4).
    With `cap_cost`, a step-less size `cap` in [0, 5] costing `cap_cost` and a sale
    `sell[t]` earning 1 per kWh with sell[t] ≤ cap (and no other bound: a chunk alone, without
    the rows to `cap`, sells without limit)."""
    ir = ModelIR(4, 1.0)
    buy = ir.add_var("buy", ["p"], cost=np.array([[1.0, 3.0, 1.0, 3.0]]))
    net = ir.add_var("net", ["p"], lower=-1.0, upper=1.0)
    soc = ir.add_var("soc", ["p"], lower=0.0, upper=2.0)
    peak = ir.add_var("peak", ["p"], 1, cost=0.5)
    bal = Expr(1, 4).add(buy).add(net)
    ir.add_con("balance", ["p"], bal, lower=1.0, upper=1.0)
    lag = Expr(1, 4).add(soc).add(net)
    lag.add(soc, -1.0, var_steps=np.arange(3), row_steps=np.arange(1, 4))
    ir.add_con("soc", ["p"], lag, lower=0.0, upper=0.0)
    pk = Expr(1, 4).add(buy).add(peak, -1.0, var_steps=np.zeros(4, dtype=int))
    ir.add_con("peak", ["p"], pk, upper=0.0)
    if cap_cost is not None:
        sell = ir.add_var("sell", ["p"], cost=-1.0)
        cap = ir.add_var("cap", ["p"], 1, upper=5.0, cost=cap_cost)
        lim = Expr(1, 4).add(sell).add(cap, -1.0, var_steps=np.zeros(4, dtype=int))
        ir.add_con("cap", ["p"], lim, upper=0.0)
    return ir


def test_chunks_and_basis_of_a_hand_made_lp() -> None:
    """Chunks of 2 steps: buy, net and soc of steps 0–1 are chunk 0, of steps 2–3 chunk 1,
    `peak` none (−1). balance[0..3] → 0, 0, 1, 1; soc[0], soc[1] → 0; soc[2] joins soc[1]
    (chunk 0) and soc[2] (chunk 1): coupling; soc[3] → 1; every peak row touches `peak`:
    coupling. So 5 coupling rows, all basic; chunk 0 has 4 rows and chunk 1 3, so their
    bases hold 4 and 3 basic variables: 4 + 3 + 5 = 12 = the row count. `peak` sits at its
    lower bound 0. HiGHS takes the basis and ends at the optimum found by hand: charge 1 kWh in
    each cheap hour (buy 2), discharge it in the dear one (buy 0): 2 + 0 + 2 + 0 = 4 for
    energy, peak 2 × 0.5 = 1, objective 5 (each kWh moved saves 3 − 1 and costs 0.5 of peak
    per 1 kWh: 8.5 − 3.5 x, x at its limit 1)."""
    ir = tiny()
    col_chunk, row_chunk = chunks(ir, 2)
    assert col_chunk.tolist() == [0, 0, 1, 1] * 3 + [-1]
    assert row_chunk.tolist() == [0, 0, 1, 1] + [0, 0, -1, 1] + [-1] * 4
    wb = build(ir, [2])
    assert wb is not None
    assert wb.stats["chunks"] == 2 and wb.stats["coupling_rows"] == 5
    cols, rows = list(wb.basis.col_status), list(wb.basis.row_status)
    assert sum(s == BASIC for s in cols + rows) == ir.n_rows == 12
    assert all(rows[i] == BASIC for i in (6, 8, 9, 10, 11))
    assert cols[12] == highspy.HighsBasisStatus.kLower
    h = new_highs()
    pass_model(h, to_highs_lp(ir))
    assert h.setBasis(wb.basis) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(5.0, abs=1e-9)
    sol = highs_solve(ir, warm="2h")
    assert sol.objective == pytest.approx(5.0, abs=1e-9) and "warm_start" in sol.timings


def test_an_unbounded_chunk_falls_back_to_the_cold_solve() -> None:
    """With the sale limited only by the step-less size `cap` (tiny's docstring), each chunk
    alone sells without limit (unbounded): no warm basis, the solve runs cold. The whole LP
    is bounded: cap = 5 at 0.2 each (1.0) earns 4 × 5 = 20, so the objective is 5 + 1 − 20 =
    −14."""
    ir = tiny(cap_cost=0.2)
    assert build(ir, [2]) is None
    sol = highs_solve(ir, warm="2h")
    assert sol.ok and "warm_start" not in sol.timings
    assert sol.objective == pytest.approx(-14.0, abs=1e-9)


def make_design(seed: int, hours: int = 96, start: datetime = datetime(2021, 6, 28)) -> Design:
    """3 blocks of 4 participants (every other one with PV and a battery, every third with a
    flexible load), a p2p market per block, an exchange over two DSO links, block
    connections, an energy charge and a monthly capacity charge (its peaks are step-less
    columns; the horizon spans June and July, so two per participant), one PV size to invest
    in (a step-less column); random loads, sun and spot prices."""
    d = coupled(random_blocks(seed, hours=hours, start=start, flexible=True, title=f"warm {seed}"))
    invest = {"b0p0.pv.peak": Investment("b0p0.pv.peak", "kWp", 12.0, 0.002)}
    return replace(d, dso=replace(d.dso, capacity_charge_per_kw_month=2.0), investments=invest)


@pytest.mark.parametrize(("seed", "warm"), [(1, "1d"), (2, "1d"), (3, "12h"), (4, "1d+2d")])
def test_warm_start_gives_the_cold_optimum(seed: int, warm: str) -> None:
    """The LP cold (`warm="off"`) and warm: the warm start ran (its time is in the timings),
    the objective agrees to 1e-9 relative, and so does the valid dual interval [lo, hi] of
    every price row (the set of optimal duals projected on the row: a property of the LP, not
    of the basis; 1e-9), all computed exactly (no side kept a solver's dual).
    The whole pipeline: the objective and total cost agree (1e-9 relative), each p2p market's
    price (one node: the midpoint of its price row's interval) to 1e-9, and the money closes
    in both (no residual). The grid's and the DSO's bills agree (1e-7), and so does the sum
    over participants and market operators. A single participant's or operator's bill need
    not, nor the exchange's reported price (the volume-weighted mean of its nodes' prices):
    where peers trade at the same price and fee, which of them sells a kWh, and through
    which node, is an arbitrary choice among equally cheap optima (seen here: up to ~2e-3 EUR
    moved between two members of a block), as it is between two cold solves of the same LP
    with its columns in another order."""
    d = make_design(seed)
    ir = lower(d)
    rows = price_rows(ir)
    # step-less columns: two monthly peaks per participant and the PV size, at least
    assert (steps(ir)[0] < 0).sum() >= 2 * 12 + 1
    a = highs_solve(ir, price_rows=rows, warm="off")
    b = highs_solve(ir, price_rows=rows, warm=warm)
    assert "warm_start" in b.timings and "warm_start" not in a.timings
    assert b.objective == pytest.approx(a.objective, rel=1e-9)
    for s in (a, b):
        assert s.price_lo is not None and s.price_hi is not None and s.price_inexact is not None
        assert s.price_inexact.size == 0
    assert a.price_lo is not None and b.price_lo is not None
    assert a.price_hi is not None and b.price_hi is not None
    np.testing.assert_allclose(b.price_lo[rows], a.price_lo[rows], rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.price_hi[rows], a.price_hi[rows], rtol=0, atol=1e-9)

    cold = solve(d, warm="off")
    hot = solve(d, warm=warm)
    assert "warm_start" in hot.run.timings and "warm_start" not in cold.run.timings
    assert hot.objective == pytest.approx(cold.objective, rel=1e-9)
    assert hot.total_cost == pytest.approx(cold.total_cost, rel=1e-9)
    for name in d.markets:
        if name != "exchange":
            np.testing.assert_allclose(
                hot.markets_ts[(name, "price")].to_numpy(),
                cold.markets_ts[(name, "price")].to_numpy(),
                atol=1e-9,
            )
    for r in (cold, hot):
        assert abs(r.money["residual"]) < 1e-6, r.money
    assert cold.bills is not None and hot.bills is not None
    fixed = ["grid", "dso"]
    np.testing.assert_allclose(
        hot.bills["total"].loc[fixed].to_numpy(), cold.bills["total"].loc[fixed], atol=1e-7
    )
    rest = [k for k in cold.bills.index if k not in fixed]
    assert set(rest) == {*d.participants, *d.markets}
    assert hot.bills["total"].loc[rest].sum() == pytest.approx(
        cold.bills["total"].loc[rest].sum(), abs=1e-7
    )


def test_an_infeasible_design_is_diagnosed_as_when_cold() -> None:
    """Block connections of 0.1 kW cannot carry the night's load (no sun, empty batteries at
    the start): the first chunk is infeasible, the warm start gives up, and the cold solve
    reports E501 exactly as without the warm start."""
    d = make_design(5)
    d = replace(
        d,
        blocks={k: replace(b, connection=Connection(0.1, 0.1)) for k, b in d.blocks.items()},
    )
    assert build(lower(d), [24]) is None
    codes = []
    for warm in ("off", "1d"):
        with pytest.raises(PebdslError) as e:
            solve(d, warm=warm)
        codes.append(e.value.diagnostics[0].code)
    assert codes == ["E501", "E501"]


def test_auto_needs_a_long_horizon_and_bad_specs_are_e507() -> None:
    """`auto` is off below 14 days (13 days of hourly steps: none); from 14 days its chunks
    are horizon / 50 days long, rounded, within [2, 7] days: 14 and 90 days → 2 days (48
    steps; 96 at half-hourly steps), 200 days → 4 days (96 steps), a year → 7 (168 steps).
    A chunk length converts by the step length; anything else is E507 before a solve."""
    assert levels("auto", 13 * 24, 1.0) == []
    assert levels("auto", 14 * 24, 1.0) == [48]
    assert levels("auto", 90 * 48, 0.5) == [96]
    assert levels("auto", 200 * 24, 1.0) == [96]
    assert levels("auto", 365 * 24, 1.0) == [168]
    assert levels("12h+7d", 24, 1.0) == [12, 168]
    assert levels("off", 10**6, 1.0) == []
    for bad in ("fast", "0d", "2w", "-1d"):
        with pytest.raises(PebdslError) as e:
            parse(bad)
        assert e.value.diagnostics[0].code == "E507"
    with pytest.raises(PebdslError):
        get_backend("highs", warm="2x")


def test_the_time_limit_covers_the_chunks() -> None:
    """A time limit of 0 s stops the first chunk (not optimal: no warm basis) and then the
    whole solve, with the budget the chunks left (none): status time_limit, as cold."""
    ir = lower(make_design(1))
    for warm in ("off", "1d"):
        sol = highs_solve(ir, options={"time_limit": 0.0}, warm=warm)
        assert sol.status == "time_limit" and "warm_start" not in sol.timings


def test_cli_warm_start_option() -> None:
    """`pebdsl solve --warm-start fast` is E507 (exit 1, no traceback); `--warm-start off` and
    `12h` solve the one-day sunny street (the 12-hour chunks' basis: the same total cost)."""
    from pathlib import Path

    from typer.testing import CliRunner

    from pebdsl.cli import app

    file = str(Path(__file__).resolve().parent.parent / "designs" / "sunny_street.peb")
    runner = CliRunner()
    bad = runner.invoke(app, ["solve", file, "--warm-start", "fast"])
    assert bad.exit_code == 1 and "E507" in bad.output and "Traceback" not in bad.output
    costs = []
    for warm in ("off", "12h"):
        ok = runner.invoke(app, ["solve", file, "--json", "--warm-start", warm])
        assert ok.exit_code == 0, ok.output
        costs.append(json.loads(ok.stdout)["total_cost"]["value"])
    assert costs[1] == pytest.approx(costs[0], rel=1e-9)
