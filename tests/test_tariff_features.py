"""Issue 11's tariff features, each on a small design whose result is derived by hand.

A month-varying capacity price across a month boundary; the household kapasitetsledd (mean of
the three highest daily peaks); a stepped capacity charge solved as a MIP where the step changes
the optimum; VAT on a household bill; a battery that is away in some steps (V2G cars) and
takes energy with it; a market exempt from the DSO's charges (delingsordning). Every expected
number is derived in the test's docstring.
"""

from __future__ import annotations

import pytest

from pebdsl.diagnostics import PebdslError
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve
from pebdsl.results import Results
from pebdsl.solve import solve

TOL = 1e-6


def run(text: str) -> Results:
    res = solve(resolve(parse(text, "t.peb")))
    assert res.status == "optimal"
    assert abs(res.money["residual"]) < TOL, res.money
    return res


def bill(res: Results, who: str, col: str = "total") -> float:
    assert res.bills is not None
    return float(res.bills.loc[who, col])


HEAD = 'design "t" { currency = NOK }\n'


def test_capacity_price_by_month_across_a_month_boundary() -> None:
    """10 kW for 24 h on 30 April and 24 h on 1 May; Tensio's winter price 49 NOK/kW/month in
    April, summer 33 in May (month_table), billed pro rata:
    49·10·24/720 + 33·10·24/744 = 16.3333 + 10.6452 = 26.9785 NOK; energy is free."""
    res = run(
        HEAD
        + 'horizon { start = 2023-04-30; duration = 2 d; step = 1 h; timezone = "Europe/Oslo" }\n'
        "grid { buy = 0 NOK/kWh }\n"
        "series cap = month_table(49, 49, 49, 49, 33, 33, 33, 33, 33, 33, 49, 49)"
        " * 1 NOK/kW/month\n"
        "participant a { load { profile = 10 kW } }\n"
        "dso { capacity_charge = cap }\n"
    )
    expected = 49 * 10 * 24 / 720 + 33 * 10 * 24 / 744
    assert bill(res, "a", "capacity_charges") == pytest.approx(expected, rel=1e-9)
    assert res.total_cost == pytest.approx(expected, rel=1e-9)


def test_capacity_price_must_hold_for_a_month() -> None:
    """A capacity price that changes inside a month is E315."""
    with pytest.raises(PebdslError) as e:
        resolve(
            parse(
                HEAD + "horizon { start = 2023-04-30; duration = 2 d; step = 1 h }\n"
                "grid { buy = 0 NOK/kWh }\n"
                "participant a { load { profile = 10 kW } }\n"
                "dso { capacity_charge = daily [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,"
                " 16, 17, 18, 19, 20, 21, 22, 23, 24] NOK/kW/month }\n",
                "t.peb",
            )
        )
    assert [d.code for d in e.value.diagnostics] == ["E315"]


DAYS = (
    HEAD + 'horizon { start = 2023-03-06; duration = 5 d; step = 1 d; timezone = "Europe/Oslo" }\n'
    "grid { buy = 1 NOK/kWh }\n"
)


def test_top3_daily_peaks_mean() -> None:
    """Five daily steps (6-10 March) with 4, 3, 5, 2, 1 kW: the three highest daily peaks are
    5, 4 and 3 kW, mean 4 kW; at 30 NOK/kW/month for 120 of March's 743 hours (summer time
    starts on 26 March in Europe/Oslo): 30·4·120/743 = 19.3809 NOK. The business neighbour on
    the highest hour pays 30·5·120/743 = 24.2261. Energy: 15 kW·day = 360 kWh at 1 NOK each."""
    res = run(
        DAYS + "participant flat { load { profile = [4, 3, 5, 2, 1] kW }\n"
        "  class = household; capacity_peak = top3_days }\n"
        "participant shop { load { profile = [4, 3, 5, 2, 1] kW } }\n"
        "dso { capacity_charge = 30 NOK/kW/month }\n"
    )
    assert bill(res, "flat", "capacity_charges") == pytest.approx(30 * 4 * 120 / 743, rel=1e-9)
    assert bill(res, "shop", "capacity_charges") == pytest.approx(30 * 5 * 120 / 743, rel=1e-9)
    assert bill(res, "flat", "grid_purchases") == pytest.approx(360.0, rel=1e-9)


