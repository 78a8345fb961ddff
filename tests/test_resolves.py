"""Re-solves run on the chosen backend (issue 10, acceptance 4): the flexibility baseline
(`Backend.solve_bounds`) and the elastic re-solve behind an infeasibility hint
(`Backend.solve_elastic`) give the same results and diagnostics on `highs` and `pyomo`, and
neither calls HiGHS's backend behind the chosen one's back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_infeasible import OVERLOADED
from test_money import flex_design

import pebdsl.backends as backends
import pebdsl.backends.highs as highs_backend
from pebdsl.backends import IRBackend
from pebdsl.diagnostics import PebdslError
from pebdsl.load import load
from pebdsl.solve import solve

TOL = 1e-9


class _Recording(IRBackend):
    """An IRBackend that records which re-solves ran on it."""

    calls: list[str] = []  # noqa: RUF012  (shared by the instances of one test)

    def solve_bounds(self, *args: Any, **kw: Any) -> Any:
        self.calls.append(f"{self.name}.solve_bounds")
        return super().solve_bounds(*args, **kw)

    def solve_elastic(self, *args: Any, **kw: Any) -> Any:
        self.calls.append(f"{self.name}.solve_elastic")
        return super().solve_elastic(*args, **kw)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Backends record their re-solves; on pyomo, the HiGHS backend's `solve` must not run."""
    calls: list[str] = []
    _Recording.calls = calls
    original = backends.get_backend

    def get(
        name: str = "highs", solver: str | None = None, options: Any = None, warm: str = "auto"
    ) -> Any:
        original(name, solver, options, warm)  # the same checks (unknown backend or solver: E503)
        return _Recording(name, solver, tuple((options or {}).items()), warm)

    monkeypatch.setattr(backends, "get_backend", get)
    return calls


def _no_direct_highs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the HiGHS backend ran although pyomo was chosen")

    monkeypatch.setattr(highs_backend, "solve", refuse)


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_flexibility_baseline_on_the_chosen_backend(
    backend: str, recording: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block b (import limit 3 kW, priced at 0.5 EUR/kWh), alice's load 4 then 1 kW, buy 0.20
    then 0.30 EUR/kWh, her battery holds 1 kWh. Baseline (no need): she buys 4 kW at 0.20 and
    discharges in the dear hour: 0.80 EUR. With the need, exceeding costs 0.5 > 0.10 (the price
    gap), so she discharges in hour 0: 3 x 0.20 + 1 x 0.30 = 0.90 EUR. Flexibility delivered
    = baseline 4 − max(limit 3, import 3) = 1 kW in hour 0; its price = the limit's dual =
    0.30 − 0.20 = 0.10 EUR/kWh, but the DSO pays the price it declared: 1 kWh x 0.50 = 0.50
    EUR, so alice's bill is 0.90 − 0.50 = 0.40.
    The same on both backends, the baseline re-solved on the chosen one."""
    if backend == "pyomo":
        _no_direct_highs(monkeypatch)
    r = solve(flex_design(0.5), backend)
    assert recording == [f"{backend}.solve_bounds"]
    assert r.objective == pytest.approx(0.90, abs=TOL)
    b = r.blocks_ts.xs("b", axis=1, level=0)
    assert b["flexibility"].tolist() == pytest.approx([1.0, 0.0], abs=TOL)
    assert b["flexibility_price"].tolist() == pytest.approx([0.10, 0.0], abs=TOL)
    assert b["flexibility_paid"].tolist() == pytest.approx([0.50, 0.50], abs=TOL)
    assert r.money["flexibility_payments"] == pytest.approx(0.50, abs=TOL)
    assert r.bills is not None
    assert r.bills.loc["alice", "flexibility"] == pytest.approx(-0.50, abs=TOL)
    assert r.bills.loc["alice", "total"] == pytest.approx(0.40, abs=TOL)
    assert r.money["residual"] == pytest.approx(0.0, abs=TOL)


def _diagnostic(path: Path, backend: str) -> str:
    with pytest.raises(PebdslError) as info:
        solve(load(str(path)), backend)
    assert info.value.codes == ["E501"]
    return info.value.render()


def test_infeasibility_hint_on_the_chosen_backend(
    tmp_path: Path, recording: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overloaded block of tests/test_infeasible.py (connection 5 kW; alice needs 6 kW at
    18:00 and 7.5 kW at 22:00): the elastic re-solve finds 1 + 2.5 = 3.5 kWh beyond the limit
    at 2 of 24 steps, on either backend, and the rendered diagnostics are identical."""
    path = tmp_path / "overloaded.peb"
    path.write_text(OVERLOADED)
    on_highs = _diagnostic(path, "highs")
    _no_direct_highs(monkeypatch)
    on_pyomo = _diagnostic(path, "pyomo")
    assert recording == ["highs.solve_elastic", "pyomo.solve_elastic"]
    assert on_pyomo == on_highs
    assert "at 2 of 24 steps" in on_highs and "3.5 kWh beyond the limit in all" in on_highs
