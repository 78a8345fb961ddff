"""Sizes as decisions (`invest(...)`, docs/tailor.md): hand-derived optima.

The day (`DAY`): hourly steps, buy 0.10 EUR/kWh in hours 0–11 and 0.50 in hours 12–23, no
feed-in, load 10 kW in hour 12 only, a battery of 10 kW, 100 % efficient, empty at the start.
- `capacity = invest(max = 20 kWh, cost = 0.1 EUR/kWh/day)`: each kWh of capacity costs 0.10
  for the day and moves one kWh from 0.50 to 0.10 (saves 0.40): the model buys exactly what
  hour 12 needs, 10 kWh. Total 10 × 0.10 (energy) + 10 × 0.10 (capacity) = 2.00 EUR.
- `cost = 0.45 EUR/kWh/day`: a kWh of capacity costs more than it saves (0.45 > 0.40):
  capacity 0, hour 12 bought at 0.50: 5.00 EUR.
- The annuity form `invest(max = 20 kWh, capex = 300 EUR/kWh, lifetime = 15 year, rate = 5 %)`
  costs capex × r / (1 − (1 + r)^−n) per year, here 300 × 0.05 / (1 − 1.05^−15) per year and
  1/365 of that for the day (the standard annuity formula, computed in the test): below 0.40,
  so capacity 10 kWh and total 1.00 + 10 × that.

Reinforcement against flexibility (`BLOCK`): the same day, the home in a block whose
connection is `invest(max = 20 kW, cost = 1.2 EUR/kW/day)` (the DSO builds the feeder) and a
battery of `invest(max = 20 kWh, cost = b)` and 10 kW.
- b = 0.1 EUR/kWh/day: a kWh of battery saves 0.40 on energy and lets the feeder shrink; with
  k kWh the feeder needs max(10 − k, k/12) kW (hour 12's rest, or charging over the 12 cheap
  hours). Cost = 1.2·x + 0.1·k + 0.1·k + 0.5·(10 − k), decreasing in k up to k = 10
  (slope −1.2 + 0.2 − 0.5 < 0 below k = 120/13, then 1.2/12 + 0.2 − 0.5 < 0): k = 10 kWh,
  feeder 10/12 kW, total 1.2 × 10/12 + 1.0 + 1.0 = 3.00 EUR — flexibility instead of copper.
- b = 2.0: the first kWh of battery costs 2.0 + 0.1 and saves 1.2 + 0.5 (slope +0.4 > 0):
  k = 0, feeder 10 kW, total 1.2 × 10 + 10 × 0.5 = 17.00 EUR — reinforcement.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pebdsl
from pebdsl.diagnostics import PebdslError
from pebdsl.front.formatter import format_source

HEAD = """design "Sizing" {
  currency = EUR
}

horizon {
  start    = 2021-06-07
  duration = 1 d
  step     = 1 h
}

series price  = daily [0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10,
                       0.10, 0.10, 0.10, 0.10, 0.50, 0.50, 0.50, 0.50,
                       0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50] EUR/kWh
series demand = daily [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] kW

