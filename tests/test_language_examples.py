"""LANGUAGE.md is normative: its complete design checks clean and means what the text says;
each of its Rejected examples fails with a coded error at the offending line and column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from strategies import MINIMAL, WORLD, sunny_street

from pebdsl import PebdslError, load, load_all
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve

ROOT = Path(__file__).resolve().parent.parent
SUNNY = ROOT / "designs" / "sunny_street.peb"


def test_complete_example_is_verbatim() -> None:
    spec = ROOT.parent / "shared" / "design" / "LANGUAGE.md"  # beside the repository
    if not spec.exists():
        pytest.skip("LANGUAGE.md not available")
    assert SUNNY.read_text() in spec.read_text()


def test_complete_example_means_what_it_says() -> None:
    designs = load_all(str(SUNNY))
    assert list(designs) == [None, "no_trade"]
    d = designs[None]
    assert d.currency == "EUR" and d.n_steps == 24 and d.dt_h == 1.0
    assert d.time.timezone == "Europe/Oslo"
    assert d.time.index[0].isoformat() == "2021-06-07T00:00:00+02:00"
    assert list(d.participants) == ["alice", "bob", "carol"]
    assert d.blocks["sunny_street"].participants == ("alice", "bob", "carol")
    assert d.blocks["sunny_street"].connection.import_kw == 50.0
    assert d.blocks["sunny_street"].connection.export_kw == 50.0
    # grid: spot in EUR/MWh -> EUR/kWh, + 5 ct/kWh
    assert d.grid.buy_per_kwh[0] == pytest.approx(0.040 + 0.05)
    assert d.grid.sell_per_kwh is not None and d.grid.sell_per_kwh[18] == pytest.approx(0.085)
    alice = d.participants["alice"]
    assert alice.load is not None and alice.load.profile_kw[17] == pytest.approx(1.4)
    assert alice.generation[0].peak_kw == 6.0
    assert alice.generation[0].profile_kw[11] == pytest.approx(6 * 0.74)
    assert alice.battery is not None and alice.battery.capacity_kwh == 10.0
    assert alice.battery.efficiency == pytest.approx(0.95)
    assert d.participants["carol"].generation == ()
    m = d.markets["street_p2p"]
    assert (m.type, m.members, m.fee_per_kwh, m.loss) == (
        "p2p",
        ("alice", "bob", "carol"),
        pytest.approx(0.01),
        pytest.approx(0.02),
    )
    assert np.allclose(d.dso.energy_charge_per_kwh, 0.04)
    assert designs["no_trade"].markets == {} and designs["no_trade"].variant == "no_trade"
    assert d.variants == ("no_trade",) and d.reference is None


REJECTED = [
    # (description, text, code, line text, caret text)
    (
        "wrong dimension",
        sunny_street().replace(
            "battery { capacity = 10 kWh; power = 5 kW; efficiency = 95 % }",
            "battery { capacity = 10 kW }",
        ),
        "E202",
        "battery { capacity = 10 kW }",
        "10 kW",
    ),
    (
        "unknown participant",
        sunny_street().replace("members = sunny_street", "members = [alice, bobb]"),
        "E101",
        "members = [alice, bobb]",
        "bobb",
    ),
    (
        "missing unit",
        sunny_street().replace("fee     = 1 ct/kWh", "fee = 1"),
        "E203",
        "fee = 1",
        "1",
    ),
    (
        "series length",
        sunny_street() + "series s = [1, 2, 3] kW\n",
        "E401",
        "series s = [1, 2, 3] kW",
        "[1, 2, 3] kW",
    ),
    (
        "duplicate name",
        MINIMAL + "participant alice { } participant alice { }\n",
        "E102",
        "participant alice { } participant alice { }",
        "alice",
    ),
]


@pytest.mark.parametrize(
    ("what", "text", "code", "line", "caret"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rejected(what: str, text: str, code: str, line: str, caret: str) -> None:
    with pytest.raises(PebdslError) as info:
        resolve(parse(text, "rejected.peb"))
    diags = [d for d in info.value.diagnostics if d.code == code]
    assert diags, info.value.render()
    d = diags[-1]
    assert line in d.span.source.line_text(d.span.line)
    assert d.span.text == caret
    col = d.span.source.line_text(d.span.line).index(line) + line.rindex(caret) + 1
    assert d.span.column == col
    rendered = info.value.render()
    assert f"error[{code}]" in rendered and "rejected.peb:" in rendered
    if code == "E101":
        assert "did you mean `bob`?" in rendered
    if code == "E202":
        assert "expected energy (kWh)" in rendered


def test_check_exits_1_on_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.peb"
    bad.write_text(REJECTED[1][1])
    good = tmp_path / "good.peb"
    good.write_text(MINIMAL + WORLD)
    r = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 1, r.stderr
    assert "error[E101]" in r.stderr and "bad.peb:" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", str(good)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr


def test_load_with_variant_and_sets() -> None:
    d = load(str(SUNNY), variant="no_trade", sets=["alice.pv.peak = 8 kWp"])
    assert d.participants["alice"].generation[0].peak_kw == 8.0
    assert d.markets == {}
    with pytest.raises(PebdslError) as info:  # the variant removed the market
        load(str(SUNNY), variant="no_trade", sets=["market street_p2p.fee = 0.5 ct/kWh"])
    assert info.value.codes == ["E101"]
    d2 = load(str(SUNNY), sets=["market street_p2p.fee = 0.5 ct/kWh"])
    assert d2.markets["street_p2p"].fee_per_kwh == pytest.approx(0.005)
