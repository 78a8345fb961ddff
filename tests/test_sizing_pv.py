"""A PV peak as a decision (`pv { peak = invest(...) }`, docs/tailor.md): hand-derived optima.

The day (`_day`): hourly steps, one participant with a flat 2 kW load (48 kWh), buy 0.30
EUR/kWh, feed-in 0.05 EUR/kWh, a PV profile per kWp of 0.5, 1, 0.5 in hours 11, 12, 13 and 0
otherwise (2 kWh per kWp and day), `peak = invest(max = 10 kWp, cost = c)`. With P kWp the
output is 0.5P, P, 0.5P kW. What one more kWp is worth for the day:
- P ≤ 2: every kWh serves the load: 2 kWh × 0.30 = 0.60;
- 2 < P ≤ 4: hour 12 already covers its 2 kW, its extra 1 kWh is exported (0.05); hours 11 and
  13 still serve the load (0.5 + 0.5 kWh × 0.30): 0.35;
- P > 4: every hour is covered: 2 kWh exported × 0.05 = 0.10.
So the optimum is P = 4 for 0.10 < c < 0.35, P = 2 for 0.35 < c < 0.60, P = 0 above 0.60:
- c = 0.2 EUR/kW/day: 4 kWp; own use 2 + 2 + 2 = 6 kWh, import 42 kWh × 0.30 = 12.60, export
  hour 12's 4 − 2 = 2 kWh × 0.05 = 0.10, the peak 4 × 0.2 = 0.80: total 13.30 EUR; available
  PV 4 × 2 = 8 kWh (the chosen size times the shape, not the `max`), nothing curtailed.
- c = 0.4: 2 kWp; own use 1 + 2 + 1 = 4 kWh, import 44 × 0.30 = 13.20, no export, peak 0.80:
  total 14.00 EUR.
- c = 0.7: 0 kWp; import 48 × 0.30 = 14.40 EUR.
- Annuity form `capex = 1000 EUR/kWp, lifetime = 20 year, rate = 5 %`: per day
  1000 × 0.05 / (1 − 1.05^−20) / 365 ≈ 0.22 (computed in the test) lies in (0.10, 0.35): 4 kWp,
  total 12.50 + 4 × that.
- A profile in kW divided by its plant's peak is the same shape: [1, 2, 1] kW measured on a
  2 kWp plant, `profile = measured / 2 kWp`, gives the c = 0.2 optimum again, from a csv file too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pebdsl
from pebdsl.diagnostics import PebdslError

SHAPE = [0.0] * 11 + [0.5, 1.0, 0.5] + [0.0] * 10


def _day(peak: str, profile: str = "sol", extra: str = "") -> str:
    shape = ", ".join(f"{v:g}" for v in SHAPE)
    measured = ", ".join(f"{2 * v:g}" for v in SHAPE)
    return f"""design "PV sizing" {{
  currency = EUR
}}

horizon {{
  start    = 2021-06-07
  duration = 1 d
  step     = 1 h
}}

series sol      = daily [{shape}]
series measured = daily [{measured}] kW

grid {{
  buy  = 0.30 EUR/kWh
  sell = 0.05 EUR/kWh
}}

participant home {{
  load {{ profile = 2 kW }}
  pv   {{ profile = {profile}; peak = {peak} }}
}}
{extra}"""


def _solve(tmp_path: Path, text: str) -> pebdsl.results.Results:  # type: ignore[name-defined]
    p = tmp_path / "d.peb"
    p.write_text(text, encoding="utf-8")
    return pebdsl.solve(pebdsl.load(str(p)))


@pytest.mark.parametrize(
    ("cost", "kwp", "total"), [(0.2, 4.0, 13.30), (0.4, 2.0, 14.00), (0.7, 0.0, 14.40)]
)
def test_pv_peak_is_sized(tmp_path: Path, cost: float, kwp: float, total: float) -> None:
    """The three regimes of the module docstring; the cost is the owner's and closes."""
    r = _solve(tmp_path, _day(f"invest(max = 10 kWp, cost = {cost} EUR/kW/day)"))
    inv = r.investments["home.pv.peak"]
    assert inv["value"] == pytest.approx(kwp, abs=1e-6)
    assert inv["unit"] == "kWp"
    assert inv["cost"] == pytest.approx(kwp * cost, abs=1e-9)
    assert r.total_cost == pytest.approx(total, abs=1e-9)
    assert r.bills.loc["home", "generation_costs"] == pytest.approx(kwp * cost, abs=1e-9)
    assert abs(r.money["residual"]) < 1e-9
    assert r.money["all_parties"] == pytest.approx(r.money["real_costs"], abs=1e-9)