grid {
  buy  = price
  sell = none
}
"""


def _day(capacity: str) -> str:
    return (
        HEAD
        + "\nparticipant home {\n  load    { profile = demand }\n"
        + f"  battery {{ capacity = {capacity}; power = 10 kW; efficiency = 100 % }}\n}}\n"
    )


def _block(battery_cost: str) -> str:
    return HEAD + (
        "\nblock street {\n"
        "  connection = invest(max = 20 kW, cost = 1.2 EUR/kW/day)\n"
        "  participant home {\n"
        "    load    { profile = demand }\n"
        f"    battery {{ capacity = invest(max = 20 kWh, cost = {battery_cost}); "
        "power = 10 kW; efficiency = 100 % }\n"
        "  }\n}\n"
    )


def _solve(tmp_path: Path, text: str) -> pebdsl.results.Results:  # type: ignore[name-defined]
    p = tmp_path / "d.peb"
    p.write_text(text, encoding="utf-8")
    return pebdsl.solve(pebdsl.load(str(p)))


def test_cheap_capacity_is_bought(tmp_path: Path) -> None:
    """0.1 EUR/kWh/day: 10 kWh, 2.00 EUR (module docstring); results.json carries it."""
    r = _solve(tmp_path, _day("invest(max = 20 kWh, cost = 0.1 EUR/kWh/day)"))
    inv = r.investments["home.battery.capacity"]
    assert inv["value"] == pytest.approx(10.0, abs=1e-6)
    assert inv["unit"] == "kWh"
    assert inv["cost"] == pytest.approx(1.00, abs=1e-9)
    assert r.total_cost == pytest.approx(2.00, abs=1e-9)
    assert abs(r.money["residual"]) < 1e-9
    from pebdsl.present.output import results_json

    doc = json.loads(json.dumps(results_json(r), default=str))
    assert doc["investments"]["home.battery.capacity"]["value"] == pytest.approx(10.0, abs=1e-6)


def test_dear_capacity_is_not_bought(tmp_path: Path) -> None:
    """0.45 EUR/kWh/day: 0 kWh, 5.00 EUR."""
    r = _solve(tmp_path, _day("invest(max = 20 kWh, cost = 0.45 EUR/kWh/day)"))
    assert r.investments["home.battery.capacity"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert r.total_cost == pytest.approx(5.00, abs=1e-9)


@pytest.mark.parametrize("rate", [0.05, 0.0])
def test_annuity_form(tmp_path: Path, rate: float) -> None:
    """capex 300 EUR/kWh over 15 years at 5 % (and at 0 %: capex / lifetime), pro rata for one
    day of the 365-day year: the standard annuity formula, below the 0.40 a kWh saves."""
    per_year = 300 * (rate / (1 - (1 + rate) ** -15) if rate else 1 / 15)
    per_day = per_year / 365
    text = _day(
        f"invest(max = 20 kWh, capex = 300 EUR/kWh, lifetime = 15 year, rate = {100 * rate:g} %)"
    )
    r = _solve(tmp_path, text)
    inv = r.investments["home.battery.capacity"]
    assert inv["value"] == pytest.approx(10.0, abs=1e-6)
    assert inv["cost"] == pytest.approx(10 * per_day, rel=1e-9)
    assert r.total_cost == pytest.approx(1.00 + 10 * per_day, rel=1e-9)


def test_flexibility_instead_of_reinforcement(tmp_path: Path) -> None:
    """b = 0.1: battery 10 kWh, feeder 10/12 kW, 3.00 EUR; the feeder is the DSO's cost."""
    r = _solve(tmp_path, _block("0.1 EUR/kWh/day"))
    assert r.investments["home.battery.capacity"]["value"] == pytest.approx(10.0, abs=1e-6)
    assert r.investments["street.connection"]["value"] == pytest.approx(10 / 12, abs=1e-6)
    assert r.total_cost == pytest.approx(3.00, abs=1e-9)
    assert r.money["dso_investment"] == pytest.approx(1.00, abs=1e-9)
    assert abs(r.money["residual"]) < 1e-9
    assert r.money["all_parties"] == pytest.approx(r.money["real_costs"], abs=1e-9)


