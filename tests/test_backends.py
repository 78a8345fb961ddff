"""Both backends (HiGHS direct, Pyomo) give the same objective and duals, on every test design
and every `designs/*.peb` (base design and variants).

Duals: the market prices (the settlement duals of the price rows: the midpoint of each row's
valid dual interval, invert/flows.py) and the participants' prices (the balance duals) agree
between the backends to 1e-7 currency/kWh·Δt; on the design files the whole solve is compared
too (every price column of the tables, and the bills)."""

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


def _agree(design) -> None:  # type: ignore[no-untyped-def]
    ir = lower(design)
    rows = price_rows(ir)
    a = solve_ir(ir, "highs", price_rows=rows)
    b = solve_ir(ir, "pyomo", price_rows=rows)
    assert a.status == b.status == "optimal"
    assert b.objective == pytest.approx(a.objective, abs=1e-6, rel=1e-9)
    # Same model, same solver: the primal values agree too (within HiGHS's tolerances).
    np.testing.assert_allclose(ir.cost() @ b.x, a.objective, atol=1e-6)
    # Market prices: the settlement duals of the price rows (market balances, and the balances
    # of the traders of per-pair markets).
    ya, yb = settlement_duals(a), settlement_duals(b)
    np.testing.assert_allclose(yb[rows], ya[rows], atol=1e-7)
    # Participant prices: the energy-balance duals.
    bal = ir.cons["balance"]
    np.testing.assert_allclose(bal.values(b.row_dual), bal.values(a.row_dual), atol=1e-7)


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
    price, markets) and every bill cell, to 1e-7."""
    a, b = solve(design, "highs"), solve(design, "pyomo")
    for tab in ("participants_ts", "batteries_ts", "blocks_ts", "markets_ts"):
        ta, tb = getattr(a, tab), getattr(b, tab)
        cols = [c for c in ta.columns if "price" in c[1]]
        np.testing.assert_allclose(tb[cols].to_numpy(), ta[cols].to_numpy(), atol=1e-7)
    assert a.bills is not None and b.bills is not None
    np.testing.assert_allclose(b.bills.to_numpy(), a.bills.to_numpy(), atol=1e-7)


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
        _agree(design)


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
