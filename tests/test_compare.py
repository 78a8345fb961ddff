"""`pebdsl compare`: every variant solved, savings split into trade and storage, failures kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pebdsl.console import print_comparison
from pebdsl.diagnostics import PebdslError
from pebdsl.present.studies import comparison_json, write_comparison
from pebdsl.study import compare as cmp
from pebdsl.study import runner

ROOT = Path(__file__).resolve().parents[1]
LUETH = ROOT / "designs" / "lueth2018_pcdg.peb"
SUMMARY_KEYS = {
    "file", "variant", "label", "description", "status", "total_cost", "shadow_cost",
    "objective", "currency", "saving",
    "saving_pct", "saving_trade", "saving_storage", "grid_import_kwh", "grid_export_kwh",
    "curtailment_kwh",
    "demand_shares", "peak_import_kw", "values", "stochastic",
}  # fmt: skip
VALUE_KEYS = {
    "pv_surplus_local_share", "peak_reduction_kw", "deferral_value", "local_trade_kwh",
    "local_trade_value", "flexibility_kwh", "flexibility_value",
}  # fmt: skip

STREET = """design "street" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 1 h; timezone = "UTC" }
series home = daily [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6,
                     0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5] kW
series solar = daily [0, 0, 0, 0, 0.02, 0.08, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74,
                      0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.08, 0.02, 0, 0, 0, 0]
series spot = daily [40, 38, 37, 36, 37, 42, 55, 70, 75, 68, 60, 55,
                     50, 48, 47, 50, 58, 72, 85, 80, 70, 60, 50, 45] EUR/MWh