STEPPED = (
    'horizon {{ start = 2023-03-01; duration = 2 h; step = 1 h; timezone = "Europe/Oslo" }}\n'
    "grid {{ buy = 1 NOK/kWh }}\n"
    "participant flat {{\n"
    "  load {{ profile = [3, 1] kW }}\n"
    "  battery {{ capacity = 1 kWh; power = 1 kW; initial = 100 %; final = initial;"
    " throughput_cost = {cost} NOK/kWh }}\n"
    "  class = household\n"
    "  capacity_steps = [2, 5] kW\n"
    "  capacity_step_prices = [100, 200] NOK/month\n"
    "}}\n"
)


@pytest.mark.parametrize("cost, shaves", [(0.1, True), (0.2, False)])
def test_stepped_tariff_step_changes_the_optimum(cost: float, shaves: bool) -> None:
    """Load 3 kW then 1 kW (two hours of March); steps up to 2 kW cost 100 NOK/month, up to
    5 kW 200, billed for 2 of March's 743 hours (summer time starts on the 26th): 0.26918 or
    0.53836 NOK. The battery (1 kWh, ends as
    it started) can shave the first hour to 2 kW by discharging 1 kWh and recharging it in the
    second hour, for 2·cost of throughput; energy costs 4 NOK either way.
    cost 0.1: 0.2 < 0.53836 − 0.26918 = 0.26918, so it shaves: 4 + 0.2 + 0.26918 = 4.46918.
    cost 0.2: 0.4 > 0.26918, it does not: 4 + 0.53836 = 4.53836.
    The LP relaxation would price the step linearly between 2 and 5 kW (33.3 NOK/kW/month, a
    saving of 0.0896 NOK for the 1 kW shaved) and never shave: the integer step decides."""
    res = run(HEAD + STEPPED.format(cost=cost))
    share = 2 / 743
    step = 100 * share if shaves else 200 * share
    expected = 4 + (2 * cost if shaves else 0.0) + step
    assert res.total_cost == pytest.approx(expected, rel=1e-9)
    assert bill(res, "flat", "capacity_charges") == pytest.approx(step, rel=1e-9)
    assert [n["code"] for n in res.notes if n["code"] == "N105"] == ["N105"]


def test_vat_on_a_household_bill() -> None:
    """2 kW for 2 h at 1 NOK/kWh and an energy charge of 0.1 NOK/kWh: 4 + 0.4 NOK. The
    household (vat = 25 %) pays 0.25·4.4 = 1.1 NOK VAT, 5.5 in all; the business pays 4.4."""
    res = run(
        HEAD + "horizon { start = 2023-03-01; duration = 2 h; step = 1 h }\n"
        "grid { buy = 1 NOK/kWh }\n"
        "template household { class = household; vat = 25 % }\n"
        "participant flat from household { load { profile = 2 kW } }\n"
        "participant shop { load { profile = 2 kW } }\n"
        "dso { energy_charge = 0.1 NOK/kWh }\n"
    )
    assert bill(res, "flat", "vat") == pytest.approx(1.1, rel=1e-9)
    assert bill(res, "flat") == pytest.approx(5.5, rel=1e-9)
    assert bill(res, "shop") == pytest.approx(4.4, rel=1e-9)
    assert bill(res, "state", "vat") == pytest.approx(-1.1, rel=1e-9)
    assert res.total_cost == pytest.approx(9.9, rel=1e-9)


def test_battery_away_in_some_steps_takes_its_energy() -> None:
    """A 2 kWh / 2 kW fleet battery, prices 0.1, 1, 1 NOK/kWh, load 0, 0, 2 kW. Half of it
    leaves for the second hour with its cars full (departure_soc 100 %: 1 kWh leaves) and comes
    back empty (arrival_soc 0 %). Best: charge 2 kWh in hour 1 (0.2 NOK), 1 kWh leaves, 1 kWh
    serves hour 3, the grid the other 1 kWh (1 NOK): 1.2 NOK. Always available it would be
    0.2 NOK (2 kWh charged cheaply, all used)."""
    base = (
        "horizon {{ start = 2023-03-01; duration = 3 h; step = 1 h }}\n"
        "grid {{ buy = [0.1, 1, 1] NOK/kWh }}\n"
        "participant p {{ load {{ profile = [0, 0, 2] kW }}\n"
        "  battery {{ capacity = 2 kWh; power = 2 kW {extra} }} }}\n"
    )
    extra = "; available = [1, 0.5, 1]; arrival_soc = 0 %; departure_soc = 100 %"
    away = run(HEAD + base.format(extra=extra))
    assert away.total_cost == pytest.approx(1.2, rel=1e-9)
    always = run(HEAD + base.format(extra=""))
    assert always.total_cost == pytest.approx(0.2, rel=1e-9)