def test_reinforcement_instead_of_flexibility(tmp_path: Path) -> None:
    """b = 2.0: no battery, feeder 10 kW, 17.00 EUR."""
    r = _solve(tmp_path, _block("2.0 EUR/kWh/day"))
    assert r.investments["home.battery.capacity"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert r.investments["street.connection"]["value"] == pytest.approx(10.0, abs=1e-6)
    assert r.total_cost == pytest.approx(17.00, abs=1e-9)


@pytest.mark.parametrize(
    ("capacity", "code"),
    [
        ("invest(cost = 0.1 EUR/kWh/day)", "E320"),  # no max
        ("invest(max = 20 kWh)", "E320"),  # neither cost nor capex
        ("invest(max = 20 kWh, cost = 0.1 EUR/kWh/day, capex = 300 EUR/kWh)", "E320"),
        ("invest(max = 20 kWh, capex = 300 EUR/kWh)", "E320"),  # no lifetime
        ("invest(max = 20 kWh, cost = 0.1 EUR/kW/day)", "E202"),  # a power's cost
        ("invest(max = 20 kW, cost = 0.1 EUR/kWh/day)", "E202"),  # max not an energy
        ("invest(max = 20 kWh, cost = 0.1 EUR/kWh/day, size = 3)", "E407"),
    ],
)
def test_invest_errors(tmp_path: Path, capacity: str, code: str) -> None:
    p = tmp_path / "d.peb"
    p.write_text(_day(capacity), encoding="utf-8")
    with pytest.raises(PebdslError) as ei:
        pebdsl.load(str(p))
    assert code in ei.value.codes, ei.value.render()


def test_invest_where_no_size_is_e321(tmp_path: Path) -> None:
    """A participant's connection and a price are not decisions (E321); a PV peak is
    (tests/test_sizing_pv.py)."""
    for text in (
        _day("10 kWh").replace(
            "participant home {",
            "participant home {\n  connection = invest(max = 5 kW, cost = 1 EUR/kW/day)",
        ),
        _day("10 kWh").replace(
            "buy  = price", "buy  = invest(max = 1 EUR/kWh, cost = 1 EUR/kWh/day)"
        ),
    ):
        p = tmp_path / "d.peb"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(PebdslError) as ei:
            pebdsl.load(str(p))
        assert "E321" in ei.value.codes, ei.value.render()


def test_format_keeps_invest_goals_and_choices() -> None:
    """The formatter prints invest(...), goals and choices back, and is idempotent."""
    text = _day("invest(max = 20 kWh, cost = 0.1 EUR/kWh/day)") + (
        "\ngoals {\n  peak_import <= 12 kW  # value 2\n  prefer local_trade >= 1 MWh\n}\n"
        "\nchoice storage {\n  variant none {\n    without home.battery\n  }\n"
        "  variant keep { }\n}\n"
    )
    once = format_source(text)
    assert format_source(once) == once
    for part in (
        "= invest(max = 20 kWh, cost = 0.1 EUR/kWh/day)",
        "peak_import <= 12 kW  # value 2",
        "prefer local_trade >= 1 MWh",
        "choice storage {",
        "without home.battery",
    ):
        assert part in once, part


SHARES = """design "Shares of a sized battery" {{
  currency = EUR
}}

horizon {{
  start    = 2021-06-07
  duration = 2 h
  step     = 1 h
}}

grid {{
  buy  = 0.30 EUR/kWh
  sell = 0 EUR/kWh
}}

participant home {{
  load    {{ profile = [0, 2] kW }}
  battery {{
    capacity   = invest(max = 20 kWh, cost = 0.24 EUR/kWh/day)
    power      = 10 kW
    {soc}
  }}
}}
"""


@pytest.mark.parametrize(
    ("soc", "size", "total"),
    [
        ("initial = 50 %", 4.0, 0.08),
        ("initial = 50 %; final = initial", 0.0, 0.60),
        ("initial = 50 %; min_soc = 25 %", 8.0, 0.16),
    ],
)
def test_soc_shares_are_of_the_size_chosen(
    tmp_path: Path, soc: str, size: float, total: float
) -> None:
    """`initial`, `min_soc` and `final` written as shares are shares of the size the model
    chooses, not of `max`. Two hours, load [0, 2] kW, buy 0.30, sell 0, 100 % efficiency; a
    kWh of capacity costs 0.24/24 = 0.01 EUR/h, 0.02 EUR over the horizon.
    - initial 50 %: the battery starts with 0.5·S kWh, which covers hour 1's 2 kWh at S = 4
      (each kWh of size costs 0.02 and brings 0.5 kWh worth 0.15): S = 4, cost 4 × 0.02 = 0.08,
      nothing bought. (Taken of max, it would start with 10 kWh whatever S: a 2 kWh battery
      holding the rest of the 10 kWh — energy from nowhere — for 0.04.)
    - final = initial: what it starts with it must end with: the 2 kWh are bought, 0.60, and
      a battery is worth nothing: S = 0. (Of max: S ≥ 10 to end with 10 kWh, 0.80.)
    - min_soc 25 %: usable 0.5·S − 0.25·S = 0.25·S = 2 → S = 8, 0.16 (< 0.60).
    The loss account closes: 100 % efficient, so no battery losses."""
    r = _solve(tmp_path, SHARES.format(soc=soc))
    assert r.investments["home.battery.capacity"]["value"] == pytest.approx(size, abs=1e-6)
    assert r.total_cost == pytest.approx(total, abs=1e-9)
    assert abs(r.money["residual"]) < 1e-9
    assert r.kpis["design"]["battery_losses_kwh"] == pytest.approx(0.0, abs=1e-9)