grid { buy = spot + 5 ct/kWh; sell = spot }
block street {
  connection = 50 kW
  participant alice {
    load { profile = home }
    pv { profile = solar; peak = 6 kWp }
    battery { capacity = 10 kWh; power = 5 kW; efficiency = 95 % }
  }
  participant bob { load { profile = home }; pv { profile = solar; peak = 4 kWp } }
  participant carol { load { profile = home } }
}
market p2p { type = p2p; members = street; fee = 1 ct/kWh; loss = 2 % }
dso { energy_charge = 4 ct/kWh; reinforcement_cost = 120 EUR/kW/year }
variant reference { without market p2p; without *.battery }
variant no_trade { without market p2p }
"""
BROKEN = """variant bad { without market nosuch }
variant tight { without market p2p; set carol.connection = 0.1 kW }
"""


@pytest.fixture(scope="module")
def lueth_json() -> dict:
    """`pebdsl compare designs/lueth2018_pcdg.peb --json` through the real entry point."""
    exe = Path(sys.executable).with_name("pebdsl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pebdsl"]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [*cmd, "compare", str(LUETH), "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_lueth_compare_one_summary_per_variant(lueth_json: dict) -> None:
    cases = {c["label"]: c for c in lueth_json["cases"]}
    assert set(cases) == {"base", "reference", "storage_only", "p2p_only", "pool_hub"}
    for c in cases.values():
        assert set(c) == SUMMARY_KEYS | {"error"}
        assert set(c["values"]) == VALUE_KEYS
        assert c["status"] == "optimal" and c["error"] is None
        assert c["currency"] == "GBP"
        assert set(c["demand_shares"]) == {"own_generation", "battery", "local_trade", "grid"}
        assert sum(c["demand_shares"].values()) == pytest.approx(1.0)
        assert c["peak_import_kw"]["all"] > 0


def test_lueth_compare_costs_equal_single_solves(lueth_json: dict) -> None:
    from pebdsl.load import load_all
    from pebdsl.solve import solve

    single = {v or "base": solve(d).objective for v, d in load_all(str(LUETH)).items()}
    for c in lueth_json["cases"]:
        assert c["total_cost"] == pytest.approx(single[c["label"]], rel=1e-9)


def test_lueth_savings_decomposition(lueth_json: dict) -> None:
    cases = {c["label"]: c for c in lueth_json["cases"]}
    ref = cases["reference"]["total_cost"]
    for c in cases.values():
        assert c["saving"] == pytest.approx(ref - c["total_cost"], abs=1e-9)
        # The two parts add up to the saving (by construction, to rounding).
        assert c["saving_trade"] + c["saving_storage"] == pytest.approx(c["saving"], abs=1e-9)
        assert c["saving_pct"] == pytest.approx(100 * c["saving"] / ref)
    assert cases["reference"]["saving"] == 0.0
    assert cases["p2p_only"]["saving_storage"] == 0.0  # no batteries
    assert cases["pool_hub"]["saving_storage"] is not None
    # No trade in storage_only: its saving is all storage (its no-battery twin is the reference).
    assert cases["storage_only"]["saving_trade"] == pytest.approx(0.0, abs=1e-7)
    # The base's storage part is what batteries add on top of trade: cost(p2p_only) − cost(base).
    base = cases["base"]
    assert base["saving_storage"] == pytest.approx(
        cases["p2p_only"]["total_cost"] - base["total_cost"], abs=1e-7
    )
    assert cases["reference"]["values"]["peak_reduction_kw"] == 0.0


@pytest.fixture
def street_file(tmp_path: Path) -> Path:
    p = tmp_path / "street.peb"
    p.write_text(STREET)
    return p


def test_failing_variants_do_not_lose_the_others(tmp_path: Path) -> None:
    p = tmp_path / "street.peb"
    p.write_text(STREET + BROKEN)
    comp = cmp.compare([str(p)])
    by = {c.label: c for c in comp.cases}
    assert set(by) == {"base", "reference", "no_trade", "bad", "tight"}
    for ok in ("base", "reference", "no_trade"):
        assert by[ok].error is None and by[ok].results is not None
        assert by[ok].summary["saving"] is not None
    assert by["bad"].results is None and "nosuch" in (by["bad"].error_text or "")
    assert by["bad"].error is not None and by["bad"].error.codes == ["E101"]
    assert by["bad"].summary["status"] == "error"
    # carol's 0.1 kW connection cannot carry her load: E501, so the status is infeasible.
    assert by["tight"].results is None and by["tight"].error is not None
    assert "E501" in by["tight"].error.codes
    assert by["tight"].summary["status"] == "infeasible"
    assert set(by["tight"].summary) == SUMMARY_KEYS
    doc = comparison_json(comp)
    json.dumps(doc, allow_nan=False)
    assert [c["label"] for c in doc["cases"]] == ["base", "reference", "no_trade", "bad", "tight"]
    print_comparison(comp)  # renders failed cases too


def test_unreadable_file_is_a_failed_case(street_file: Path, tmp_path: Path) -> None:
    comp = cmp.compare([str(street_file), str(tmp_path / "missing.peb")])
    assert [c.label for c in comp.cases] == ["base", "reference", "no_trade", "base"]
    assert comp.cases[-1].error and comp.cases[-1].results is None
    assert comp.cases[0].results is not None


def test_compare_writes_outputs(street_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    comp = cmp.compare([str(street_file)])
    write_comparison(comp, out, command="pebdsl compare x")
    assert (out / "compare.html").is_file()
    for label in ("base", "reference", "no_trade"):
        d = out / "street" / label
        assert (d / "results.json").is_file() and (d / "report.html").is_file()
        doc = json.loads((d / "results.json").read_text())
        assert doc["objective"]["value"] == pytest.approx(comp.case(label).summary["total_cost"])
        # The reference-dependent values are in each case's results.json too.
        assert "peak_reduction_kw" in doc["values"]
    s = comp.case("base").summary
    assert s["saving"] > 0
    assert s["saving_trade"] + s["saving_storage"] == pytest.approx(s["saving"], abs=1e-9)


def test_without_batteries_removes_every_battery(street_file: Path) -> None:
    from pebdsl.load import load

    d = load(str(street_file))
    assert cmp.has_batteries(d)
    nb = cmp.without_batteries(d)
    assert not cmp.has_batteries(nb) and not nb.shared_batteries
    assert all(not m.batteries for m in nb.markets.values())
    assert nb.variant == "base" + cmp.NO_BATTERY_SUFFIX
    assert d.batteries()  # the original is untouched


def test_parallel_pool_gives_the_same_costs(street_file: Path) -> None:
    """The process pool (forced here) returns the same results as solving in this process."""
    from pebdsl.load import load_all

    designs = list(load_all(str(street_file)).values())
    seq = runner.run(cmp.solve_design, designs, workers=1)
    par = runner.run(cmp.solve_design, designs, workers=2)
    for one, other in zip(seq, par, strict=True):
        assert one.error is None and other.error is None
        assert one.value is not None and other.value is not None
        assert one.value.objective == pytest.approx(other.value.objective, rel=1e-12)


HIDDEN = """variant two_days {
  description = "The street over two days"
  compare     = false
  set horizon.duration = 2 d
}
"""


def test_compare_skips_variants_written_compare_false(tmp_path: Path) -> None:
    p = tmp_path / "street.peb"
    p.write_text(STREET + HIDDEN)
    comp = cmp.compare([str(p)])
    assert [c.label for c in comp.cases] == ["base", "reference", "no_trade"]
    assert all(c.description == "" and c.summary["description"] == "" for c in comp.cases)


def test_compare_runs_named_variants_also_compare_false(tmp_path: Path) -> None:
    p = tmp_path / "street.peb"
    p.write_text(STREET + HIDDEN)
    comp = cmp.compare([str(p)], variants=["two_days", "reference"])
    by = {c.label: c for c in comp.cases}
    assert list(by) == ["reference", "two_days"]  # declaration order; no base unless named
    two = by["two_days"]
    assert two.results is not None and two.results.design.n_steps == 48
    assert two.description == "The street over two days"
    assert two.summary["description"] == "The street over two days"
    # Two days against a one-day reference: no saving (the costs do not compare).
    assert two.summary["saving"] is None and two.summary["saving_storage"] is None
    assert by["reference"].summary["saving"] == pytest.approx(0.0, abs=1e-9)
    doc = comparison_json(comp)
    assert doc["cases"][1]["description"] == "The street over two days"
    print_comparison(comp)
    # `base` names the base design; without the reference there is no saving at all.
    comp = cmp.compare([str(p)], variants=["base"])
    assert [c.label for c in comp.cases] == ["base"]
    assert comp.cases[0].summary["saving"] is None


def test_compare_unknown_variant_name_is_e108(tmp_path: Path) -> None:
    p = tmp_path / "street.peb"
    p.write_text(STREET + HIDDEN)
    with pytest.raises(PebdslError) as info:
        cmp.compare([str(p)], variants=["two_day"])
    assert info.value.codes == ["E108"]
    text = info.value.render()
    assert "did you mean `two_days`?" in text and "base" in text


def test_compare_leaves_out_a_broken_compare_false_variant(tmp_path: Path) -> None:
    """When some variant fails and each is loaded on its own, `compare = false` still holds."""
    p = tmp_path / "street.peb"
    hidden_bad = "variant hidden { compare = false; without market nosuch }\n"
    p.write_text(STREET + BROKEN + hidden_bad)
    comp = cmp.compare([str(p)])
    assert [c.label for c in comp.cases] == ["base", "reference", "no_trade", "bad", "tight"]


def test_cli_compare_variant_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pebdsl.cli import app

    p = tmp_path / "street.peb"
    p.write_text(STREET + HIDDEN)
    runner = CliRunner()
    res = runner.invoke(app, ["compare", str(p), "--json", "--variant", "two_days", "-v", "base"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [c["label"] for c in doc["cases"]] == ["base", "two_days"]
    assert doc["cases"][1]["description"] == "The street over two days"
    res = runner.invoke(app, ["compare", str(p), "--variant", "nosuch"])
    assert res.exit_code != 0
    assert "E108" in res.output


def test_savings_split_nets_out_the_references_own_batteries(tmp_path: Path) -> None:
    # Sunny street with alice's battery kept in the no-trade reference: the reference's split
    # is 0 / 0, and the base design's trade part is what trade saves with no battery anywhere.
    from pebdsl.load import load_all
    from pebdsl.solve import solve

    text = (ROOT / "designs" / "sunny_street.peb").read_text()
    text = text.replace("currency = EUR", "currency = EUR\n  reference = no_trade", 1)
    path = tmp_path / "street.peb"
    path.write_text(text)
    cases = {c.label: c.summary for c in cmp.compare([str(path)]).cases}
    assert cases["no_trade"]["saving_trade"] == pytest.approx(0.0, abs=1e-9)
    assert cases["no_trade"]["saving_storage"] == pytest.approx(0.0, abs=1e-9)
    designs = load_all(str(path))
    bare = {k: solve(cmp.without_batteries(d)).objective for k, d in designs.items()}
    base = cases["base"]
    assert base["saving_trade"] == pytest.approx(bare["no_trade"] - bare[None], abs=1e-7)
    assert base["saving_trade"] + base["saving_storage"] == pytest.approx(base["saving"], abs=1e-9)


SEASONS = """design "two seasons" { reference = reference }
horizon { start = 2023-06-12; duration = 1 d; step = 1 h; timezone = "UTC" }
grid { buy = 0.30 EUR/kWh }
participant alice { load { profile = 2 kW } }
variant reference { }
variant winter_reference {
  reference = winter_reference
  horizon { start = 2023-01-23 }
  set grid.buy = 0.40 EUR/kWh
}
variant winter {
  reference = winter_reference
  horizon { start = 2023-01-23 }
  set grid.buy = 0.35 EUR/kWh
}
"""


def test_each_case_is_measured_against_its_own_reference(tmp_path: Path) -> None:
    """alice draws 2 kW for 24 h = 48 kWh. June (base, reference) at 0.30 EUR/kWh: 14.40 EUR.
    The January reference at 0.40: 19.20; the January case at 0.35: 16.80. Against the file's
    (June) reference the January case is on another horizon (no saving); against its own
    `reference = winter_reference` it saves 19.20 − 16.80 = 2.40 EUR, 2.40 / 19.20 = 12.5 %.
    The January reference names itself: saving 0, and the verdict calls it the reference."""
    from pebdsl.study.verdict import verdict

    p = tmp_path / "seasons.peb"
    p.write_text(SEASONS)
    comp = cmp.compare([str(p)])
    by = {c.label: c for c in comp.cases}
    assert {k: c.reference for k, c in by.items()} == {
        "base": "reference",
        "reference": "reference",
        "winter_reference": "winter_reference",
        "winter": "winter_reference",
    }
    assert by["base"].summary["total_cost"] == pytest.approx(14.40)
    assert by["winter_reference"].summary["total_cost"] == pytest.approx(19.20)
    assert by["winter"].summary["total_cost"] == pytest.approx(16.80)
    assert by["base"].summary["saving"] == pytest.approx(0.0, abs=1e-9)
    assert by["winter_reference"].summary["saving"] == pytest.approx(0.0, abs=1e-9)
    assert by["winter"].summary["saving"] == pytest.approx(2.40)
    assert by["winter"].summary["saving_pct"] == pytest.approx(12.5)
    assert comp.reference_of(by["winter"]) is by["winter_reference"]
    assert comp.reference_of(by["base"]) is by["reference"]
    refs = {v.label for v in verdict(comp.cases) if v.is_reference}
    assert refs == {"reference", "winter_reference"}
    # each case's report is written against its own reference
    write_comparison(comp, tmp_path / "out")
    page = (tmp_path / "out" / "seasons" / "winter" / "report.html").read_text()
    assert "winter_reference" in page


def test_a_variant_reference_naming_no_variant_is_e101(tmp_path: Path) -> None:
    from pebdsl.load import load

    p = tmp_path / "seasons.peb"
    p.write_text(SEASONS.replace("= winter_reference\n  horizon", "= winter_referense\n  horizon"))
    with pytest.raises(PebdslError) as info:
        load(str(p), variant="winter")
    assert info.value.codes == ["E101"]
    text = info.value.render()
    assert "seasons.peb:12:15" in text and "did you mean `winter_reference`?" in text