def test_exempt_market_pays_no_charges_at_the_buyers_meter() -> None:
    """The delingsordning: a co-op's 4 kW of PV shared with a flat using 4 kW, energy charge
    0.3 NOK/kWh, grid buy 1, sell 0 NOK/kWh, one hour. Through a market on the meter basis the
    flat pays the energy charge on its 4 kWh (1.2 NOK): the co-op's own grid export earns 0,
    so sharing still beats importing (4 + 1.2 = 5.2). With `charge_on = purchase` on the
    market, the shared kWh leave the flat's charged meter: total cost 0."""
    text = (
        "horizon {{ start = 2023-06-01; duration = 1 h; step = 1 h }}\n"
        "grid {{ buy = 1 NOK/kWh; sell = 0 NOK/kWh }}\n"
        "participant coop {{ pv {{ profile = 4 kW }} }}\n"
        "participant flat {{ load {{ profile = 4 kW }} }}\n"
        "market deling {{ type = pool; members = [coop, flat] {extra} }}\n"
        "dso {{ energy_charge = 0.3 NOK/kWh }}\n"
    )
    charged = run(HEAD + text.format(extra=""))
    assert charged.total_cost == pytest.approx(1.2, rel=1e-9)
    exempt = run(HEAD + text.format(extra="; charge_on = purchase"))
    assert exempt.total_cost == pytest.approx(0.0, abs=1e-9)


def test_report_sums_bills_by_customer_class() -> None:
    """Two flats (household: 25 % VAT) draw 2 kW each and a shop (no tariff: business) 3 kW,
    for 2 h of March at 1 NOK/kWh, energy charge 0.1 NOK/kWh, capacity charge 744 NOK/kW/month
    billed pro rata 2/744 h = 2 NOK per kW of peak. A flat: grid 4, energy 0.4, capacity 4,
    VAT 0.25·8.4 = 2.1, bill 10.5. Households: 2 meters, 8 kWh, energy 0.8, capacity 8, VAT 4.2,
    bill 21.0, 10.5 per meter, 21/8 = 2.625 NOK/kWh. The shop: 6 kWh, energy 0.6, capacity 6,
    no VAT, bill 12.6 (2.1 NOK/kWh). All: 3 meters, 14 kWh, bill 33.6 = the total cost."""
    from pebdsl.present.report import render_report
    from pebdsl.present.report.classes import class_figures, class_table, classes_of

    res = run(
        HEAD + "horizon { start = 2023-03-01; duration = 2 h; step = 1 h }\n"
        "grid { buy = 1 NOK/kWh }\n"
        "template household { class = household; vat = 25 % }\n"
        "participant flat1 from household { load { profile = 2 kW } }\n"
        "participant flat2 from household { load { profile = 2 kW } }\n"
        "participant shop { load { profile = 3 kW } }\n"
        "dso { energy_charge = 0.1 NOK/kWh; capacity_charge = 744 NOK/kW/month }\n"
    )
    groups = classes_of(res)
    assert groups == {"household": ["flat1", "flat2"], "business": ["shop"]}
    hh = class_figures(res, groups["household"])
    expected_hh = {
        "meters": 2, "demand_kwh": 8.0, "grid_import_kwh": 8.0, "energy_charges": 0.8,
        "capacity_charges": 8.0, "vat": 4.2, "bill": 21.0, "bill_per_meter": 10.5,
        "bill_per_kwh": 2.625,
    }  # fmt: skip
    assert hh == pytest.approx(expected_hh, rel=1e-9)
    shop = class_figures(res, groups["business"])
    assert (shop["vat"], shop["capacity_charges"], shop["bill"]) == pytest.approx((0, 6, 12.6))
    assert shop["bill_per_kwh"] == pytest.approx(2.1)
    table = class_table(res)
    assert table is not None
    assert [r["name"] for r in table["rows"]] == ["household", "business", "all"]
    every = table["rows"][-1]["cells"]
    assert (every[0], every[1], every[6]) == ("3", "14", "33.60")
    assert res.total_cost == pytest.approx(33.6, rel=1e-9)
    html = render_report(res)
    assert "Bills by customer class" in html and "2.6250" in html


def test_no_class_section_without_tariffs() -> None:
    """One meter on the DSO's tariff: every participant is in one class, no section."""
    from pebdsl.present.report.classes import class_table

    res = run(
        HEAD + "horizon { start = 2023-03-01; duration = 2 h; step = 1 h }\n"
        "grid { buy = 1 NOK/kWh }\n"
        "participant shop { load { profile = 3 kW } }\n"
    )
    assert class_table(res) is None