def test_available_output_follows_the_size(tmp_path: Path) -> None:
    """At 4 kWp the available PV is 8 kWh and none is curtailed (not 20 kWh at `max`)."""
    r = _solve(tmp_path, _day("invest(max = 10 kWp, cost = 0.2 EUR/kW/day)"))
    k = r.kpis["participants"]["home"]
    assert k["generation_kwh"] == pytest.approx(8.0, abs=1e-6)
    assert k["curtailment_kwh"] == pytest.approx(0.0, abs=1e-6)
    assert k["grid_export_kwh"] == pytest.approx(2.0, abs=1e-6)
    pv = r.participants_ts.xs("pv", axis=1, level="quantity")["home"]
    assert float(pv.sum()) == pytest.approx(8.0, abs=1e-6)


def test_pv_annuity_form(tmp_path: Path) -> None:
    """capex 1000 EUR/kWp over 20 years at 5 %: the standard annuity, one day of 365."""
    per_day = 1000 * 0.05 / (1 - 1.05**-20) / 365
    assert 0.10 < per_day < 0.35  # the 4 kWp regime
    r = _solve(
        tmp_path,
        _day("invest(max = 10 kWp, capex = 1000 EUR/kWp, lifetime = 20 year, rate = 5 %)"),
    )
    assert r.investments["home.pv.peak"]["value"] == pytest.approx(4.0, abs=1e-6)
    assert r.total_cost == pytest.approx(12.50 + 4 * per_day, rel=1e-9)


def test_profile_in_kw_divided_by_its_peak(tmp_path: Path) -> None:
    """[1, 2, 1] kW of a 2 kWp plant, as a series and as a csv file: the same 4 kWp."""
    rows = "\n".join(f"2021-06-07T{h:02d}:00,{2 * v:g}" for h, v in enumerate(SHAPE))
    (tmp_path / "pv.csv").write_text("time,kw\n" + rows + "\n", encoding="utf-8")
    for profile in (
        "measured / 2 kWp",
        'csv("pv.csv", column = "kw", unit = kW) / 2 kWp',
    ):
        r = _solve(tmp_path, _day("invest(max = 10 kWp, cost = 0.2 EUR/kW/day)", profile))
        assert r.investments["home.pv.peak"]["value"] == pytest.approx(4.0, abs=1e-6), profile
        assert r.total_cost == pytest.approx(13.30, abs=1e-9), profile


def _codes(tmp_path: Path, text: str) -> PebdslError:
    p = tmp_path / "d.peb"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(PebdslError) as ei:
        pebdsl.load(str(p))
    return ei.value


def test_profile_in_kw_with_a_sized_peak_is_e322(tmp_path: Path) -> None:
    """A kW profile is one plant's output: a sized peak cannot scale it (E322, with the fix)."""
    err = _codes(tmp_path, _day("invest(max = 10 kWp, cost = 0.2 EUR/kW/day)", "measured"))
    assert err.codes == ["E322"], err.render()
    assert "measured / 40 kWp" in err.render()


@pytest.mark.parametrize(
    "extra",
    [
        # a product with an origin: own use min(available, load) bounds its sales
        "product green { origin = [pv] }\nparticipant next { load { profile = 1 kW } }\n"
        "market m { type = pool; members = [home, next]; products = [green] }\n",
        # the surplus of the hard share goal is max(output − load, 0)
        "goals { pv_surplus_local >= 50 % }\n",
    ],
)
def test_rules_reading_the_output_refuse_a_sized_peak(tmp_path: Path, extra: str) -> None:
    """E322 at the `invest(...)` call, naming the rule."""
    text = _day("invest(max = 10 kWp, cost = 0.2 EUR/kW/day)", extra=extra)
    err = _codes(tmp_path, text)
    assert err.codes == ["E322"], err.render()
    d = err.diagnostics[0]
    assert text.splitlines()[d.span.line - 1].lstrip().startswith("pv ")
    assert ("green" in d.message) or ("pv_surplus_local" in d.message)


def test_a_preferred_share_goal_allows_a_sized_peak(tmp_path: Path) -> None:
    """`prefer` adds no row: the peak is sized as without the goal (4 kWp, 13.30 EUR)."""
    extra = "goals { prefer pv_surplus_local >= 50 % }\n"
    r = _solve(tmp_path, _day("invest(max = 10 kWp, cost = 0.2 EUR/kW/day)", extra=extra))
    assert r.investments["home.pv.peak"]["value"] == pytest.approx(4.0, abs=1e-6)
    assert r.total_cost == pytest.approx(13.30, abs=1e-9)
