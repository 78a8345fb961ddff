"""The price rule (`--prices midpoint|dual`) reaches designs with scenarios (issue 12).

The design (`KINK`), one hour, scenarios sunny 60 % / cloudy 40 %, staged grid: day-ahead
buy 0.10 / sell 0.05, intraday buy 0.20 / sell 0 EUR/kWh, each participant bids alone.
alice (load 1 kW, PV 3 kW in both scenarios) and bob (load 2 kW) form the pool `m`; carol is
the issue's hour outside the market (load 10 kW, PV 6 kW sunny / 0 cloudy).

Optimum: alice's surplus 2 kW meets bob's load exactly in the pool at no cost (nobody buys
or sells for them day-ahead or intraday); carol buys 4 kWh day-ahead (expected cost 0.88,
tests/test_stochastic.py), so the expected cost is 0.88.

The pool's price in scenario ω is its balance row's dual / π_ω, and the row is degenerate
(it clears exactly). Its valid interval, as derivatives of the expected cost:
- right (one more kWh to deliver in ω than received): bob buys it intraday in ω
  (π_ω · 0.20), or one day-ahead kWh for bob (0.10, in every scenario; in the other scenario
  alice's then spare kWh sells intraday at 0 or is curtailed: no cost). Sunny:
  min(0.6 · 0.20, 0.10) = 0.10; cloudy: min(0.4 · 0.20, 0.10) = 0.08.
- left (one more kWh received than delivered in ω): sold intraday at 0; a day-ahead sale
  earns 0.05 but must be bought back intraday in the other scenario (sunny's other: 0.4 · 0.20
  = 0.08; cloudy's: 0.6 · 0.20 = 0.12; both > 0.05): 0.
Divided by π_ω: sunny [0, 0.10 / 0.6 = 1/6], midpoint 1/12 = 0.08333; cloudy [0, 0.08 / 0.4
= 0.20], midpoint 0.10. With `prices="dual"` the price is the solver's dual / π_ω: somewhere
in those intervals (HiGHS's pick), and the rule recorded is "dual".
"""

from __future__ import annotations

import json

import pytest
from stochastic_texts import TWO_WEATHERS
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.load import load
from pebdsl.stochastic import StochasticResults, solve_stochastic
from pebdsl.study.compare import compare

KINK = (
    """design "kink" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 h; step = 1 h }
"""
    + TWO_WEATHERS
    + """participant alice {
  load { profile = 1 kW }
  pv   { profile = 3 kW }
}
participant bob { load { profile = 2 kW } }
participant carol {
  load { profile = 10 kW }
  pv   { profile = sun }
}
market m { type = pool; members = [alice, bob] }
"""
)

MIDPOINT = {"sunny": 1 / 12, "cloudy": 0.10}
INTERVAL = {"sunny": (0.0, 1 / 6), "cloudy": (0.0, 0.20)}


def _prices(r: StochasticResults) -> dict[str, float]:
    out = {}
    for s in r.scenarios:
        assert s.results is not None
        assert s.results.kpis["markets"]["m"]["price_rule"] == r.price_rule
        assert abs(s.results.money["residual"]) < 1e-6
        out[s.name] = float(s.results.markets_ts[("m", "price")].to_numpy()[0])
    return out


@pytest.fixture
def kink(tmp_path):  # type: ignore[no-untyped-def]
    f = tmp_path / "kink.peb"
    f.write_text(KINK)
    return f


def test_stochastic_prices_midpoint_by_default_dual_on_request(kink) -> None:  # type: ignore[no-untyped-def]
    """Default: each scenario's pool price is its interval's midpoint (module docstring:
    sunny 0.08333, cloudy 0.10), the rule "midpoint". `prices="dual"`: the rule "dual",
    each price within its interval; the expected cost 0.88 either way."""
    d = load(str(kink))
    mid = solve_stochastic(d)
    assert mid.expected_cost == pytest.approx(0.88, abs=1e-9)
    assert mid.price_rule == "midpoint"
    assert _prices(mid) == pytest.approx(MIDPOINT, abs=1e-9)
    dual = solve_stochastic(d, prices="dual")
    assert dual.expected_cost == pytest.approx(0.88, abs=1e-9)
    assert dual.price_rule == "dual"
    for name, p in _prices(dual).items():
        lo, hi = INTERVAL[name]
        assert lo - 1e-9 <= p <= hi + 1e-9


def test_compare_and_solve_pass_the_price_rule(kink) -> None:  # type: ignore[no-untyped-def]
    """`compare --prices` reaches a stochastic case: its scenarios' prices follow the rule,
    and the case's `results` (the most probable scenario, sunny) shows 0.08333 by default.
    `pebdsl solve --prices dual --json` records "dual" in the stochastic section, the
    default "midpoint"."""
    for rule in ("midpoint", "dual"):
        case = compare([str(kink)], prices=rule).case("base")
        assert case.stochastic is not None and case.stochastic.price_rule == rule
        assert case.results is not None
        assert case.results.kpis["markets"]["m"]["price_rule"] == rule
        if rule == "midpoint":
            got = float(case.results.markets_ts[("m", "price")].to_numpy()[0])
            assert got == pytest.approx(MIDPOINT["sunny"], abs=1e-9)
        args = ["solve", str(kink), "--json"] + (["--prices", "dual"] if rule == "dual" else [])
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["stochastic"]["price_rule"] == rule


def test_unknown_price_rule_is_coded() -> None:
    """A price rule other than midpoint|dual is E503, as for a deterministic solve."""
    from pebdsl.diagnostics import PebdslError
    from pebdsl.front.parser import parse
    from pebdsl.resolve import resolve

    with pytest.raises(PebdslError) as e:
        solve_stochastic(resolve(parse(KINK, "k.peb")), prices="cheapest")
    assert "E503" in {d.code for d in e.value.diagnostics}
