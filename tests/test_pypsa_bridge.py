"""The PyPSA bridge (issue 14, acceptance 3): `Design.to_pypsa()` and `pebdsl export FILE --to
pypsa OUT` build the physical part of a design as a PyPSA network (docs/pypsa.md).

The cost tests solve a design twice, in pebdsl and as its exported network in PyPSA (linopy +
HiGHS), and need the `pypsa` extra (`make test` installs it; without it they are skipped,
saying so). Why the two optima must agree: the network is the same LP written with PyPSA's
components. A participant's grid import and export are links priced buy·(1 + VAT) and −sell,
bounded by its connection; the energy charge sits on a meter link that carries the positive
net withdrawal, as pebdsl's `meter_in` does; a block's connection link carries Σ (gi − ge) of
its members, the row of docs/model.md §6; a battery's store follows soc[t] = soc[t−1] +
(η·charge − discharge/η)·Δt with the same bounds and throughput costs (scaled by the share
present for a part-time battery, with its arrivals and departures as a load on its bus);
flexible load is a store of the energy moved so far, empty at the end of every window, which is
Σ_(t∈w) (shift_in − shift_out) = 0; snapshots are weighted by Δt. PyPSA's objective is
Σ weight·marginal cost·flow (no capital cost, so no constant: `include_objective_constant=False`
changes nothing), pebdsl's is its objective, which equals its real cost `total_cost` on these
designs (no markets, no shadow terms; asserted). So the expected value of each comparison is
pebdsl's own optimum, to 1e-6.

The refusal tests (E906 per construct, E905 without PyPSA) need no extra.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import pebdsl
from pebdsl.bridges.pypsa import uncovered
from pebdsl.cli import app

ROOT = Path(__file__).resolve().parents[1]
SUNNY = ROOT / "designs" / "sunny_street.peb"
SKIP = "the PyPSA bridge tests need the pypsa extra: pip install 'pebdsl[pypsa]'"
TOL = 1e-6

# Two blocks and a participant outside them, 2-hour steps over two days (Δt = 2 h weights every
# cost and state of charge). alice's battery has an efficiency, min_soc, final = initial and a
# throughput cost; alice's own connection and the south block's 2 kW connection bind (asserted
# in test_several_blocks_same_cost); bob pays VAT and his own energy charge; dan has wind and
# moves load within the day, erin within 6-hour windows at a cost (both lower the optimum,
# asserted there too); the DSO link has no market to use it (W103), so it is exported inactive
# and carries nothing.
THREE_BLOCKS = """\
design "Two blocks and a neighbour, no market" { currency = EUR }
horizon { start = 2021-06-07; duration = 2 d; step = 2 h; timezone = "Europe/Oslo" }
series spot  = daily [40, 37, 37, 55, 75, 60, 50, 47, 58, 85, 70, 50] EUR/MWh
series solar = daily [0, 0, 0.05, 0.3, 0.55, 0.72, 0.72, 0.56, 0.3, 0.05, 0, 0]
series home  = daily [0.4, 0.3, 0.4, 1.0, 0.7, 0.6, 0.55, 0.85, 1.5, 1.55, 1.05, 0.6] kW
grid { buy = spot + 5 ct/kWh; sell = spot }
template household { load { profile = home } }
block north {
  connection { import = 2 kW; export = 3 kW }
  participant alice from household {
    pv         { profile = solar; peak = 6 kWp }
    battery    { capacity = 10 kWh; power = 3 kW; efficiency = 92 %; min_soc = 10 %
                 initial = 50 %; final = initial; throughput_cost = 1 ct/kWh }
    connection { import = 4 kW; export = 3 kW }
  }
  participant bob from household { class = household; vat = 25 %; energy_charge = 6 ct/kWh }
}
block south {
  connection = 2 kW
  participant carol from household {
    pv      { profile = solar; peak = 4 kWp }
    battery { capacity = 6 kWh; power = 2 kW; efficiency = 95 % }
  }
  participant dan {
    load     { profile = 1.5 * home }
    wind     { profile = 2 kW }
    flexible { share = 20 %; window = 1 d }
  }
}
participant erin from household { flexible { share = 30 %; window = 6 h; cost = 1 ct/kWh } }
dso {
  energy_charge = 4 ct/kWh
  link north -- south { capacity = 5 kW; loss = 2 %; fee = 1 ct/kWh }
}
variant purchase { set dso.charge_on = purchase }
variant no_feed_in { set grid.sell = none }
"""


def _pypsa() -> Any:
    return pytest.importorskip("pypsa", reason=SKIP)


def _optimum(net: Any) -> float:
    """PyPSA's optimal objective of `net` with HiGHS (quietly)."""
    logging.getLogger("pypsa").setLevel(logging.WARNING)
    logging.getLogger("linopy").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PyPSA's pandas 3 string-dtype notice
        status = net.optimize(
            solver_name="highs", include_objective_constant=False, log_to_console=False
        )
    assert tuple(status) == ("ok", "optimal"), status
    return float(net.objective)


