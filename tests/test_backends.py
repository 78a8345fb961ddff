"""Both backends (HiGHS direct, Pyomo) give the same objective and duals, on every test design
and every `designs/*.peb` (base design and variants)."""

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
from pebdsl.load import load_all
from pebdsl.lower import lower

ROOT = Path(__file__).resolve().parent.parent
PEB_FILES = sorted((ROOT / "designs").glob("*.peb"))


def _agree(design) -> None:  # type: ignore[no-untyped-def]
    ir = lower(design)
    a = solve_ir(ir, "highs")
    b = solve_ir(ir, "pyomo")
    assert a.status == b.status == "optimal"
    assert b.objective == pytest.approx(a.objective, abs=1e-6, rel=1e-9)
    # Same model, same solver: the primal values agree too (within HiGHS's tolerances).
    np.testing.assert_allclose(ir.cost() @ b.x, a.objective, atol=1e-6)


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
