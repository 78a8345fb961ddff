"""Rolling operation (issue 12, acceptance 3): limited foresight against perfect foresight.

Expected numbers are derived by hand in each docstring.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.diagnostics import PebdslError
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve
from pebdsl.stochastic import solve_rolling

ROLL = """design "roll" { currency = EUR }
horizon { start = 2021-06-07; duration = 2 d; step = 12 h }
grid { buy = [0.10, 0.10, 0.50, 0.50] EUR/kWh }
participant alice {
  load { profile = [0, 0, 0.5, 0.5] kW }
  battery { capacity = 12 kWh; power = 1 kW }
}
"""


def design(text: str = ROLL):  # type: ignore[no-untyped-def]
    return resolve(parse(text, "roll.peb"))


def test_myopic_days_cost_more_than_perfect_foresight() -> None:
    """Two days of two 12 h steps; grid 0.10 on day 1, 0.50 on day 2; load only on day 2
    (0.5 kW × 24 h = 12 kWh); an empty lossless 12 kWh / 1 kW battery.

    Perfect foresight charges 1 kW × 12 h = 12 kWh on day 1 (1.20) and covers day 2 from it:
    1.20. Rolling by 1 d with no lookahead: day 1 sees no load and buys nothing; day 2 buys its
    12 kWh at 0.50 = 6.00. Gap 4.80 (400 % of 1.20)."""
    r = solve_rolling(design(), 24, 0)
    assert r.perfect_cost == pytest.approx(1.2, abs=1e-9)
    assert r.rolling_cost == pytest.approx(6.0, abs=1e-9)
    assert r.gap == pytest.approx(4.8, abs=1e-9)
    assert r.gap_share == pytest.approx(4.0, abs=1e-9)
    assert len(r.windows) == 2


def test_a_day_of_lookahead_reaches_perfect_foresight() -> None:
    """The same with a 1 d lookahead: day 1's window sees day 2, charges 12 kWh at 0.10 and
    commits it; day 2 discharges: 1.20, the perfect-foresight cost (gap 0)."""
    r = solve_rolling(design(), 24, 24)
    assert r.rolling_cost == pytest.approx(1.2, abs=1e-9)
    assert r.gap == pytest.approx(0.0, abs=1e-9)


def test_capacity_peak_so_far_is_carried() -> None:
    """A 15 EUR/kW/month capacity charge (2 days of June's 30: share 1/15, so 1 EUR per kW of
    peak) and a flat 0.10 price; load 1 kW on day 1, 0.5 kW on day 2; the battery as above.

    Energy: 1 kW × 24 h + 0.5 kW × 24 h = 36 kWh at 0.10 = 3.60. The battery cannot lower
    day 1's 1 kW peak (it starts empty and day 1 has nothing cheaper to charge from), so the
    peak is 1 kW = 1.00: 4.60 with perfect foresight. Rolling by 1 d: day 1 commits the 1 kW
    peak, day 2's window starts with it as its lower bound and stays under it; the whole
    horizon's peak is billed once when the committed operation is priced: 4.60 too."""
    text = (
        ROLL.replace("[0.10, 0.10, 0.50, 0.50]", "0.10").replace(
            "[0, 0, 0.5, 0.5] kW", "[1, 1, 0.5, 0.5] kW"
        )
        + "dso { capacity_charge = 15 EUR/kW/month }\n"
    )
    r = solve_rolling(design(text), 24, 0)
    assert r.perfect_cost == pytest.approx(4.6, abs=1e-9)
    assert r.rolling_cost == pytest.approx(4.6, abs=1e-9)


def test_rolling_errors() -> None:
    """A period that is not a whole number of steps is E307."""
    with pytest.raises(PebdslError) as e:
        solve_rolling(design(), 18, 0)
    assert e.value.diagnostics[0].code == "E307"


def test_cli_rolling(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`pebdsl solve FILE --rolling 1d --lookahead 0h --json` says it is a rolling solution and
    gives both costs (6.00 and 1.20, derived above); a bad duration is E307."""
    f = tmp_path / "roll.peb"
    f.write_text(ROLL)
    res = CliRunner().invoke(app, ["solve", str(f), "--rolling", "1d", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["solution"] == "rolling"
    assert doc["rolling"]["rolling_cost"] == pytest.approx(6.0)
    assert doc["rolling"]["perfect_foresight_cost"] == pytest.approx(1.2)
    bad = CliRunner().invoke(app, ["solve", str(f), "--rolling", "one day"])
    assert bad.exit_code != 0 and "E307" in bad.output
