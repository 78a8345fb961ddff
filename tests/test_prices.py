"""Degenerate local prices follow a stated rule: the midpoint of the valid interval.

With `prices="midpoint"` (the default; `--prices dual` keeps the solver's pick):
when a market clears exactly at a kink, every price in an interval [left, right] is a valid
dual of the market balance (left/right = the derivative of the optimal cost with respect to
that row's right-hand side from below/above); HiGHS returns one endpoint of its choice. The
price is the midpoint of that interval (backends/intervals.py, docs/model.md "Extraction and
settlement"), so bills do not depend on the solver's pick.

The shared design (`kink`), three hourly steps, grid buy 0.30 and sell 0.10 EUR/kWh, no fee
and no loss, alice has PV, bob only load:
- step 0, exact clearing: alice load 1 kW, PV 3 kW (surplus 2 kW), bob load 2 kW. Alice
  sells 2 kW to bob. One more kW to be delivered than received (right-hand side + 1) needs an
  import at 0.30: right derivative 0.30; one kW more received than delivered (− 1) leaves bob
  1 kW to export at 0.10: left derivative 0.10. Interval [0.10, 0.30], price 0.20.
- step 1, no trade and no energy: alice load 1 kW, PV 1 kW; bob load 0. The same two moves
  cost an import (0.30) or earn an export (0.10): interval [0.10, 0.30] — the gap between the
  grid's sell and buy prices — price 0.20, volume 0.
- step 2, not degenerate: alice load 1 kW, PV 4 kW (surplus 3 kW), bob load 2 kW. Alice sells
  2 kW and exports 1 kW. One more kW delivered than received is one kW less exported
  (+0.10 per kW); one kW more received than delivered is one kW less sent, so one kW more
  exported (−0.10 per kW): both derivatives 0.10, price 0.10 (unique, as before).
Bills: bob pays 2 kWh × 0.20 (step 0) + 2 kWh × 0.10 (step 2) = 0.60 EUR in all; alice receives
0.40 (step 0) + 3 kWh × 0.10 (step 2: 2 kWh to bob and 1 kWh exported) = 0.70 EUR. (In step 2
alice may also sell all 3 kW and bob pass 1 kW on to the grid at the same cost — the LP does
not choose — so the tests check totals, which are the same either way.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_helpers import design, market, participant

from pebdsl.backends import solve_ir
from pebdsl.design import Design
from pebdsl.invert import price_rows
from pebdsl.results import Results
from pebdsl.solve import solve


def kink(kind: str) -> Design:
    extra = {}
    if kind == "pair":
        # Pair fees force the per-pair form (no market balance row): prices come from the
        # traders' own balances. The fee is on bob -> alice only, a direction nobody uses.
        extra = {"pair_fees_per_kwh": {("bob", "alice"): 0.05}}
    mtype = "pool" if kind == "pool" else "p2p"
    return design(
        [
            participant("alice", 3, load=[1.0, 1.0, 1.0], pv=[3.0, 1.0, 4.0]),
            participant("bob", 3, load=[2.0, 0.0, 2.0]),
        ],
        n=3,
        buy=0.30,
        sell=0.10,
        markets=[market("m", ["alice", "bob"], type=mtype, **extra)],
    )


def price(res: Results) -> np.ndarray:
    return res.markets_ts[("m", "price")].to_numpy()


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
@pytest.mark.parametrize("kind", ["pool", "p2p"])
def test_exact_clearing_midpoint(kind: str, backend: str) -> None:
    """Pool and compact p2p: prices [0.20, 0.20, 0.10] (module docstring), bills follow."""
    res = solve(kink(kind), backend=backend, prices="midpoint")
    np.testing.assert_allclose(price(res), [0.20, 0.20, 0.10], atol=1e-9)
    np.testing.assert_allclose(res.markets_ts[("m", "volume")].to_numpy()[:2], [2.0, 0.0])
    bills = res.bills
    assert bills is not None
    assert bills.loc["bob", "total"] == pytest.approx(0.60)
    assert bills.loc["alice", "total"] == pytest.approx(-0.70)
    assert bills.loc["bob", "grid_purchases"] == pytest.approx(0.0)
    assert res.kpis["markets"]["m"]["price_rule"] == "midpoint"
    assert abs(res.money["residual"]) < 1e-6


def test_per_pair_p2p_uses_balance_midpoints() -> None:
    """Per-pair p2p (no market row): each trader's valuation is the midpoint of its balance
    dual's interval. Step 0: alice's surplus is sold exactly; one more kW of alice's load costs
    an import (0.30), one less earns an export (0.10): [0.10, 0.30]; bob's likewise (one more
    kW imported, one less leaves alice 1 kW to export). Both 0.20: the pair price is 0.20.
    Step 2: alice exports, both valuations 0.10. Bob pays 2 × 0.20 + 2 × 0.10 = 0.60."""
    res = solve(kink("pair"), prices="midpoint")
    bills = res.bills
    assert bills is not None
    assert bills.loc["bob", "total"] == pytest.approx(0.60)
    assert bills.loc["alice", "total"] == pytest.approx(-0.70)
    assert res.kpis["markets"]["m"]["price_rule"] == "midpoint"
    np.testing.assert_allclose(price(res)[[0, 2]], [0.20, 0.10], atol=1e-9)


@pytest.mark.parametrize("stage", ["bulk", "windows"])
def test_interval_endpoints(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interval itself: [0.10, 0.30] in steps 0 and 1, [0.10, 0.10] in step 2 (×Δt = 1 h),
    whatever endpoint the solver's dual sits on. Both stages of backends/intervals.py give it:
    the one cone LP per side for all rows ("bulk"), and, with that stage switched off, the
    per-step windows that handle the rows it cannot certify ("windows")."""
    from pebdsl.backends import intervals

    if stage == "windows":
        monkeypatch.setattr(intervals, "_bulk_in_place", lambda *a: {})
    d = kink("pool")
    from pebdsl.lower import lower

    ir = lower(d)
    rows = price_rows(ir)
    sol = solve_ir(ir, price_rows=rows)
    assert sol.price_lo is not None and sol.price_hi is not None
    np.testing.assert_allclose(sol.price_lo[rows], [0.10, 0.10, 0.10], atol=1e-9)
    np.testing.assert_allclose(sol.price_hi[rows], [0.30, 0.30, 0.10], atol=1e-9)
    assert sol.row_dual[rows][2] == pytest.approx(0.10)
    assert sol.price_rule == "midpoint"
    # Steps 0 and 1 each have one degenerate side (the other is the dual HiGHS returned);
    # the bulk stage certifies both, or none when switched off.
    assert sol.price_stats["candidates"] == 2.0
    assert sol.price_stats.get("bulk", 0.0) == (0.0 if stage == "windows" else 2.0)


