"""Two-stage stochastic designs (issue 12): hand-derived cases, language and errors.

Every expected number is derived by hand in the test's docstring. Notation: DA = day-ahead
(first stage, committed before the scenario is known), ID = intraday (second stage, per
scenario), EC = expected cost of the stochastic optimum, WS = wait-and-see (each scenario solved
alone, weighted), EEV = expected cost with the expected-value design's first stage fixed,
EVPI = EC − WS, VSS = EEV − EC.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stochastic_texts import TWO_WEATHERS
from strategies import designs as text_designs

from pebdsl.backends import solve_ir
from pebdsl.design import DayAhead, Design, Scenario, Stochastic
from pebdsl.diagnostics import PebdslError
from pebdsl.front.formatter import format_source
from pebdsl.front.parser import parse
from pebdsl.lower import lower
from pebdsl.resolve import resolve
from pebdsl.stochastic import solve_stochastic

HEAD = """design "s" { currency = EUR }
horizon { start = 2021-06-07; duration = %d h; step = 1 h }
"""

HAND = (
    HEAD % 1
    + "\n"
    + TWO_WEATHERS
    + """participant alice {
  load { profile = 10 kW }
  pv { profile = sun }
}
"""
)


def design(text: str, variant: str | None = None):  # type: ignore[no-untyped-def]
    return resolve(parse(text, "s.peb"), variant=variant)


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_issue_case_one_hour(backend: str) -> None:
    """Load 10 kW for 1 h; PV 6 kW (sunny, 60 %) or 0 (cloudy, 40 %); DA buy 0.10 / sell 0.05,
    ID buy 0.20 / sell 0 EUR/kWh.

    DA purchase q: sunny needs 4 kWh, cloudy 10. For q ≤ 4 each kWh costs 0.10 and saves 0.20
    in both scenarios; for 4 < q ≤ 10 it costs 0.10 and saves 0.40·0.20 = 0.08 (only cloudy
    needs it; the sunny surplus sells intraday at 0): so q = 4. EC = 0.4 + 0.4·(6·0.20) = 0.88;
    sunny costs 0.40, cloudy 1.60. WS: sunny alone 0.40, cloudy alone 10·0.10 = 1.00,
    WS = 0.6·0.40 + 0.4·1.00 = 0.64, EVPI = 0.24. EV design: PV 0.6·6 = 3.6 kW, so it buys
    6.4 kWh day-ahead; evaluated: sunny 0.64 (2.4 kWh sold at 0), cloudy 0.64 + 3.6·0.20 = 1.36,
    EEV = 0.6·0.64 + 0.4·1.36 = 0.928, VSS = 0.048."""
    r = solve_stochastic(design(HAND), backend=backend)
    assert r.expected_cost == pytest.approx(0.88, abs=1e-9)
    assert r.day_ahead_kwh["alice"][0] == pytest.approx(4.0, abs=1e-7)
    assert r.wait_and_see == pytest.approx(0.64, abs=1e-9)
    assert r.evpi == pytest.approx(0.24, abs=1e-9)
    assert r.eev == pytest.approx(0.928, abs=1e-9)
    assert r.vss == pytest.approx(0.048, abs=1e-9)
    cost = {s.name: s.cost for s in r.scenarios}
    assert cost == pytest.approx({"sunny": 0.40, "cloudy": 1.60}, abs=1e-9)
    cloudy = next(s for s in r.scenarios if s.name == "cloudy")
    assert cloudy.results is not None  # read like a deterministic solve: bills close
    assert cloudy.results.bills is not None
    assert cloudy.results.bills.loc["alice", "grid_purchases"] == pytest.approx(1.6, abs=1e-9)
    assert cloudy.net_demand_kwh["alice"][0] == pytest.approx(10.0, abs=1e-7)
    assert cloudy.intraday_kwh["alice"][0] == pytest.approx(6.0, abs=1e-7)
    doc = r.to_json()
    assert doc["scenarios"]["sunny"]["probability"] == pytest.approx(0.6)
    assert doc["evpi"] == pytest.approx(0.24, abs=1e-9)


BATTERY = (
    HEAD % 2
    + """
