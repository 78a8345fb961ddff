"""Models without an optimum are diagnosed: E501 infeasible (IIS mapped to the design's lines),
E502 unbounded (selling to the grid above the buy price, with no connection limit)."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import block, design, participant
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.diagnostics import PebdslError
from pebdsl.solve import solve

OVERLOADED = """\
design "Overloaded block" {
  currency = EUR
}

horizon {
  start    = 2021-06-07
  duration = 1 d
  step     = 1 h
  timezone = "Europe/Oslo"
}

series home = daily [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6,
                     0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 6.0, 1.5, 1.2, 0.9, 7.5, 0.5] kW

grid {
  buy  = 0.30 EUR/kWh
  sell = 0.05 EUR/kWh
}

block street {
  connection = 5 kW
  participant alice { load { profile = home } }
}
"""


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_overloaded_block_cli(tmp_path, backend: str) -> None:
    # Acceptance: exit 1, names the block, the step as a local timestamp, and points at the
    # block's `connection` line (line 21).
    path = tmp_path / "overloaded.peb"
    path.write_text(OVERLOADED)
    result = CliRunner().invoke(app, ["solve", str(path), "--backend", backend])
    assert result.exit_code == 1
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert "error[E501]" in err
    assert "block `street`" in err
    assert "2021-06-07 18:00 (Europe/Oslo" in err
    assert f"{path}:21:3" in err
    assert "connection = 5 kW" in err
    # Two steps break the limit (18:00 by 1 kW, 22:00 by 2.5 kW): the first is named, whatever
    # step the irreducible infeasible subset happens to contain, and the hint gives the extent.
    assert "must import more than its connection allows at 2 of 24 steps" in err
    assert "the worst is 2021-06-07 22:00 (Europe/Oslo, step 22): 7.5 kW against 5 kW" in err
    assert "3.5 kWh beyond the limit in all" in err


def test_infeasible_python_api() -> None:
    d = design(
        [participant("alice", 3, load=[1.0, 9.0, 1.0], block="b")],
        n=3,
        blocks=[block("b", ["alice"], conn=5.0)],
    )
    with pytest.raises(PebdslError) as ei:
        solve(d)
    assert ei.value.codes == ["E501"]
    assert "step 1" in str(ei.value)
    assert "connection[b,1]" in str(ei.value)


def test_infeasible_extent_counts_what_a_battery_can_shave() -> None:
    # load 1, 9, 1 kW on a 5 kW connection, hourly. A 1 kWh / 2 kW battery (lossless, empty at
    # the start) charges 1 kWh in step 0 (import 2 kW) and gives it back in step 1: the block
    # still needs 9 − 1 = 8 kW there, 3 kW beyond the limit, 3 kWh in all; step 2 is fine.
    d = design(
        [
            participant(
                "alice",
                3,
                load=[1.0, 9.0, 1.0],
                block="b",
                battery=dict(capacity_kwh=1.0, power_kw=2.0),
            )
        ],
        n=3,
        blocks=[block("b", ["alice"], conn=5.0)],
    )
    with pytest.raises(PebdslError) as ei:
        solve(d)
    text = str(ei.value)
    assert "at 1 of 3 steps" in text
    assert "8 kW against 5 kW allowed" in text
    assert "3 kWh beyond the limit in all" in text


def test_unbounded_arbitrage() -> None:
    # Selling pays 0.40 while buying costs 0.30 in step 1, and nothing limits alice's
    # connection: import and export grow without limit. (With any connection limit, a block
    # connection or sell ≤ buy + energy charge, every variable is bounded or priced upwards and
    # the LP has an optimum: every other cost is ≥ 0 except grid sales and premiums, which are
    # bounded by generation and load.)
    d = design([participant("alice", 2, load=1.0)], n=2, buy=0.30, sell=[0.05, 0.40])
    with pytest.raises(PebdslError) as ei:
        solve(d)
    assert ei.value.codes == ["E502"]
    assert "step 1" in str(ei.value)


def test_arbitrage_bounded_by_connection() -> None:
    # The same prices with a 2 kW connection: import 2 + export ... bounded: optimum exists.
    d = design(
        [participant("alice", 2, load=1.0, connection=(3.0, 2.0))],
        n=2,
        buy=0.30,
        sell=[0.05, 0.40],
    )
    r = solve(d)
    # Step 0: import 1 (0.30). Step 1: import 3, export 2: 0.90 − 0.80 = 0.10. Total 0.40.
    assert r.objective == pytest.approx(0.40)
    np.testing.assert_allclose(r.participants_ts[("alice", "grid_export")], [0.0, 2.0])


HARD_LIMIT = """\
design "Hard DSO limit" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 1 h }
grid { buy = 0.30 EUR/kWh }
block street {
  participant carol {
    load { profile = daily [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                            1, 1, 1, 1, 1, 4, 5, 4, 1, 1, 1, 1] kW }
  }
}
dso { flexibility street { limit = 3 kW } }
"""


def test_hard_dso_limit_extent(tmp_path) -> None:
    # 4, 5, 4 kW at 17:00-19:00 under a hard 3 kW limit with nothing local: 1 + 2 + 1 = 4 kWh
    # beyond the limit, first at 17:00, worst at 18:00. The caret is on the `flexibility` line.
    path = tmp_path / "hard.peb"
    path.write_text(HARD_LIMIT)
    result = CliRunner().invoke(app, ["solve", str(path)])
    assert result.exit_code == 1
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert "cannot keep its import under the DSO's limit at 2021-06-07 17:00 (UTC, step 17)" in err
    assert f"{path}:10:7" in err
    assert "at 3 of 24 steps" in err
    assert "2021-06-07 18:00 (UTC, step 18): 5 kW against 3 kW allowed" in err
    assert "4 kWh beyond the limit in all" in err