def test_no_basis_keeps_the_dual() -> None:
    """PDLP leaves no simplex basis: prices stay the solver's dual and say so. In step 2 the
    dual is unique (0.10); the rule recorded is "dual"."""
    res = solve(kink("pool"), solver="pdlp", prices="midpoint")
    assert res.kpis["markets"]["m"]["price_rule"] == "dual"
    assert price(res)[2] == pytest.approx(0.10, abs=1e-4)


def test_price_rule_in_results_json() -> None:
    """results.json markets[m] carries price_rule."""
    from pebdsl.present.output import jsonable, results_json

    doc = json.loads(json.dumps(jsonable(results_json(solve(kink("pool"), prices="midpoint")))))
    assert doc["markets"]["m"]["price_rule"] == "midpoint"


def test_default_is_midpoint_and_dual_on_request() -> None:
    """Without `prices` the price is the midpoint (0.20 in step 0). With `prices="dual"` it is
    the solver's dual: in step 0 one endpoint of [0.10, 0.30] (whichever HiGHS picks), never
    0.20; step 2 is unique, 0.10. The rule recorded is "dual", and money still balances
    (settlement on any valid dual does)."""
    assert price(solve(kink("pool")))[0] == pytest.approx(0.20)
    res = solve(kink("pool"), prices="dual")
    p = price(res)
    assert min(abs(p[0] - 0.10), abs(p[0] - 0.30)) < 1e-9
    assert p[2] == pytest.approx(0.10)
    assert res.kpis["markets"]["m"]["price_rule"] == "dual"
    assert abs(res.money["residual"]) < 1e-6


def test_unknown_price_rule_is_e503() -> None:
    """A price rule other than midpoint|dual is a coded error, not a traceback."""
    from pebdsl.diagnostics import PebdslError

    with pytest.raises(PebdslError) as e:
        solve(kink("pool"), prices="middle")
    assert e.value.diagnostics[0].code == "E503"


def test_cli_prices_switch() -> None:
    """`pebdsl solve FILE --prices midpoint --json` (the default) records the rule per market;
    `--prices dual` records "dual"."""
    from pathlib import Path

    from typer.testing import CliRunner

    from pebdsl.cli import app

    sunny = Path(__file__).resolve().parents[1] / "designs" / "sunny_street.peb"
    runner = CliRunner()
    for rule in ("midpoint", "dual"):
        out = runner.invoke(app, ["solve", str(sunny), "--prices", rule, "--json"])
        assert out.exit_code == 0, out.output
        doc = json.loads(out.stdout)
        rules = {m["price_rule"] for m in doc["markets"].values()}
        assert rules and rules <= (
            {"midpoint", "midpoint_partial"} if rule == "midpoint" else {"dual"}
        )