scenarios { sunny = 50 %; cloudy = 50 % }
series sun = by_scenario { sunny = [0, 10] kW; cloudy = [0, 0] kW }
grid {
  day_ahead { buy = [0.10, 0.30] EUR/kWh; sell = 0 EUR/kWh }
  intraday  { buy = 0.40 EUR/kWh; sell = 0 EUR/kWh }
}
participant alice {
  load { profile = [0, 10] kW }
  pv { profile = sun }
  battery { capacity = 10 kWh; power = 10 kW }
}
"""
)


def test_battery_stores_the_cheap_day_ahead_hour() -> None:
    """Two hours; load 0 then 10 kW; PV 10 kW in hour 2 when sunny (50 %), none when cloudy;
    DA 0.10 then 0.30, ID 0.40 EUR/kWh (sales earn 0); a 10 kWh / 10 kW lossless battery.

    Buying a kWh DA in hour 1 into the battery costs 0.10 and saves 0.5·0.40 = 0.20 (cloudy
    only), so it buys 10 kWh in hour 1 and nothing in hour 2 (0.30 > 0.20): EC = 1.00 (both
    scenarios cost 1.00). WS: sunny 0, cloudy 1.00 ⇒ 0.50, EVPI = 0.50. EV design: PV 5 kW, so
    it buys 5 kWh in hour 1; evaluated: sunny 0.50, cloudy 0.50 + 5·0.40 = 2.50, EEV = 1.50,
    VSS = 0.50."""
    r = solve_stochastic(design(BATTERY))
    assert r.expected_cost == pytest.approx(1.0, abs=1e-9)
    assert r.day_ahead_kwh["alice"].tolist() == pytest.approx([10.0, 0.0], abs=1e-7)
    assert r.evpi == pytest.approx(0.5, abs=1e-9)
    assert r.vss == pytest.approx(0.5, abs=1e-9)


STAGE1 = (
    HEAD % 2
    + """
scenarios { sunny = 50 %; cloudy = 50 % }
series sun = by_scenario { sunny = [10, 0] kW; cloudy = [0, 0] kW }
grid {
  day_ahead { buy = 0.30 EUR/kWh; sell = 0 EUR/kWh }
  intraday  { buy = [0.80, 0.50] EUR/kWh; sell = 0 EUR/kWh }
}
participant alice {
  load { profile = [0, 10] kW }
  pv { profile = sun }
  battery { capacity = 10 kWh; power = 10 kW }
}
variant committed { set alice.battery.stage = 1 }
"""
)


def test_battery_committed_day_ahead_costs_more() -> None:
    """Two hours; load 0 then 10 kW; PV 10 kW in hour 1 when sunny (50 %); DA 0.30, ID 0.80
    then 0.50 EUR/kWh; a 10 kWh lossless battery.

    Stage 2 (default): sunny stores its PV and needs nothing; cloudy buys 10 kWh ID in hour 2
    (0.5·0.50 = 0.25 expected per kWh < 0.30 DA), so no DA purchase: EC = 0.5·5.00 = 2.50.
    Stage 1 (`stage = 1`, one schedule for both): charging c kWh in hour 1 in both scenarios
    costs cloudy c kWh in hour 1, cheapest DA (0.30 < 0.5·0.80 = 0.40), and the remaining
    10 − c in hour 2 also DA (0.30 < 0.5·0.50·2 = 0.50 for a kWh both scenarios need): every kWh
    costs 0.30, EC = 3.00 whatever c."""
    assert solve_stochastic(design(STAGE1)).expected_cost == pytest.approx(2.5, abs=1e-9)
    committed = solve_stochastic(design(STAGE1, "committed"))
    assert committed.expected_cost == pytest.approx(3.0, abs=1e-9)


P2P = (
    HEAD % 1
    + """
