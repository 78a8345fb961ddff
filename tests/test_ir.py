"""The IR: layout, names, the map back to (block, entity, step), vectorised build, and golden
IR summaries and LP files of small designs (`pytest --update-golden` rewrites them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_helpers import simple_community
from test_model_rules import DESIGNS

from pebdsl.ir import Expr, ModelIR, evaluate, lp_name
from pebdsl.lower import PASSES, lower
from pebdsl.present.emit import emit

GOLDEN = Path(__file__).resolve().parent / "golden" / "lp"
GOLDEN_DESIGNS = ("p2p_fee", "pool", "battery_30min", "link_capacity", "flex_priced_low", "product")


def test_layout_and_map_back() -> None:
    ir = lower(simple_community(4))
    gi = ir.vars["gi"]
    assert gi.cols().shape == (3, 4)
    j = int(gi.cols()[1, 2])
    block, entity, step = ir.locate_col(j)
    assert (block.name, entity, step) == ("gi", "bob", 2)
    assert ir.col_name(j) == "gi[bob,2]"
    bal = ir.cons["balance"]
    assert ir.row_name(bal.start + 4 * 2 + 3) == "balance[carol,3]"
    names = ir.col_names()
    assert len(names) == ir.n_cols and len(set(names)) == ir.n_cols
    assert ir.matrix().shape == (ir.n_rows, ir.n_cols)


def test_expr_evaluate_and_constant() -> None:
    ir = ModelIR(3, 1.0)
    v = ir.add_var("x", ["a", "b"], lower=0.0)
    e = Expr(1, 3)
    e.add(v, 2.0, var_entities=[0], row_entities=[0])
    e.add(v, -1.0, var_entities=[1], row_entities=[0])
    e.add_constant(np.array([[1.0, 2.0, 3.0]]))
    x = np.arange(6, dtype=float)  # a = 0,1,2; b = 3,4,5
    np.testing.assert_allclose(evaluate(e, x), [[2 * 0 - 3 + 1, 2 * 1 - 4 + 2, 2 * 2 - 5 + 3]])


def test_lp_names_are_safe() -> None:
    assert lp_name("m.trade[alice->bob,3]") == "m.trade(alice/bob,3)"


def test_passes_are_ordered() -> None:
    names = [p.__name__ for p in PASSES]
    assert names == [
        "lower_balance",
        "lower_stages",
        "lower_generation",
        "lower_storage",
        "lower_flexible",
        "lower_markets",
        "lower_local",
        "lower_meters",
        "lower_blocks",
        "lower_tariffs",
        "lower_household",
        "lower_invest",
        "lower_goals",
        "lower_objective",
    ]


def test_benchmark_model_grows_linearly_in_steps() -> None:
    """The benchmark design (30 participants with PV, batteries, p2p and links) has as many
    hourly columns and rows per day on 14 days as on 7: lowering is linear in the horizon.
    (Its speed is measured by benchmarks/model_speed.py, never asserted in tests.)"""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from model_speed import make_design

    a, b = lower(make_design(7)), lower(make_design(14))
    for x in (a, b):
        m = x.matrix()
        assert m.shape == (x.n_rows, x.n_cols)
    per_step = {k: v.size // v.n_steps for k, v in a.vars.items() if v.step_kind == "t"}
    assert per_step == {k: v.size // v.n_steps for k, v in b.vars.items() if v.step_kind == "t"}
    hourly = sum(v.size for v in a.vars.values() if v.step_kind == "t")
    assert sum(v.size for v in b.vars.values() if v.step_kind == "t") == 2 * hourly


@pytest.mark.parametrize("name", GOLDEN_DESIGNS)
def test_golden_ir_and_lp(name: str, update_golden: bool) -> None:
    d = DESIGNS[name][0]()
    for kind in ("ir", "lp"):
        text = emit(d, kind)
        path = GOLDEN / f"{name}.{kind}"
        if update_golden or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert text == path.read_text(), f"{path} differs; rerun with --update-golden"


def test_lp_file_reads_back_with_same_optimum(tmp_path: Path) -> None:
    import highspy

    from pebdsl.backends.highs import new_highs, solve

    d = DESIGNS["link_capacity"][0]()
    path = tmp_path / "m.lp"
    path.write_text(emit(d, "lp"))
    h = new_highs()
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(solve(lower(d)).objective)
    assert "balance(bob,0)" in path.read_text()