def test_window_infeasible_side_is_unbounded_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window's cone LP relaxes the whole one (a subset of its rows, every column within
    its cone bounds), so a side with no feasible move in a narrow window has none at all: it is
    settled as unbounded on the first window, never widened to the whole horizon.

    LP over 12 steps: x_t ∈ [0, 1] at cost 1 and 1.5·z_t ∈ [0, ∞) at cost 2, row_t:
    x_t + z_t − s_t = 1 (priced) and s_t ≥ 0 at cost 0.5·(t+1) coupling nothing; a storage
    level e_t = e_(t−1) + s_t − w_t ties the steps (e ∈ [0, 0]: nothing is stored). At the
    optimum x_t = 1 (its upper bound), z = s = 0. One more kW on the right-hand side costs
    z_t at 2 (right derivative 2); one less needs x_t − s_t = 0, x_t down at −1 (left 1).
    With z removed from steps 6–11 (upper 0) the right side there has no feasible move (x is
    at 1, z fixed, s only lowers x + z − s): unbounded, kept at the solver's dual."""
    import highspy

    from pebdsl.backends import intervals
    from pebdsl.backends.session import new_highs

    monkeypatch.setattr(intervals, "_bulk_in_place", lambda *a: {})
    n = 12
    # columns: x (0..11), z (12..23), s (24..35), e (36..47); rows: bal (0..11), store (12..23)
    cost = np.concatenate([np.ones(n), 2 * np.ones(n), 0.5 * (np.arange(n) + 1), np.zeros(n)])
    lower = np.zeros(4 * n)
    upper = np.concatenate([np.ones(n), [np.inf] * 6 + [0.0] * 6, [np.inf] * n, np.zeros(n)])
    r, c, v = [], [], []
    for t in range(n):
        r += [t, t, t]
        c += [t, n + t, 2 * n + t]
        v += [1.0, 1.0, -1.0]
        r += [n + t, n + t] + ([n + t] if t else [])
        c += [3 * n + t, 2 * n + t] + ([3 * n + t - 1] if t else [])
        v += [1.0, -1.0] + ([-1.0] if t else [])
    import scipy.sparse as sp

    a = sp.csc_matrix((v, (r, c)), shape=(2 * n, 4 * n))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 4 * n, 2 * n
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_ = np.concatenate([np.ones(n), np.zeros(n)])
    lp.row_upper_ = lp.row_lower_.copy()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr, a.indices
    lp.a_matrix_.value_ = a.data
    col_step = np.tile(np.arange(n), 4)
    row_step = np.tile(np.arange(n), 2)
    rows = np.arange(n)

    def run(first: int) -> intervals.Intervals:
        monkeypatch.setattr(intervals, "FIRST_WINDOW", first)
        h = new_highs()
        h.passModel(lp)
        h.run()
        got = intervals.compute(h, rows, col_step, row_step)
        assert got is not None
        return got

    narrow, whole = run(2), run(64)
    np.testing.assert_allclose(narrow.lo, np.ones(n))
    np.testing.assert_allclose(narrow.hi[:6], 2 * np.ones(6))
    assert narrow.stats["unbounded"] == 6.0
    assert narrow.stats["widened"] == 0.0
    np.testing.assert_array_equal(narrow.lo, whole.lo)
    np.testing.assert_array_equal(narrow.hi, whole.hi)


def test_localise_places_day_columns_at_their_rows() -> None:
    """`localise` (speed only): a column of no step meeting rows of steps 0–23 sits at step 11
    ((0 + 23) // 2); one meeting rows of steps 0 and 200 (a month's peak over a long horizon)
    spans more than LOCAL_SPAN and stays −1; one meeting only rows of no step stays −1; a
    column with a step keeps it."""
    import scipy.sparse as sp

    from pebdsl.backends.intervals import LOCAL_SPAN, localise

    row_step = np.concatenate([np.arange(24), [200, -1]])
    # columns: 0 day peak (rows 0..23), 1 month peak (rows 0 and 24), 2 only row 25, 3 step 5
    r = [*range(24), 0, 24, 25, 5]
    c = [0] * 24 + [1, 1, 2, 3]
    a = sp.csc_matrix((np.ones(len(r)), (r, c)), shape=(26, 4))
    got = localise(a, np.array([-1, -1, -1, 5]), row_step, LOCAL_SPAN)
    np.testing.assert_array_equal(got, [11, -1, -1, 5])