scenarios { sunny = 60 %; cloudy = 40 % }
series sun = by_scenario { sunny = 10 kW; cloudy = 0 kW }
grid {
  day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }
  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }
}
participant alice { pv { profile = sun } }
participant bob { load { profile = 10 kW } }
market street { type = p2p; members = [alice, bob] }
variant alone { without market street }
"""
)


def test_p2p_lowers_the_expected_cost() -> None:
    """One hour; alice has PV 10 kW when sunny (60 %), bob a 10 kW load; DA 0.10/0.05, ID
    0.20/0, each participant bids alone.

    With the free p2p market, sunny: alice's PV serves bob; a DA kWh for bob costs 0.10 and
    saves 0.4·0.20 = 0.08 (cloudy only), so bob buys nothing DA; alice selling DA (0.05) would
    have to buy it back ID when cloudy (0.4·0.20 = 0.08 > 0.05): EC = 0.4·2.00 = 0.80. WS: sunny
    0, cloudy 1.00 ⇒ 0.40, EVPI = 0.40. EV: PV 6, bob buys 4 DA; evaluated: sunny 0.40, cloudy
    0.40 + 6·0.20 = 1.60 ⇒ EEV = 0.88, VSS = 0.08.
    Without the market bob needs 10 kWh in both scenarios (DA 1.00) and alice's PV sells at ID 0
    (selling it DA would cost 0.08 expected buy-back for 0.05): EC = 1.00. Knowing the weather,
    sunny alice would sell 10 kWh DA (−0.50): WS = 0.6·0.50 + 0.4·1.00 = 0.70, EVPI = 0.30."""
    r = solve_stochastic(design(P2P))
    assert r.expected_cost == pytest.approx(0.8, abs=1e-9)
    assert r.evpi == pytest.approx(0.4, abs=1e-9)
    assert r.vss == pytest.approx(0.08, abs=1e-9)
    alone = solve_stochastic(design(P2P, "alone"))
    assert alone.expected_cost == pytest.approx(1.0, abs=1e-9)
    assert alone.evpi == pytest.approx(0.3, abs=1e-9)


BLOCK = (
    HEAD % 1
    + """
scenarios { sunny = 60 %; cloudy = 40 % }
series sun = by_scenario { sunny = 10 kW; cloudy = 0 kW }
grid {
  day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }
  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }
  bidder = block
}
block street {
  connection = 12 kW
  participant alice { pv { profile = sun } }
  participant bob { load { profile = 10 kW } }
}
variant each { set grid.bidder = participant }
"""
)


def test_block_bids_its_net_position() -> None:
    """The p2p case without a market, alice and bob in one block behind a 12 kW connection.

    `bidder = block`: the block's position is its net exchange, so sunny needs 0 and cloudy
    10 kWh; as in the p2p case a DA kWh costs 0.10 and saves 0.08: EC = 0.4·2.00 = 0.80, with
    the position reported under the block's name. `bidder = participant`: bob must cover his
    10 kWh himself in both scenarios (DA 1.00) while alice's surplus earns ID 0: EC = 1.00."""
    r = solve_stochastic(design(BLOCK))
    assert r.expected_cost == pytest.approx(0.8, abs=1e-9)
    assert set(r.day_ahead_kwh) == {"street"}
    # Cloudy: the block buys 10 kWh intraday at 0.20 = 2.00, all of it bob's import; sunny
    # costs nothing. Expected bills: bob 0.4 × 2.00 = 0.80, alice 0.
    assert r.expected_bills() == pytest.approx({"alice": 0.0, "bob": 0.8}, abs=1e-9)
    each = solve_stochastic(design(BLOCK, "each"))
    assert each.expected_cost == pytest.approx(1.0, abs=1e-9)
    assert set(each.day_ahead_kwh) == {"alice", "bob"}


def test_community_bidder_and_variants_edit_scenarios() -> None:
    """A variant replaces the probabilities (`set scenarios.sunny = …`) and adds a scenario.

    `certain`: sunny 100 %, cloudy 0 % is rejected (a probability must be > 0), so the variant
    removes cloudy and sets sunny = 100 %: EC = WS = 0.40 (4 kWh DA), EVPI = 0. `rainy` adds a
    third scenario only where a by_scenario names it: the base's by_scenario misses it (E351)."""
    text = HAND.replace("grid {", "grid {\n  bidder = community") + (
        "variant certain { without scenarios.cloudy; set scenarios.sunny = 100 % }\n"
    )
    base = design(text)
    assert base.grid.bidder == "community"
    r = solve_stochastic(design(text, "certain"))
    assert r.expected_cost == pytest.approx(0.4, abs=1e-9)
    assert r.evpi == pytest.approx(0.0, abs=1e-9)
    assert set(r.day_ahead_kwh) == {"community"}
    with pytest.raises(PebdslError) as e:
        design(text + "variant rainy { scenarios { rainy = 0 % } }\n", "rainy")
    assert "E350" in {d.code for d in e.value.diagnostics}