def _pebdsl_cost(design: Any) -> float:
    r = pebdsl.solve(design)
    assert r.money["shadow_cost"] == 0.0
    assert abs(r.objective - r.money["total_cost"]) <= TOL
    return float(r.money["total_cost"])


def _design(tmp_path: Path, text: str, variant: str | None = None) -> Any:
    path = tmp_path / "three.peb"
    path.write_text(text, encoding="utf-8")
    return pebdsl.load(str(path), variant=variant)


def test_single_block_same_cost() -> None:
    """sunny_street without its market (variant `no_trade`): one block with a 50 kW
    connection, three households, alice's PV and battery, bob's PV, the 4 ct/kWh energy charge
    on each meter. PyPSA's optimum of the exported network is pebdsl's real cost."""
    _pypsa()
    design = pebdsl.load(str(SUNNY), variant="no_trade")
    cost = _pebdsl_cost(design)
    assert abs(_optimum(design.to_pypsa()) - cost) <= TOL * max(1.0, abs(cost))


def test_lueth_reference_half_hourly_same_cost() -> None:
    """Lüth et al.'s reference case (designs/lueth2018_pcdg.peb, variant `reference`: 25 London
    houses of the PCDG day, every one dealing with the grid alone, no storage), in half-hour
    steps: every cost and weighting is Δt = 0.5 h, and both tools reach the same cost."""
    _pypsa()
    design = pebdsl.load(str(ROOT / "designs" / "lueth2018_pcdg.peb"), variant="reference")
    assert design.dt_h == 0.5
    cost = _pebdsl_cost(design)
    assert abs(_optimum(design.to_pypsa()) - cost) <= TOL * max(1.0, abs(cost))


@pytest.mark.parametrize("variant", [None, "purchase", "no_feed_in"])
def test_several_blocks_same_cost(tmp_path: Path, variant: str | None) -> None:
    """THREE_BLOCKS with the energy charge on the meters (base), on purchases (`purchase`)
    and without feed-in (`no_feed_in`): the same cost in both tools. The comparison covers
    binding limits: without south's block connection, or without alice's own connection,
    pebdsl finds a cheaper optimum, so both limits bind in the design as written; without
    dan's or erin's flexible load a dearer one, so both shift load."""
    _pypsa()
    design = _design(tmp_path, THREE_BLOCKS, variant)
    cost = _pebdsl_cost(design)
    assert abs(_optimum(design.to_pypsa()) - cost) <= TOL * max(1.0, abs(cost))
    if variant is None:
        for limit in ("connection = 2 kW", "connection { import = 4 kW; export = 3 kW }"):
            looser = _design(tmp_path, THREE_BLOCKS.replace(limit, ""))
            assert _pebdsl_cost(looser) < cost - 1e-3, f"{limit} does not bind"
        for flexible in (
            "flexible { share = 20 %; window = 1 d }",
            "flexible { share = 30 %; window = 6 h; cost = 1 ct/kWh }",
        ):
            rigid = _design(tmp_path, THREE_BLOCKS.replace(flexible, ""))
            assert _pebdsl_cost(rigid) > cost + 1e-3, f"{flexible} moves nothing"


