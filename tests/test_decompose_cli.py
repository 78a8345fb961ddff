"""`pebdsl solve FILE --decompose ph` (issue 12): progressive hedging from the command line.

The bounds are valid for any multipliers and any consensus (tests/test_decompose.py), so the
checks hold however far PH has converged; the hand-derived figures are those of the issue's
hour.
"""

from __future__ import annotations

import json
import sys

import pytest
from stochastic_texts import TWO_WEATHERS
from typer.testing import CliRunner

from pebdsl.cli import app

HOUR = (
    """design "One hour, two weathers" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 h; step = 1 h }
"""
    + TWO_WEATHERS
    + """participant alice {
  connection = 25 kW
  load { profile = 10 kW }
  pv   { profile = sun }
}
"""
)

GEN = HOUR.replace(
    "scenarios { sunny = 60 %; cloudy = 40 % }",
    "scenarios { count = 20; seed = 3; pv_error = 60 %; load_error = 20 % }",
).replace("by_scenario { sunny = 6 kW; cloudy = 0 kW }", "6 kW")


def _write(tmp_path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "d.peb"
    f.write_text(text)
    return f


def test_decompose_ph_brackets_the_issue_hour(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue's hour: the extensive form's expected cost is 0.88 (day-ahead 4 kWh; see
    docs/stochastic.md) and the wait-and-see bound 0.64. PH's bounds hold it: lower ≤ 0.88 ≤
    upper, the lower bound at least the wait-and-see 0.64; `--out` writes results.json with
    `solution: decomposed`; the text names both bounds."""
    pytest.importorskip("mpisppy")
    f = _write(tmp_path, HOUR)
    res = CliRunner().invoke(
        app, ["solve", str(f), "--decompose", "ph", "--iterations", "30", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    dec = doc["decomposition"]
    assert doc["solution"] == "decomposed" and dec["scenarios"] == 2
    assert 0.64 - 1e-7 <= dec["lower_bound"] <= 0.88 + 1e-7
    assert dec["upper_bound"] >= 0.88 - 1e-7
    assert doc["objective"]["value"] == pytest.approx(dec["upper_bound"])
    assert 0.0 <= dec["day_ahead_kwh"]["alice"][0] <= 25.0
    assert dec["rho"] == pytest.approx(0.075)  # cost-proportional: mean of 0.10 and 0.05
    out = tmp_path / "out"
    text = CliRunner().invoke(app, ["solve", str(f), "--decompose", "ph", "--out", str(out)])
    assert text.exit_code == 0, text.output
    assert "progressive hedging" in text.output and "expected cost between" in text.output
    assert json.loads((out / "results.json").read_text())["solution"] == "decomposed"


def test_decompose_twenty_scenarios_against_the_extensive_form(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """20 drawn scenarios (PV 6 kW ± 60 %, load 10 kW ± 20 %): `solve` (the extensive form)
    gives z*; `solve --decompose ph --iterations 15` gives bounds with lower ≤ z* ≤ upper."""
    pytest.importorskip("mpisppy")
    f = _write(tmp_path, GEN)
    ef = CliRunner().invoke(app, ["solve", str(f), "--json"])
    assert ef.exit_code == 0, ef.output
    z = json.loads(ef.output)["stochastic"]["expected_cost"]
    res = CliRunner().invoke(
        app, ["solve", str(f), "--decompose", "ph", "--iterations", "15", "--json"]
    )
    assert res.exit_code == 0, res.output
    dec = json.loads(res.stdout)["decomposition"]
    assert dec["scenarios"] == 20
    assert dec["lower_bound"] <= z + 1e-7 <= dec["upper_bound"] + 2e-7


def test_decompose_errors(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An unknown method and --decompose with --rolling are E307; a design without scenarios
    is E307 too; without mpi-sppy installed the decomposition is E905 (as every missing
    extra, a usage error: exit 2) with the extra named."""
    f = _write(tmp_path, HOUR)
    for args in (["--decompose", "bender"], ["--decompose", "ph", "--rolling", "1h"]):
        res = CliRunner().invoke(app, ["solve", str(f), *args])
        assert res.exit_code != 0 and "E307" in res.output, res.output
    det = tmp_path / "det.peb"
    det.write_text(GEN.replace(
        "scenarios { count = 20; seed = 3; pv_error = 60 %; load_error = 20 % }\n", ""
    ))  # fmt: skip
    res = CliRunner().invoke(app, ["solve", str(det), "--decompose", "ph"])
    assert res.exit_code != 0 and "E307" in res.output, res.output
    monkeypatch.setitem(sys.modules, "mpisppy", None)  # an import of it raises ImportError
    monkeypatch.setitem(sys.modules, "mpisppy.utils.sputils", None)
    monkeypatch.setitem(sys.modules, "mpisppy.opt.ph", None)
    res = CliRunner().invoke(app, ["solve", str(f), "--decompose", "ph"])
    assert res.exit_code == 2 and "E905" in res.output, res.output
    assert "pebdsl[stochastic]" in res.output