def test_expected_value_design_is_the_probability_weighted_mean() -> None:
    """`by_scenario` in the design itself is Σ π·branch: 0.6·6 + 0.4·0 = 3.6 kW of PV; each
    scenario's design holds its own branch (6 and 0)."""
    d = design(HAND)
    assert d.participants["alice"].generation[0].profile_kw[0] == pytest.approx(3.6)
    assert d.stochastic is not None
    got = {
        n: x.participants["alice"].generation[0].profile_kw[0]
        for n, x in d.stochastic.designs.items()
    }
    assert got == {"sunny": 6.0, "cloudy": 0.0}


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        ("sunny  = 60 %; cloudy = 40 %", None),
        ("sunny  = 60 %; cloudy = 30 %", "E350"),
        ("sunny  = 0 %; cloudy = 100 %", "E350"),
        ("sunny  = 0.6; cloudy = 0.4", None),
        ("count = 0", "E350"),
        ("count = 3; pv_eror = 10 %", "E104"),
    ],
)
def test_scenario_errors(edit: str, code: str | None) -> None:
    """Probabilities must sum to 100 % (E350), each in (0, 100 %]; generator settings are
    checked (E350 range, E104 unknown with a suggestion)."""
    text = HAND.replace("sunny = 60 %; cloudy = 40 %", edit)
    if "count" in edit:
        text = text.replace("by_scenario { sunny = 6 kW; cloudy = 0 kW }", "6 kW")
    if code is None:
        design(text)
        return
    with pytest.raises(PebdslError) as e:
        design(text)
    assert code in {d.code for d in e.value.diagnostics}


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ("by_scenario { sunny = 6 kW }", "misses scenario `cloudy`"),
        ("by_scenario { sunny = 6 kW; cloudy = 0 kW; snowy = 1 kW }", "unknown scenario"),
        ("by_scenario { sunny = 6 kW; sunny = 1 kW; cloudy = 0 kW }", "named twice"),
    ],
)
def test_by_scenario_names_every_scenario_once(series: str, message: str) -> None:
    """A by_scenario names each declared scenario exactly once (E351)."""
    text = HAND.replace("by_scenario { sunny = 6 kW; cloudy = 0 kW }", series)
    with pytest.raises(PebdslError) as e:
        design(text)
    diag = e.value.diagnostics[0]
    assert diag.code == "E351" and message in diag.message


def test_by_scenario_needs_scenarios() -> None:
    """Without `scenarios` a by_scenario has nothing to name (E351)."""
    text = HAND.replace("scenarios { sunny = 60 %; cloudy = 40 % }\n", "")
    with pytest.raises(PebdslError) as e:
        design(text)
    assert e.value.diagnostics[0].code == "E351"


def test_staged_grid_errors() -> None:
    """A staged grid needs both stages (E301) and takes no top-level buy (E307); `bidder` on a
    grid without stages is E307."""
    no_intraday = HAND.replace("  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }\n", "")
    top_buy = HAND.replace("grid {", "grid {\n  buy = 0.3 EUR/kWh")
    bidder = (HEAD % 1) + "grid { buy = 0.3 EUR/kWh; bidder = block }\nparticipant a { }\n"
    for text, code in ((no_intraday, "E301"), (top_buy, "E307"), (bidder, "E307")):
        with pytest.raises(PebdslError) as e:
            design(text)
        assert code in {d.code for d in e.value.diagnostics}, text


def test_formatter_round_trips_stochastic_syntax() -> None:
    """fmt keeps scenarios, by_scenario and the grid's stages, and is idempotent."""
    once = format_source(HAND)
    assert "by_scenario { sunny = 6 kW; cloudy = 0 kW }" in once
    assert "day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }" in once
    assert format_source(once) == once
    assert parse(once) == parse(HAND)


# --- properties on generated designs ------------------------------------------------------------

N_PROPS = 40 if os.environ.get("CI") else 15
PROPS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
# (probability, load factor, generation factor) of the three scenarios of a generated design.
THREE = ((0.3, 0.9, 1.2), (0.4, 1.0, 1.0), (0.3, 1.1, 0.5))


def _scaled(d: Design, load: float, gen: float) -> Design:
    parts = {}
    for n, p in d.participants.items():
        gens = tuple(replace(g, profile_kw=g.profile_kw * gen) for g in p.generation)
        ld = replace(p.load, profile_kw=p.load.profile_kw * load) if p.load else None
        parts[n] = replace(p, generation=gens, load=ld)
    return replace(d, participants=parts)


