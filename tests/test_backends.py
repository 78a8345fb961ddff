"""Both backends (HiGHS direct, Pyomo) give the same objective and duals, on every test design
and every `designs/*.peb` (base design and variants).

Duals: the market prices (the settlement duals of the price rows: the midpoint of each row's
valid dual interval, invert/flows.py) and the participants' prices (the valid dual interval
of each energy balance row) agree between the backends to 1e-7 currency/kWh·Δt. The solver's
own pick inside a degenerate interval depends on the basis it ends in (the Pyomo route hands
HiGHS the rows in another order), so a participant's raw dual may differ where its interval
is wide (a battery indifferent between hours); the interval does not. On the design files
the whole solve is compared too (every price column of the tables, and the bills)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import designs as text_designs
from test_fidelity import DESIGNS as FIDELITY
from test_model_rules import DESIGNS

from pebdsl.backends import solve_ir
from pebdsl.invert import price_rows, settlement_duals
from pebdsl.load import load_all
from pebdsl.lower import lower
from pebdsl.solve import solve

ROOT = Path(__file__).resolve().parent.parent
PEB_FILES = sorted((ROOT / "designs").glob("*.peb"))


# Valid dual intervals cost a ratio test per row: the participants' energy balances (every
# participant x step) are compared on designs up to this size, market prices on every design.
MAX_BALANCE_ROWS = 5_000


def _agree(design, unique_only: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Both backends solve `design` alike: objective, primal cost, market prices and the valid
    intervals of participant prices. `unique_only`: compare prices only on rows where both
    backends found a unique dual (lo = hi): with a degenerate primal, HiGHS can end in another
    optimal basis when Pyomo hands it the rows in another order, and a basis's valid interval is
    local to it, so a non-unique price is each backend's own valid pick (generated designs)."""
    ir = lower(design)
    rows = price_rows(ir)
    bal = ir.cons["balance"]
    bal_rows = np.arange(bal.start, bal.start + bal.size, dtype=np.int64)
    if bal.size > MAX_BALANCE_ROWS:
        bal_rows = bal_rows[:0]
    asked = np.union1d(rows, bal_rows)
    a = solve_ir(ir, "highs", price_rows=asked)
    b = solve_ir(ir, "pyomo", price_rows=asked)
    assert a.status == b.status == "optimal"
    assert b.objective == pytest.approx(a.objective, abs=1e-6, rel=1e-9)
    # Same model, same solver: the primal values agree too (within HiGHS's tolerances).
    np.testing.assert_allclose(ir.cost() @ b.x, a.objective, atol=1e-6)
    # Market prices: the settlement duals of the price rows (market balances, and the balances
    # of the traders of per-pair markets).
    # A row whose interval kept a solver's side (`price_inexact`: the ratio test could not
    # leave the solver's basis, backends/intervals.py) is the solver's own pick, so it may
    # differ between backends that hand HiGHS the rows in another order; every other row's
    # interval is a property of the LP and must agree.
    inexact = np.union1d(
        a.price_inexact if a.price_inexact is not None else [],
        b.price_inexact if b.price_inexact is not None else [],
    )
    exact_rows = np.setdiff1d(rows, inexact)
    if unique_only:
        assert a.price_lo is not None and a.price_hi is not None
        assert b.price_lo is not None and b.price_hi is not None
        unique = (a.price_hi - a.price_lo <= 1e-9) & (b.price_hi - b.price_lo <= 1e-9)
        exact_rows = exact_rows[unique[exact_rows]]
    ya, yb = settlement_duals(a), settlement_duals(b)
    np.testing.assert_allclose(yb[exact_rows], ya[exact_rows], atol=1e-7)
    # Participant prices: the valid interval of each energy-balance dual.
    exact_bal = np.setdiff1d(bal_rows, inexact)
    if unique_only:
        exact_bal = exact_bal[unique[exact_bal]]
    for side in ("price_lo", "price_hi"):
        va, vb = getattr(a, side), getattr(b, side)
        assert va is not None and vb is not None
        np.testing.assert_allclose(vb[exact_bal], va[exact_bal], atol=1e-7)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_backends_agree_on_rule_designs(name: str) -> None:
    _agree(DESIGNS[name][0]())