# A depot whose battery is a V2G fleet: the share plugged in (ev_plugged) scales its power and
# state-of-charge bounds; cars arrive at 50 % and must leave at 80 % of their capacity.
FLEET = """\
design "A V2G fleet behind one meter" { currency = EUR }
horizon { start = 2021-06-07; duration = 2 d; step = 1 h; timezone = "Europe/Oslo" }
series spot = daily [40, 38, 37, 36, 37, 42, 55, 70, 75, 68, 60, 55,
                     50, 48, 47, 50, 58, 72, 85, 80, 70, 60, 50, 45] EUR/MWh
series sun  = daily [0, 0, 0, 0, 0, 0.05, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74,
                     0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.05, 0, 0, 0, 0, 0]
series plugged = ev_plugged(cars = 20, seed = 1)
grid { buy = spot + 5 ct/kWh; sell = spot }
participant depot {
  load    { profile = 30 kW }
  pv      { profile = sun; peak = 80 kWp }
  battery { capacity = 500 kWh; power = 200 kW; efficiency = 95 %; min_soc = 10 %
            initial = 50 %; available = plugged; arrival_soc = 50 %; departure_soc = 80 % }
}
dso { energy_charge = 4 ct/kWh }
"""


def test_part_time_battery_same_cost(tmp_path: Path) -> None:
    """FLEET: availability bounds the links (p_max_pu = a_t) and the store (e_max_pu = a_t,
    e_min_pu = a_t·min_soc), and the energy that arrives or leaves with the cars is a load on
    the battery's bus (docs/model.md §3). The share plugged in changes within the horizon
    (asserted), so arrivals and departures are part of both optima."""
    _pypsa()
    design = _design(tmp_path, FLEET)
    share = design.participants["depot"].battery.available
    assert share.min() == 0.0 and share.max() == 1.0
    cost = _pebdsl_cost(design)
    assert abs(_optimum(design.to_pypsa()) - cost) <= TOL * max(1.0, abs(cost))


