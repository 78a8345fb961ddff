"""Goals and `pebdsl tailor` (docs/tailor.md): hand-derived cases where a goal binds and
changes the optimum, where `prefer` only ranks, where a goal cannot be met; the design space
solved, its front, the recommendation written as a design `pebdsl check` accepts, and a run
killed halfway that finishes without solving its finished cases again.

The goal day (`PEAK` below): hourly steps, buy 0.10 EUR/kWh in hour 0, 0.30 in hours 1–11,
0.50 in hours 12–23, no feed-in; load 8 kW in hour 0 and 10 kW in hour 12; a 10 kWh / 10 kW
battery, 100 % efficient, empty at the start.
- Without a goal the battery charges 10 kWh in hour 0 (the cheapest), so the grid gives 18 kW
  then: cost 18 × 0.10 = 1.80 EUR, peak import 18 kW.
- With `peak_import <= 12 kW` hour 0 may take 12 kW: 8 for the load, 4 into the battery; the
  other 6 kWh charge at 0.30 in hours 1–11 (each under 12 kW), which beats buying them at 0.50
  in hour 12: cost 12 × 0.10 + 6 × 0.30 = 3.00 EUR, peak 12 kW.
- `prefer peak_import <= 12 kW` adds no row: 1.80 EUR, and the goal is reported unmet.
- `peak_import <= 5 kW` cannot be met: hour 0's 8 kW load has only the grid (the battery is
  empty), so the goal is short by 8 − 5 = 3 kW.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import pebdsl
from pebdsl.diagnostics import PebdslError

PEAK = """design "A peak goal" {
  currency = EUR
}

horizon {
  start    = 2021-06-07
  duration = 1 d
  step     = 1 h
}

series price  = daily [0.10, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30,
                       0.30, 0.30, 0.30, 0.30, 0.50, 0.50, 0.50, 0.50,
                       0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50] EUR/kWh
series demand = daily [8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] kW

grid {
  buy  = price
  sell = none
}

participant home {
  load    { profile = demand }
  battery { capacity = 10 kWh; power = 10 kW; efficiency = 100 % }
}
"""


def _write(tmp_path: Path, text: str, name: str = "d.peb") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _solve(tmp_path: Path, goals: str) -> Any:
    return pebdsl.solve(pebdsl.load(_write(tmp_path, PEAK + goals)))


def _peak(r: Any) -> float:
    return float(r.values["peak_import_kw"]["all"])


def test_without_goal(tmp_path: Path) -> None:
    """No goal: 1.80 EUR, peak 18 kW (module docstring)."""
    r = _solve(tmp_path, "")
    assert r.total_cost == pytest.approx(1.80, abs=1e-9)
    assert _peak(r) == pytest.approx(18.0, abs=1e-6)


def test_goal_binds_and_changes_the_optimum(tmp_path: Path) -> None:
    """`peak_import <= 12 kW`: 3.00 EUR, peak 12 kW (module docstring)."""
    r = _solve(tmp_path, "goals {\n  peak_import <= 12 kW\n}\n")
    assert r.total_cost == pytest.approx(3.00, abs=1e-9)
    assert _peak(r) == pytest.approx(12.0, abs=1e-6)


def test_prefer_only_ranks(tmp_path: Path) -> None:
    """`prefer` adds no row: the optimum of no goal, 1.80 EUR and 18 kW; the goal is kept on
    the design for ranking and judged unmet (18 > 12)."""
    from pebdsl.study.tailor import goal_met

    design = pebdsl.load(_write(tmp_path, PEAK + "goals {\n  prefer peak_import <= 12 kW\n}\n"))
    r = pebdsl.solve(design)
    assert r.total_cost == pytest.approx(1.80, abs=1e-9)
    (g,) = design.goals
    assert g.prefer and not g.met(_peak(r))
    assert not goal_met(
        {"metric": "peak_import", "op": "<=", "value": 12.0}, {"peak_import_kw": _peak(r)}
    )


def test_unreachable_goal_is_diagnosed(tmp_path: Path) -> None:
    """`peak_import <= 5 kW`: E505 names the goal's line (the line after the design text) and
    the best peak reachable, 8 kW: 3 kW short (module docstring)."""
    line = PEAK.count("\n") + 2
    with pytest.raises(PebdslError) as ei:
        _solve(tmp_path, "goals {\n  peak_import <= 5 kW\n}\n")
    text = ei.value.render()
    assert ei.value.codes == ["E505"]
    assert f":{line}:" in text
    assert "goal `peak_import <= 5 kW` cannot be met" in text
    assert "is 8 kW, 3 kW above the goal" in text


def test_goal_errors(tmp_path: Path) -> None:
    """E330: an unknown metric, a hard goal in the wrong direction; E101 an unknown block."""
    for goals, code in (
        ("goals {\n  surplus >= 60 %\n}\n", "E330"),
        ("goals {\n  peak_import >= 5 kW\n}\n", "E330"),
        ("goals {\n  nowhere.peak_import <= 5 kW\n}\n", "E101"),
        ("goals {\n  pv_surplus_local >= 120 %\n}\n", "E302"),
    ):
        with pytest.raises(PebdslError) as ei:
            pebdsl.load(_write(tmp_path, PEAK + goals))
        assert code in ei.value.codes, (goals, ei.value.codes)


SPACE = (
    PEAK.replace("  battery { capacity = 10 kWh; power = 10 kW; efficiency = 100 % }\n", "")
    + """