def _money_designs() -> dict:  # type: ignore[type-arg]
    from test_money import congested, flex_design, store_design

    return {
        "flex_priced": lambda: flex_design(0.05),
        "flex_hard": lambda: flex_design(None),
        "congested_pool": lambda: congested("pool"),
        "congested_p2p": lambda: congested("p2p"),
        "store": lambda: store_design(fee=0.01),
    }


@pytest.mark.parametrize("name", list(FIDELITY))
def test_backends_agree_on_fidelity_designs(name: str) -> None:
    """Every design that tries to game a rule (tests/test_fidelity.py) solves alike."""
    _agree(FIDELITY[name][0]())


@pytest.mark.parametrize("name", ["flex_priced", "flex_hard", "congested_pool", "congested_p2p",
                                  "store"])  # fmt: skip
def test_backends_agree_on_money_designs(name: str) -> None:
    """The hand-derived designs of tests/test_money.py (rent, link fees, shared batteries)."""
    _agree(_money_designs()[name]())


@pytest.mark.parametrize("path", PEB_FILES, ids=[p.name for p in PEB_FILES])
def test_backends_agree_on_design_files(path: Path) -> None:
    # The variants `pebdsl compare` solves; a year-long variant (compare = false) belongs to
    # benchmarks/, not to the unit tests.
    for design in load_all(str(path), for_compare=True).values():
        _agree(design)


def _same_solve(design) -> None:  # type: ignore[no-untyped-def]
    """The whole solve agrees: every price column (participants, batteries, blocks' flexibility
    price, markets) and every bill cell, to 1e-7. A design with many alike participants (the
    Trondheim households: identical meters, so the optimum can share their dispatch in other
    ways) has alternative optima whose per-participant bills differ; there the real cost and
    each bill column's sum over all parties are compared instead."""
    a, b = solve(design, "highs"), solve(design, "pyomo")
    for tab in ("participants_ts", "batteries_ts", "blocks_ts", "markets_ts"):
        ta, tb = getattr(a, tab), getattr(b, tab)
        cols = [c for c in ta.columns if "price" in c[1]]
        np.testing.assert_allclose(tb[cols].to_numpy(), ta[cols].to_numpy(), atol=1e-7)
    assert a.bills is not None and b.bills is not None
    if len(design.participants) <= 20:
        np.testing.assert_allclose(b.bills.to_numpy(), a.bills.to_numpy(), atol=1e-7)
    else:
        assert b.total_cost == pytest.approx(a.total_cost, rel=1e-9, abs=1e-6)
        np.testing.assert_allclose(
            b.bills.to_numpy().sum(axis=0), a.bills.to_numpy().sum(axis=0), rtol=1e-7, atol=1e-6
        )


@pytest.mark.parametrize("path", PEB_FILES, ids=[p.name for p in PEB_FILES])
def test_backends_agree_on_prices_and_bills(path: Path) -> None:
    for design in load_all(str(path), for_compare=True).values():
        _same_solve(design)


@settings(
    max_examples=40 if os.environ.get("CI") else 15,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=text_designs())
def test_backends_agree_on_generated_designs(text: str) -> None:
    from pebdsl.front.parser import parse
    from pebdsl.resolve import resolve_all
    from pebdsl.source import SourceFile

    src = SourceFile("<generated>", text)
    for design in resolve_all(parse(text, src.path), src).values():
        _agree(design, unique_only=True)


def test_pyomo_model_is_named() -> None:
    from pebdsl.backends.pyomo import to_pyomo

    model, _, _ = to_pyomo(lower(DESIGNS["p2p_fee"][0]()))
    assert model.gi["bob", 0].name == "gi[bob,0]"
    assert model.balance["alice", 0].name == "balance[alice,0]"
    assert model.m_balance["m", 0].name == "m_balance[m,0]"


def test_unknown_solver_is_e503() -> None:
    from pebdsl.diagnostics import PebdslError

    with pytest.raises(PebdslError) as ei:
        solve_ir(lower(DESIGNS["p2p_fee"][0]()), "pyomo", solver="no_such_solver")
    assert ei.value.codes == ["E503"]