def _staged(d: Design, markup: float, bidder: str) -> Design:
    """`d` with a staged grid: DA = its prices, ID buy × (1 + markup), ID sell × (1 − markup)."""
    g = d.grid
    sell = None if g.sell_per_kwh is None else g.sell_per_kwh * (1 - markup)
    grid = replace(
        g,
        buy_per_kwh=g.buy_per_kwh * (1 + markup),
        sell_per_kwh=sell,
        day_ahead=DayAhead(g.buy_per_kwh, g.sell_per_kwh),
        bidder=bidder,  # type: ignore[arg-type]
    )
    return replace(d, grid=grid)


def _stochastic(d: Design, rows: tuple[tuple[float, float, float], ...]) -> Design:
    """The expected-value design of `rows` with each scenario's design attached."""
    mean_load = sum(p * lf for p, lf, _ in rows)
    mean_gen = sum(p * gf for p, _, gf in rows)
    scen = tuple(Scenario(f"w{i}", p) for i, (p, _, _) in enumerate(rows))
    designs = {f"w{i}": _scaled(d, lf, gf) for i, (_, lf, gf) in enumerate(rows)}
    return replace(_scaled(d, mean_load, mean_gen), stochastic=Stochastic(scen, designs))


def _base(text: str) -> Design:
    from pebdsl.source import SourceFile

    src = SourceFile("<generated>", text)
    d = resolve(parse(text, src.path), src)
    sell = d.grid.sell_per_kwh
    # A sale dearer than a purchase is an arbitrage the staged model bounds differently.
    assume(sell is None or bool(np.all(sell <= d.grid.buy_per_kwh)))
    return d


@settings(max_examples=N_PROPS, **PROPS)  # type: ignore[arg-type]
@given(text=text_designs())
def test_one_scenario_with_equal_prices_is_the_deterministic_design(text: str) -> None:
    """One scenario (π = 1) with day-ahead prices = intraday prices = the grid's, each
    participant bidding alone: the two stages are one market, so the extensive form's optimum
    is the deterministic objective. (A block or community bidder nets its members' exchange,
    which a deterministic design without a market does not: a different design.)"""
    d = _base(text)
    det = solve_ir(lower(d))
    assume(det.ok)
    one = _stochastic(_staged(d, 0.0, "participant"), ((1.0, 1.0, 1.0),))
    r = solve_stochastic(one)
    scale = max(1.0, abs(det.objective))
    assert r.expected_cost == pytest.approx(det.objective, abs=1e-7 * scale)
    assert r.evpi == pytest.approx(0.0, abs=1e-7 * scale)


@settings(max_examples=N_PROPS, **PROPS)  # type: ignore[arg-type]
@given(
    text=text_designs(),
    markup=st.sampled_from([0.1, 0.5]),
    bidder=st.sampled_from(["participant", "block", "community"]),
)
def test_stochastic_bounds_on_generated_designs(text: str, markup: float, bidder: str) -> None:
    """Three scenarios (loads × 0.9/1.0/1.1, generation × 1.2/1.0/0.5): WS ≤ EC ≤ EEV (so
    EVPI ≥ 0 and VSS ≥ 0), the expected cost is Σ π·(scenario cost) (each scenario's money
    adds up to the objective), and the Pyomo backend finds the same expected cost."""
    d = _staged(_base(text), markup, bidder)
    try:
        r = solve_stochastic(_stochastic(d, THREE))
    except PebdslError as e:
        assume(e.diagnostics[0].code not in ("E501", "E502"))
        raise
    scale = max(1.0, abs(r.expected_cost))
    tol = 1e-7 * scale
    assert r.evpi >= -tol
    assert r.wait_and_see <= r.expected_cost + tol
    if r.eev is not None:
        assert r.vss is not None and r.vss >= -tol
    weighted = sum(s.probability * s.cost for s in r.scenarios)
    assert weighted == pytest.approx(r.expected_cost, abs=tol)
    for s in r.scenarios:
        assert s.alone <= s.cost + tol  # perfect information never costs more in a scenario
        # Money closes in every scenario: the bills add up to the scenario's real cost.
        assert s.results is not None
        assert abs(s.results.money["residual"]) < tol, s.results.money
    py = solve_stochastic(_stochastic(d, THREE), backend="pyomo")
    assert py.expected_cost == pytest.approx(r.expected_cost, abs=1e-6 * scale)