goals {
  prefer peak_import <= 12 kW
}

choice storage {
  variant none { }
  variant battery {
    participant home {
      load    { profile = demand }
      battery { capacity = 10 kWh; power = 10 kW; efficiency = 100 % }
    }
  }
}

choice price {
  variant flat { }
  variant dear { grid { buy = price + 0.10 EUR/kWh } }
}
"""
)
# The four designs, by hand (load 18 kWh: 8 in hour 0 at 0.10, 10 in hour 12 at 0.50):
#   none/flat     0.8 + 5.0 = 5.80 EUR, peak 10 kW        battery/flat  1.80 EUR, peak 18 kW
#   none/dear     5.80 + 18 × 0.10 = 7.60 EUR, peak 10    battery/dear  1.80 + 1.80 = 3.60, 18 kW
# `prefer peak_import <= 12 kW` is met only without the battery. Among the designs that meet
# it (none/flat 5.80, none/dear 7.60), none/flat is cheapest and on the front (nothing is
# cheaper with a peak as low): it is recommended, though battery/flat costs less.


def test_tailor_space_front_and_recommendation(tmp_path: Path) -> None:
    """Every combination solved; costs as derived above; the recommendation meets every goal;
    the recommended design checks and solves to its own figure."""
    from pebdsl.present.tailor import write_tailoring
    from pebdsl.study.tailor import plan, solve_space

    path = _write(tmp_path, SPACE)
    t = solve_space(plan(path), tmp_path / "out" / "cases")
    costs = {tuple(c.options.values()): c.record["total_cost"] for c in t.cases if c.record}
    assert costs == pytest.approx(
        {
            ("none", "flat"): 5.80,
            ("none", "dear"): 7.60,
            ("battery", "flat"): 1.80,
            ("battery", "dear"): 3.60,
        }
    )
    assert t.recommended is not None and t.recommended.options == {
        "storage": "none",
        "price": "flat",
    }
    assert t.recommended.meets_goals and t.recommended.pareto
    assert any("storage = none" in r and "battery" in r for r in t.reasons)
    write_tailoring(t, tmp_path / "out")
    rec = tmp_path / "out" / "recommended.peb"
    d = pebdsl.load(str(rec), "tailored")
    assert pebdsl.solve(d).total_cost == pytest.approx(5.80, abs=1e-9)
    doc = json.loads((tmp_path / "out" / "tailor.json").read_text())
    assert len(doc["cases"]) == 4 and doc["recommended"]["options"]["storage"] == "none"
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "out" / "tailor.parquet")) == 4
    html = (tmp_path / "out" / "tailor.html").read_text()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 3


def test_tailor_resumes_after_a_kill(tmp_path: Path) -> None:
    """A run stopped after two of four cases (KeyboardInterrupt from the progress callback, as
    a kill would stop it) keeps those two on disk; the rerun solves only the other two and ends
    with the same figures as a run from scratch."""
    from pebdsl.study import tailor as study

    path = _write(tmp_path, SPACE)
    cache = tmp_path / "cases"
    finished = 0

    def stop_after_two(*_: object) -> None:
        nonlocal finished
        finished += 1
        if finished == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        study.solve_space(study.plan(path), cache, on_done=stop_after_two)
    assert len(list(cache.glob("*.json"))) == 2
    solved: list[str] = []

    def counting(job: Any) -> dict[str, Any]:
        solved.append(job.text)
        return study.solve_case(job)

    again = study.solve_space(study.plan(path), cache, solve_fn=counting)
    assert len(solved) == 2 and again.solved_now == 2
    assert sum(c.cached for c in again.cases) == 2
    fresh = study.solve_space(study.plan(path), None)
    assert [c.record for c in again.cases] == [c.record for c in fresh.cases]


def test_no_choices_is_e340(tmp_path: Path) -> None:
    """A file without `choice` has nothing to tailor."""
    from pebdsl.study.tailor import plan

    with pytest.raises(PebdslError) as ei:
        plan(_write(tmp_path, PEAK))
    assert ei.value.codes == ["E340"]