def test_export_writes_netcdf_pypsa_reads(tmp_path: Path) -> None:
    """`pebdsl export FILE --to pypsa OUT` writes a netCDF file that `pypsa.Network(OUT)`
    reads back whole: the components by name (each participant's bus, meter, grid links; each
    battery's store; the DSO link in both directions, inactive), the snapshots (24 two-hour
    steps, weighted by 2 h), the meta data, and the same optimum as pebdsl's."""
    pypsa = _pypsa()
    src = tmp_path / "three.peb"
    src.write_text(THREE_BLOCKS, encoding="utf-8")
    out = tmp_path / "net.nc"
    handlers = list(logging.getLogger().handlers)
    result = CliRunner().invoke(app, ["export", str(src), "--to", "pypsa", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"wrote {out} (pypsa)"
    assert logging.getLogger().handlers == handlers  # PyPSA's basicConfig was undone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        net = pypsa.Network(str(out))
    assert set(net.buses.index) == {
        "grid",
        "north",
        "south",
        *(p for p in ("alice", "bob", "carol", "dan", "erin")),
        *(f"{p}.meter" for p in ("alice", "bob", "carol", "dan", "erin")),
        "alice.battery",
        "carol.battery",
        "dan.flexible",
        "erin.flexible",
    }
    assert set(net.stores.index) == {
        "alice.battery",
        "carol.battery",
        "dan.flexible",
        "erin.flexible",
    }
    assert set(net.generators.index) == {"grid", "alice.pv", "carol.pv", "dan.wind"}
    links = net.links
    assert not links.loc["dso.north->south", "active"]
    assert not links.loc["dso.south->north", "active"]
    assert links.loc["south.connection", "p_nom"] == 2.0
    assert len(net.snapshots) == 24 and set(net.snapshot_weightings["objective"]) == {2.0}
    assert net.meta["currency"] == "EUR" and net.meta["timezone"] == "Europe/Oslo"
    cost = _pebdsl_cost(pebdsl.load(str(src)))
    assert abs(_optimum(net) - cost) <= TOL * max(1.0, abs(cost))


def test_markets_are_refused_with_their_line() -> None:
    """sunny_street as written trades in `street_p2p` (line 41): E906 names the market and
    points at it, and the CLI exits 1 without writing anything."""
    with pytest.raises(pebdsl.PebdslError) as info:
        pebdsl.load(str(SUNNY)).to_pypsa()
    (d,) = info.value.diagnostics
    assert d.code == "E906" and "market `street_p2p`" in d.message
    assert d.span.line == 41


def test_export_cli_refuses_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "street.nc"
    result = CliRunner().invoke(app, ["export", str(SUNNY), "--to", "pypsa", str(out)])
    assert result.exit_code == 1 and "error[E906]" in result.stderr
    assert not out.exists()


def test_errors_md_e906_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/errors.md's E906 example is what `pebdsl export` prints, run from the repository's
    root (refused before anything is written, so no file appears there)."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = text.split("\n## E906 ", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```sh\n(.*?)\n```.*?```text\n(.*?)\n```", section, re.S)
    assert m
    monkeypatch.chdir(ROOT)
    argv = shlex.split(m.group(1))
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 1
    assert result.stderr.strip().removesuffix("1 error").strip() == m.group(2).strip()
    assert not (ROOT / argv[-1]).exists()


UNCOVERED = """\
design "All it does not cover" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 1 h }
grid { buy = 0.3 EUR/kWh; sell = 0.1 EUR/kWh }
block street {
  participant a { load { profile = 1 kW }; flexible { share = 20 %; window = 4 h } }
  participant b { load { profile = 1 kW }; pv { profile = 2 kW }
                  battery { capacity = 5 kWh; power = 2 kW; charge_from = local } }
  battery hub { capacity = 10 kWh; power = 5 kW }
}
market m { type = pool; members = street }
dso { capacity_charge = 5 EUR/kW/month; flexibility street { limit = 5 kW } }
"""


def test_every_uncovered_construct_is_named_at_its_line(tmp_path: Path) -> None:
    """All refusals at once, each at its declaration: the local-only battery (line 7), the
    shared battery (8), the market (10), the DSO's capacity charge and its flexibility need
    (11). a's flexible load (line 5) is covered, so it is not among them."""
    design = _design(tmp_path, UNCOVERED)
    found = sorted(
        (d.span.line, d.message.removeprefix("the PyPSA bridge does not cover "))
        for d in uncovered(design)
    )
    assert [line for line, _ in found] == [7, 8, 10, 11, 11]
    assert {d.code for d in uncovered(design)} == {"E906"}
    what = " | ".join(m for _, m in found)
    for part in (
        "charge_from = local",
        "shared battery `hub`",
        "market `m`",
        "capacity charge",
        "flexibility need at block `street`",
    ):
        assert part in what, what


def test_without_pypsa_e905(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With PyPSA made unimportable, a covered design stops with E905 (a usage error, exit 2)
    naming the extra, and nothing is written."""
    monkeypatch.setitem(sys.modules, "pypsa", None)
    design = pebdsl.load(str(SUNNY), variant="no_trade")
    with pytest.raises(pebdsl.PebdslError) as info:
        design.to_pypsa()
    assert info.value.codes == ["E905"]
    assert "pebdsl[pypsa]" in info.value.render()
    out = tmp_path / "street.nc"
    argv = ["export", str(SUNNY), "--variant", "no_trade", "--to", "pypsa", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and "error[E905]" in result.stderr
    assert not out.exists()


def test_pypsa_is_an_extra_not_core() -> None:
    """`pip install pebdsl` does not bring PyPSA (about 700 MB with linopy, xarray, geopandas,
    …); `pebdsl[pypsa]` does, and `make test` installs that extra (the Makefile)."""
    from importlib import metadata

    reqs = metadata.requires("pebdsl") or []
    core = {r.split(";")[0].strip() for r in reqs if "extra ==" not in r}
    extra = {r.split(";")[0].strip() for r in reqs if re.search(r"extra == ['\"]pypsa['\"]", r)}
    assert not any(r.startswith(("pypsa", "linopy")) for r in core)
    assert any(r.startswith("pypsa") for r in extra)
    assert "'.[test,pypsa]'" in (ROOT / "Makefile").read_text(encoding="utf-8")