def test_zepter_design_structure_of_savings() -> None:
    """designs/zepter2019_pcdg.peb (docs/stochastic.md): Zepter et al. (2019) find that P2P
    trade and storage each lower the community's expected cost and that both together lower it
    most. Checked as that structure (the numbers are in docs/stochastic.md): every option below
    `neither`, both below each alone; and the stochastic bounds WS ≤ EC ≤ EEV in every case."""
    from pathlib import Path

    from pebdsl.load import load

    path = str(Path(__file__).resolve().parent.parent / "designs" / "zepter2019_pcdg.peb")
    cost = {}
    for v in (None, "neither", "p2p_only", "storage_only"):
        r = solve_stochastic(load(path, variant=v))
        assert r.wait_and_see <= r.expected_cost + 1e-7
        assert r.eev is not None and r.expected_cost <= r.eev + 1e-7
        cost[v] = r.expected_cost
    assert cost["p2p_only"] < cost["neither"] and cost["storage_only"] < cost["neither"]
    assert cost[None] < min(cost["p2p_only"], cost["storage_only"])


def test_cli_solve_stochastic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`pebdsl solve` on the issue's case: the summary says EVPI and VSS in words, --json has
    the stochastic section (0.88, 0.24, 0.048 as derived above), --out writes results.json, the
    report and each scenario's own outputs."""
    from typer.testing import CliRunner

    from pebdsl.cli import app

    f = tmp_path / "hand.peb"
    f.write_text(HAND)
    runner = CliRunner()
    text = runner.invoke(app, ["solve", str(f)])
    assert text.exit_code == 0, text.output
    assert "EVPI" in text.output and "VSS" in text.output
    res = runner.invoke(app, ["solve", str(f), "--json", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    st_doc = doc["stochastic"]
    assert st_doc["expected_cost"] == pytest.approx(0.88)
    assert st_doc["evpi"] == pytest.approx(0.24)
    assert st_doc["vss"] == pytest.approx(0.048)
    assert st_doc["scenarios"]["cloudy"]["bills"] == {"alice": pytest.approx(1.6)}
    out = tmp_path / "out"
    assert json.loads((out / "results.json").read_text())["stochastic"]["evpi"] == (
        pytest.approx(0.24)
    )
    assert "scenarios/sunny/report.html" in (out / "report.html").read_text()
    sunny = json.loads((out / "scenarios" / "sunny" / "results.json").read_text())
    assert sunny["objective"]["value"] == pytest.approx(0.4)


def test_csv_columns_and_generator_seeds_per_scenario(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`csv(…, columns = scenarios)` reads the scenario's own column: a CSV with sunny = 6 and
    cloudy = 0 kW gives the issue's case again (0.88, EVPI 0.24, VSS 0.048). `seed = scenario`
    draws one realisation per scenario (seed 1 for the first, 2 for the second): each
    scenario's PV equals the generator's with that seed, and the design's own is their
    probability-weighted mean."""
    (tmp_path / "pv.csv").write_text("time,sunny,cloudy\n2021-06-07T00:00:00+00:00,6,0\n")
    text = HAND.replace(
        "by_scenario { sunny = 6 kW; cloudy = 0 kW }",
        'csv("pv.csv", columns = scenarios, unit = kW)',
    )
    (tmp_path / "c.peb").write_text(text)
    from pebdsl.load import load

    r = solve_stochastic(load(str(tmp_path / "c.peb")))
    assert (r.expected_cost, r.evpi, r.vss) == pytest.approx((0.88, 0.24, 0.048), abs=1e-9)
    day = HAND.replace("duration = 1 h", "duration = 1 d").replace(
        "by_scenario { sunny = 6 kW; cloudy = 0 kW }", "solar(51.5, 0, seed = scenario) * 5 kW"
    )
    d = design(day)
    assert d.stochastic is not None
    own = {
        n: x.participants["alice"].generation[0].profile_kw for n, x in d.stochastic.designs.items()
    }
    seeded = [design(day.replace("seed = scenario", f"seed = {k}")) for k in (1, 2)]
    ref = [s.participants["alice"].generation[0].profile_kw for s in seeded]
    np.testing.assert_allclose(own["sunny"], ref[0])
    np.testing.assert_allclose(own["cloudy"], ref[1])
    mean = d.participants["alice"].generation[0].profile_kw
    np.testing.assert_allclose(mean, 0.6 * ref[0] + 0.4 * ref[1])
    assert not np.allclose(ref[0], ref[1])
