"""The command line as a user meets it: exit codes, diagnostics on stderr, outputs on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pebdsl.cli import app

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = sorted((ROOT / "designs").glob("*.peb"))
SUNNY = ROOT / "designs" / "sunny_street.peb"

runner = CliRunner()

BAD = """design "x" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 1 h }
series home = daily [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] kW
grid { buy = 0.3 EUR/kWh; sell = none }
participant bob { load { profile = home } }
participant alice { load { profile = home } }
market m { type = p2p; members = [alice, bobb] }
"""


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_check_accepts_every_shipped_design(path: Path) -> None:
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {path}")


def test_check_reports_coded_error_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.peb"
    bad.write_text(BAD)
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    err = result.stderr
    assert "error[E101]: unknown participant `bobb`" in err
    assert f"{bad}:8:" in err
    assert "did you mean `bob`?" in err
    assert "Traceback" not in err


def test_check_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["check", str(tmp_path / "missing.peb")]).exit_code == 2
    assert runner.invoke(app, ["check"]).exit_code == 2
    assert runner.invoke(app, ["check", "--no-such-option", str(SUNNY)]).exit_code == 2


def test_check_one_variant_and_unknown_variant() -> None:
    ok = runner.invoke(app, ["check", str(SUNNY), "--variant", "no_trade"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["check", str(SUNNY), "--variant", "no_trad"])
    assert bad.exit_code == 1
    assert "no_trade" in bad.stderr  # the "did you mean" hint


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    messy = tmp_path / "messy.peb"
    messy.write_text(SUNNY.read_text().replace("\n  ", "\n      "))
    check = runner.invoke(app, ["fmt", "--check", str(messy)])
    assert check.exit_code == 1
    assert "would reformat" in check.output
    assert runner.invoke(app, ["fmt", str(messy)]).exit_code == 0
    assert runner.invoke(app, ["fmt", "--check", str(messy)]).exit_code == 0


def test_shipped_designs_are_formatted() -> None:
    result = runner.invoke(app, ["fmt", "--check", *map(str, DESIGNS)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["ir", "lp", "mps", "math"])
def test_compile_emits_each_form(kind: str, tmp_path: Path) -> None:
    out = tmp_path / f"model.{kind}"
    result = runner.invoke(app, ["compile", str(SUNNY), "--emit", kind, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert len(text) > 100
    if kind in ("lp", "math"):
        assert "alice" in text  # the design's own names survive into the model


def test_explain_prints_the_formulation() -> None:
    result = runner.invoke(app, ["explain", str(SUNNY)])
    assert result.exit_code == 0, result.output
    assert "alice" in result.output and "street_p2p" in result.output


def test_solve_json_contract(tmp_path: Path) -> None:
    result = runner.invoke(app, ["solve", str(SUNNY), "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in (
        "status",
        "objective",
        "design",
        "variant",
        "participants",
        "blocks",
        "markets",
        "kpis",
        "model",
        "timings",
        "versions",
        "hash",
    ):
        assert key in doc, key
    assert doc["status"] == "optimal"
    assert doc["objective"]["unit"] == "EUR"
    for key in ("variables", "constraints", "nonzeros"):
        assert doc["model"][key] > 0
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["objective"] == doc["objective"]
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_python_module_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pebdsl", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("pebdsl ")


def test_solve_report_shows_savings_against_the_reference(tmp_path: Path) -> None:
    lueth = ROOT / "designs" / "lueth2018_pcdg.peb"
    with_ref = runner.invoke(app, ["solve", str(lueth), "--out", str(tmp_path / "a")])
    assert with_ref.exit_code == 0, with_ref.output
    assert "saving against the reference" in (tmp_path / "a" / "report.html").read_text()
    without = runner.invoke(
        app, ["solve", str(lueth), "--no-reference", "--out", str(tmp_path / "b")]
    )
    assert without.exit_code == 0, without.output
    assert "saving against the reference" not in (tmp_path / "b" / "report.html").read_text()


def test_solve_out_with_set_on_what_the_reference_removed(tmp_path: Path) -> None:
    # sunny_street's reference `no_trade` has no `street_p2p`: the fee edit applies to the
    # design, not to its reference, which is solved without it (and says so), while the energy
    # charge edit applies to both.
    sunny = tmp_path / "sunny.peb"
    text = (ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8")
    sunny.write_text(text.replace("currency = EUR", "currency = EUR\n  reference = no_trade", 1))
    result = runner.invoke(
        app,
        [
            "solve",
            str(sunny),
            "--set",
            "market street_p2p.fee = 0 ct/kWh",
            "--set",
            "dso.energy_charge = 6 ct/kWh",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert "`market street_p2p.fee = 0 ct/kWh`" in err and "dso.energy_charge" not in err
    from pebdsl.load import load
    from pebdsl.solve import solve

    ref = solve(load(str(sunny), variant="no_trade", sets=["dso.energy_charge = 6 ct/kWh"]))
    report = (tmp_path / "out" / "report.html").read_text()
    assert "saving against the reference" in report
    assert f"{ref.objective:.2f}" in report
    # A misspelt name is still an error, not a silent skip.
    bad = runner.invoke(
        app,
        [
            "solve",
            str(sunny),
            "--set",
            "market street_p2pp.fee = 0 ct/kWh",
            "--out",
            str(tmp_path / "out2"),  # tmp_path itself holds sunny.peb: not an output folder
        ],
    )
    assert bad.exit_code == 1


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02\xff\xfe binary", b'design "x" { currency = EUR', "é∑🙂".encode()],
    ids=["empty", "binary", "truncated", "unicode"],
)
def test_check_never_tracebacks_on_junk(content: bytes, tmp_path: Path) -> None:
    junk = tmp_path / "junk.peb"
    junk.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", str(junk)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "error[E" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_and_fmt_do_not_import_the_solver_stack() -> None:
    # ARCHITECTURE.md: only the backends import Pyomo or highspy; `check` and `fmt` stay light.
    code = (
        "import sys\n"
        "path = sys.argv[1]\n"
        "from pebdsl.cli import main\n"
        "sys.argv = ['pebdsl', 'check', path]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "from pebdsl.front.formatter import format_source\n"
        "format_source(open(path).read(), path)\n"
        "heavy = ('pyomo', 'highspy', 'jinja2', 'matplotlib')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(SUNNY)], capture_output=True, text=True, check=False
    )
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_sweep_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sweep",
            str(SUNNY),
            "--set",
            "alice.pv.peak=4 kWp,8 kWp",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "sweep.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per value
