"""`compare` on designs with scenarios (issue 12): each case is solved as `pebdsl solve` solves
it — its two-stage programme — and shows the expected cost, EVPI and VSS.

Expected numbers are derived by hand in each docstring.
"""

from __future__ import annotations

import json

import pytest
from stochastic_texts import STORE_HOURS, TWO_WEATHERS
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.study.compare import compare

HOUR = (
    """design "One hour, two weathers" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 h; step = 1 h }
"""
    + TWO_WEATHERS
    + """participant alice {
  load { profile = 10 kW }
  pv   { profile = sun }
}
variant cheap_intraday {
  grid {
    day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }
    intraday  { buy = 0.12 EUR/kWh; sell = 0 EUR/kWh }
  }
}
"""
)

STORE = (
    """design "store" { currency = EUR; reference = no_battery }
"""
    + STORE_HOURS
    + """variant no_battery { without alice.battery }
"""
)


def test_compare_solves_the_two_stage_programme(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue's hour (load 10 kW; PV 6 kW sunny 60 %, 0 cloudy 40 %; day-ahead 0.10 / 0.05)
    with intraday buy 0.20 (base) or 0.12 (cheap_intraday), intraday sell 0.

    Base: expected cost 0.88, EVPI 0.24, VSS 0.048 (tests/test_stochastic.py's derivation).
    cheap_intraday: a day-ahead kWh (0.10) beyond sunny's 4 kWh saves 0.12 only when cloudy
    (0.4 × 0.12 = 0.048 < 0.10), so it buys 4 kWh: 0.40 + 0.4 × 6 × 0.12 = 0.688. Alone sunny
    0.40, cloudy 1.00: WS 0.64, EVPI 0.048. The forecast (PV 3.6) buys 6.4 kWh (0.64): sunny
    0.64, cloudy 0.64 + 3.6 × 0.12 = 1.072; EEV 0.8128, VSS 0.1248. Expected grid import
    0.6 × 4 + 0.4 × 10 = 6.4 kWh in both. The expected-value designs alone would both cost
    0.64 (the bug this fixes)."""
    f = tmp_path / "hour.peb"
    f.write_text(HOUR)
    cmp = compare([str(f)])
    want = {"base": (0.88, 0.24, 0.048), "cheap_intraday": (0.688, 0.048, 0.1248)}
    for label, (cost, evpi, vss) in want.items():
        s = cmp.case(label).summary
        assert s["total_cost"] == pytest.approx(cost)
        assert s["stochastic"]["expected_cost"] == pytest.approx(cost)
        assert s["stochastic"]["evpi"] == pytest.approx(evpi)
        assert s["stochastic"]["vss"] == pytest.approx(vss)
        assert s["stochastic"]["scenarios"] == 2
        assert s["grid_import_kwh"] == pytest.approx(6.4)
        assert cmp.case(label).stochastic is not None
    res = CliRunner().invoke(app, ["compare", str(f), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "EVPI 0.240" in res.output and "expected cost 0.688" in res.output
    assert (tmp_path / "out" / "hour" / "base" / "scenarios" / "sunny" / "report.html").exists()
    page = (tmp_path / "out" / "compare.html").read_text()
    assert "EVPI (value of perfect information)" in page


def test_expected_savings_split_with_batteries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hour 1: no load, PV 4 kW if sunny (60 %); hour 2: load 4 kW; an empty lossless 4 kWh
    battery; day-ahead buy 0.15 then 0.10, sell 0; intraday buy 0.20, sell 0.

    With the battery the two-stage optimum buys nothing day-ahead (a kWh at 0.10 only saves
    0.4 × 0.20 = 0.08): sunny 0, cloudy 4 × 0.20 = 0.80, expected 0.32. Without it (the
    reference) the sun is lost and hour 2 buys 4 kWh day-ahead: 0.40 in every scenario (EVPI
    0; its VSS is not asserted: the forecast may sell its 2.4 kWh of sun day-ahead at 0 or
    not, a tie). Saving 0.40 − 0.32 = 0.08, all of it storage (the battery-free twin of the
    base, solved two-stage too, costs the reference's 0.40): saving_storage 0.08,
    saving_trade 0. Expected grid import: 0.6 × 0 + 0.4 × 4 = 1.6 kWh."""
    f = tmp_path / "store.peb"
    f.write_text(STORE)
    out = json.loads(CliRunner().invoke(app, ["compare", str(f), "--json"]).output)
    cases = {c["label"]: c for c in out["cases"]}
    base, ref = cases["base"], cases["no_battery"]
    assert ref["total_cost"] == pytest.approx(0.40)
    assert ref["stochastic"]["evpi"] == pytest.approx(0.0, abs=1e-9)
    assert base["total_cost"] == pytest.approx(0.32)
    assert base["saving"] == pytest.approx(0.08)
    assert base["saving_storage"] == pytest.approx(0.08)
    assert base["saving_trade"] == pytest.approx(0.0, abs=1e-9)
    assert base["grid_import_kwh"] == pytest.approx(1.6)
