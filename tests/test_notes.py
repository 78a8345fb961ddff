"""Post-solve notes (pebdsl.notes, N101-N104) on hand-built designs whose optimum is known,
their place in results.json and in the report's "Notes" section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_helpers import block, design, market, participant

from pebdsl.design import Dso, Link
from pebdsl.present.output import results_json, write_outputs
from pebdsl.present.report import render_report
from pebdsl.solve import solve


def by_code(notes: list[dict], code: str) -> list[dict]:
    return [n for n in notes if n["code"] == code]


def test_idle_market_and_import_with_export() -> None:
    """Two steps of 1 h, buy 0.30, sell 0.05 then 0.40. alice: load 1 kW, connection 3 kW in,
    2 kW out; bob: load 1 kW, connection 1 kW in, 0 out. A pool with fee 1 ct.
    Step 1 pays 0.10 per kWh imported and exported at once: alice imports 3 (1 for her load)
    and exports 2; bob cannot export. Nobody has anything local, and buying through the pool
    costs the fee on top of the grid price, so the pool trades nothing.
    Notes: N101 for the pool; N102 for alice in 1 step (step 1) with min(3, 2) x 1 h = 2 kWh."""
    d = design(
        [
            participant("alice", 2, load=1.0, connection=(3.0, 2.0)),
            participant("bob", 2, load=1.0, connection=(1.0, 0.0)),
        ],
        n=2,
        buy=0.30,
        sell=[0.05, 0.40],
        markets=[market("m", ["alice", "bob"], type="pool", fee_per_kwh=0.01)],
    )
    notes = solve(d).notes
    assert by_code(notes, "N101") == [
        {"code": "N101", "market": "m", "message": "market `m` traded nothing over the horizon"}
    ]
    (n102,) = by_code(notes, "N102")
    assert n102["participant"] == "alice"
    assert (n102["steps"], n102["first_step"]) == (1, 1)
    assert n102["first_time"] == "2021-06-07T01:00:00+00:00"
    assert n102["kwh"] == pytest.approx(2.0)
    assert "2021-06-07 01:00 (UTC, step 1)" in n102["message"]
    assert len(notes) == 2


def test_circulating_pair_trades() -> None:
    """Two steps of 1 h, buy 0.30 then -0.10, no feed-in; a p2p market with pair fees (so it
    is solved pair by pair) and 10 % loss. alice: load 1, import up to 5 kW; bob: load 1,
    import up to 1 kW. At step 1 importing pays, and the only way to use more than the load is
    to lose it in trades: alice imports 5 and must burn 4.
    Pair flows q1 = alice->bob, q2 = bob->alice (each received x 0.9):
      alice: 5 + 0.9 q2 − q1 = 1,  bob: 1 + 0.9 q1 − q2 = 1  =>  q2 = 0.9 q1, 0.19 q1 = 4,
      q1 = 21.0526…, q2 = 18.9474….
    alice sends q1 and receives 0.9 q2 = 17.0526…; bob sends q2 and receives 0.9 q1 = 18.9474…
    So N103 for both in step 1, each with the other as counterpart, kwh = min(sent, received):
    alice 17.0526, bob 18.9474. At step 0 (price 0.30) nothing is traded."""
    q1 = 4 / 0.19
    q2 = 0.9 * q1
    d = design(
        [
            participant("alice", 2, load=1.0, connection=(5.0, None)),
            participant("bob", 2, load=1.0, connection=(1.0, None)),
        ],
        n=2,
        buy=[0.30, -0.10],
        sell=None,
        markets=[
            market("m", ["alice", "bob"], loss=0.10, pair_fees_per_kwh={("alice", "bob"): 0.0})
        ],
    )
    notes = solve(d).notes
    n103 = {n["participant"]: n for n in by_code(notes, "N103")}
    assert set(n103) == {"alice", "bob"}
    assert n103["alice"]["kwh"] == pytest.approx(0.9 * q2, rel=1e-6)
    assert n103["bob"]["kwh"] == pytest.approx(min(q2, 0.9 * q1), rel=1e-6)
    assert n103["alice"]["counterparts"] == ["bob"]
    assert n103["bob"]["counterparts"] == ["alice"]
    assert all((n["steps"], n["first_step"], n["market"]) == (1, 1, "m") for n in n103.values())
    assert by_code(notes, "N102") == [] and by_code(notes, "N101") == []


def test_opposite_link_flows() -> None:
    """Two blocks joined by a link that loses 10 %; a loss-free pool over both; buy 0.30 then
    -0.10, no feed-in. a1 (north): load 1, import up to 5 kW; b1 (south): load 1, import up to
    1 kW. At step 1 a1 imports 5 and the 4 kW beyond its load can only be lost on the link:
    flows f1 north->south and f2 south->north with
      north: net sales 4 = f1 − 0.9 f2,  south: net sales 0 = f2 − 0.9 f1
      => f1 = 4 / 0.19 = 21.0526…, f2 = 18.9474…
    N104 for `north--south` in step 1 with kwh = min(f1, f2) x 1 h = 18.9474."""
    d = design(
        [
            participant("a1", 2, load=1.0, block="north", connection=(5.0, None)),
            participant("b1", 2, load=1.0, block="south", connection=(1.0, None)),
        ],
        n=2,
        buy=[0.30, -0.10],
        sell=None,
        blocks=[block("north", ["a1"]), block("south", ["b1"])],
        markets=[market("m", ["a1", "b1"], type="pool")],
        dso=Dso(links=(Link("north", "south", loss=0.10),)),
    )
    (n104,) = by_code(solve(d).notes, "N104")
    assert n104["link"] == "north--south"
    assert (n104["steps"], n104["first_step"]) == (1, 1)
    assert n104["kwh"] == pytest.approx(0.9 * 4 / 0.19, rel=1e-6)
    assert "link `north -- south` carries flows both ways" in n104["message"]


def test_a_plain_design_has_no_notes(tmp_path: Path) -> None:
    """alice's PV (3 kW in steps 1-2) covers her 1 kW load and sells the rest to bob through a
    p2p market (fee 1 ct): the market trades, sell 0.05 < buy 0.30, prices are positive, and
    a fee makes any round trip a loss, so there is nothing to note. results.json holds `notes`
    (empty) and the report says so."""
    d = design(
        [participant("alice", 4, load=1.0, pv=[0, 3, 3, 0]), participant("bob", 4, load=1.0)],
        markets=[market("m", ["alice", "bob"], fee_per_kwh=0.01)],
    )
    r = solve(d)
    assert r.notes == ()
    assert results_json(r)["notes"] == []
    assert "None: no idle market" in render_report(r)


def test_notes_reach_results_json_and_the_report_escaped(tmp_path: Path) -> None:
    """The notes of a solve are written to results.json as they are, and the report lists each
    under "Notes", escaped (a message is text, never markup)."""
    d = design(
        [participant("alice", 2, load=1.0), participant("bob", 2, load=1.0)],
        n=2,
        markets=[market("m", ["alice", "bob"], type="pool", fee_per_kwh=0.01)],
    )
    r = solve(d)
    assert [n["code"] for n in r.notes] == ["N101"]
    r = r.replace(notes=(*r.notes, {"code": "N999", "message": "<script>alert(1)</script>"}))
    write_outputs(r, tmp_path)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["notes"][0]["message"] == "market `m` traded nothing over the horizon"
    html = (tmp_path / "report.html").read_text()
    assert 'id="notes"' in html and 'href="#notes"' in html
    assert "market `m` traded nothing over the horizon" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
