"""Command-line conventions (issue 14): `-h` everywhere, help without Python type metavars,
`check --json` / `--format sarif` with the diagnostics' structure and a documented schema,
`pebdsl new`, `solve --no-csv`, thousands separators, and the E904/E905 examples of
docs/errors.md."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.present.check_report import CHECK_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SUNNY = ROOT / "designs" / "sunny_street.peb"
COMMANDS = ["check", "fmt", "compile", "explain", "solve", "compare", "sweep", "new", "export"]

runner = CliRunner()

# docs/cli.md's example: `bobb` on line 6 is not a participant.
BAD = (
    'design "x" { currency = EUR }\n'
    "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
    "grid { buy = 0.3 EUR/kWh; sell = none }\n"
    "participant bob { load { profile = 1 kW } }\n"
    "participant alice { load { profile = 1 kW } }\n"
    "market m { type = p2p; members = [alice, bobb] }\n"
)


def _json_blocks(md: Path) -> list[Any]:
    return [
        json.loads(m)
        for m in re.findall(r"^```json\n(.*?)^```", md.read_text(encoding="utf-8"), re.S | re.M)
    ]


def validate(doc: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The subset of JSON Schema that CHECK_SCHEMA uses: type (one or a list), enum,
    required, properties, items. Raises AssertionError naming the path that breaks it."""
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "boolean": bool,
        "null": type(None),
    }
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        ok = any(
            isinstance(doc, kinds[t]) and not (t == "integer" and isinstance(doc, bool))
            for t in allowed
        )
        assert ok, f"{where}: {doc!r} is not {allowed}"
    if "enum" in schema:
        assert doc in schema["enum"], f"{where}: {doc!r} not in {schema['enum']}"
    if isinstance(doc, dict):
        for key in schema.get("required", []):
            assert key in doc, f"{where}: `{key}` missing"
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                validate(doc[key], sub, f"{where}.{key}")
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            validate(item, schema["items"], f"{where}[{i}]")


# --- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_dash_h_is_help_on_every_command(command: str) -> None:
    argv = [command, "-h"] if command else ["-h"]
    short = runner.invoke(app, argv)
    assert short.exit_code == 0, short.output
    assert short.stdout.startswith("Usage: pebdsl")
    assert short.stdout == runner.invoke(app, [*argv[:-1], "--help"]).stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_python_types(command: str) -> None:
    """No `<bool>`, `<list[str]>`, `<path>` or `<str>`: flags take no value, values are named
    by metavar; design files are FILE."""
    text = runner.invoke(app, [command, "-h"], terminal_width=200).stdout
    assert not re.search(r"<[a-z][^>]*>", text), text
    if command != "new":
        assert re.search(r"^Usage: pebdsl \w+ \[OPTIONS\] \{FILE\}", text, re.M), text
        assert re.search(r"^  FILE\s", text, re.M), text


def test_root_help_offers_shell_completion() -> None:
    text = runner.invoke(app, ["-h"]).stdout
    assert "--install-completion" in text and "--show-completion" in text
    for command in COMMANDS:
        assert re.search(rf"^  {command}\s", text, re.M), command


# --- check --json / --format sarif ---------------------------------------------------------------


def test_check_json_schema_is_the_documented_one() -> None:
    blocks = _json_blocks(ROOT / "docs" / "cli.md")
    assert blocks[-1] == CHECK_SCHEMA


def test_check_json_renders_the_documented_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md's example is what `check --json bad.peb` prints. By hand: line 6 is
    `market m { type = p2p; members = [alice, bobb] }`; 41 characters stand before `bobb`, so it
    spans columns 42 to 46 (end exclusive); its offset is the length of lines 1-5 with their
    newlines (30 + 59 + 40 + 44 + 46 = 219) + 41 = 260."""
    (tmp_path / "bad.peb").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "--json", "bad.peb"])
    assert result.exit_code == 1
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    validate(doc, CHECK_SCHEMA)
    example = _json_blocks(ROOT / "docs" / "cli.md")[0]
    example["tool"]["version"] = doc["tool"]["version"]
    assert doc == example
    span = doc["diagnostics"][0]["span"]
    lines = BAD.splitlines(keepends=True)
    assert span["start"] == sum(map(len, lines[:5])) + span["column"] - 1
    assert BAD[span["start"] : span["end"]] == "bobb"
    assert lines[5][span["column"] - 1 : span["end_column"] - 1] == "bobb"


def test_check_json_ok_warnings_and_missing_file(tmp_path: Path) -> None:
    """sunny_street passes with its base and its one variant; a design whose feed-in price
    tops the buy price warns (W101); a missing file is E901 without a span, exit 2."""
    ok = runner.invoke(app, ["check", "--json", str(SUNNY)])
    assert ok.exit_code == 0
    doc = json.loads(ok.stdout)
    validate(doc, CHECK_SCHEMA)
    assert doc["files"] == [{"file": str(SUNNY), "ok": True, "checked": ["base", "no_trade"]}]
    assert (doc["errors"], doc["warnings"], doc["diagnostics"]) == (0, 0, [])

    missing = runner.invoke(app, ["check", "--format", "json", str(tmp_path / "no.peb")])
    assert missing.exit_code == 2
    doc = json.loads(missing.stdout)
    validate(doc, CHECK_SCHEMA)
    assert [(d["code"], d["span"]) for d in doc["diagnostics"]] == [("E901", None)]
    assert doc["files"][0]["ok"] is False


def test_check_json_warning_and_deny_warnings(tmp_path: Path) -> None:
    """W101: selling at 0.4 EUR/kWh while buying at 0.3 EUR/kWh. A warning leaves the file ok
    (exit 0); --deny-warnings makes it an error (exit 1)."""
    design = tmp_path / "w.peb"
    design.write_text(
        'design "w" { currency = EUR }\n'
        "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
        "grid { buy = 0.3 EUR/kWh; sell = 0.4 EUR/kWh }\n"
        "participant a { load { profile = 1 kW }; pv { profile = 0.5; peak = 2 kWp } }\n"
    )
    warned = runner.invoke(app, ["check", "--json", str(design)])
    assert warned.exit_code == 0, warned.output
    doc = json.loads(warned.stdout)
    validate(doc, CHECK_SCHEMA)
    assert [(d["code"], d["severity"]) for d in doc["diagnostics"]] == [("W101", "warning")]
    assert doc["files"][0]["ok"] is True and doc["warnings"] == 1
    assert doc["diagnostics"][0]["span"]["line"] == 3
    denied = runner.invoke(app, ["check", "--json", "--deny-warnings", str(design)])
    assert denied.exit_code == 1
    assert json.loads(denied.stdout)["diagnostics"][0]["severity"] == "error"


def test_check_sarif(tmp_path: Path) -> None:
    """The E101 of BAD as a SARIF 2.1.0 result: rule E101, level error, the region of `bobb`
    (line 6, columns 42 to 46, four characters) and the hint in the properties."""
    bad = tmp_path / "bad.peb"
    bad.write_text(BAD)
    result = runner.invoke(app, ["check", "--format", "sarif", str(bad)])
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "pebdsl"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["E101"]
    (res,) = run["results"]
    assert (res["ruleId"], res["level"]) == ("E101", "error")
    assert res["message"]["text"] == "unknown participant `bobb`"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("bad.peb")
    region = loc["region"]
    assert (region["startLine"], region["startColumn"]) == (6, 42)
    assert (region["endLine"], region["endColumn"], region["charLength"]) == (6, 46, 4)
    assert res["properties"]["hints"] == ["did you mean `bob`?"]


# --- new -----------------------------------------------------------------------------------------


def test_new_writes_a_starter_that_checks_and_solves(tmp_path: Path) -> None:
    target = tmp_path / "my_street"
    made = runner.invoke(app, ["new", str(target)])
    assert made.exit_code == 0, made.output
    path = tmp_path / "my_street.peb"
    text = path.read_text()
    assert 'design "my_street"' in text
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 8  # commented
    check = runner.invoke(app, ["check", "--deny-warnings", str(path)])
    assert check.exit_code == 0, check.output
    assert runner.invoke(app, ["fmt", "--check", str(path)]).exit_code == 0  # canonical layout
    solved = runner.invoke(app, ["solve", str(path), "--json"])
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout)["status"] == "optimal"


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "mine.peb"
    path.write_text("# mine\n")
    refused = runner.invoke(app, ["new", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error[E904]: `{path}` already exists")
    assert path.read_text() == "# mine\n"


def test_new_quotes_an_odd_name(tmp_path: Path) -> None:
    """A `"` and a `\\` in the file name become escapes in the title: the design still checks."""
    made = runner.invoke(app, ["new", str(tmp_path / 'a "b" \\c')])
    assert made.exit_code == 0, made.output
    path = tmp_path / 'a "b" \\c.peb'
    assert 'design "a \\"b\\" \\\\c"' in path.read_text()
    assert runner.invoke(app, ["check", str(path)]).exit_code == 0


# --- solve --no-csv, thousands separators --------------------------------------------------------


def test_solve_no_csv_writes_parquet_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(SUNNY), "--out", str(out), "--no-csv"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.endswith(".csv")]
    for stem in ("participants", "batteries", "blocks", "markets", "bills"):
        assert f"{stem}.parquet" in names
    assert {"results.json", "report.html"} <= names
    # The provenance names the generator libraries too (a profile changes with them).
    versions = json.loads((out / "results.json").read_text())["versions"]
    for dist in ("pvlib", "demandlib", "holidays", "scipy", "pandas", "highspy"):
        assert versions[dist], dist


def test_summary_numbers_have_thousands_separators(tmp_path: Path) -> None:
    """sunny_street with every load x1000 (the `home` series in MW instead of kW, the block's
    connection 50 MW): carol, who has neither PV nor a battery and whose neighbours' PV covers
    not even their own loads, imports her whole daily demand from the grid: the 24 `home`
    values sum to 6.75 + 11.2 = 17.95 kWh, x1000 = 17,950.0 kWh, printed with a separator."""
    big = tmp_path / "big.peb"
    text = SUNNY.read_text()
    big.write_text(text.replace("0.7, 0.5] kW", "0.7, 0.5] MW").replace("50 kW", "50 MW"))
    result = runner.invoke(app, ["solve", str(big)], terminal_width=200)
    assert result.exit_code == 0, result.output
    carol = next(line for line in result.stdout.splitlines() if "carol" in line)
    assert "17,950.0" in carol
    assert re.search(r"total cost \d{1,3}(,\d{3})+\.\d\d EUR", result.stdout)


# --- docs/errors.md: E904 and E905 ---------------------------------------------------------------


def _cli_example(code: str) -> tuple[str, str]:
    """The ```sh command and the ```text output under `## CODE` in docs/errors.md."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {code} ", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```sh\n(.*?)\n```.*?```text\n(.*?)\n```", section, re.S)
    assert m, code
    return m.group(1), m.group(2)


def test_errors_md_e904_example(monkeypatch: pytest.MonkeyPatch) -> None:
    command, shown = _cli_example("E904")
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 2
    assert result.stderr.strip().removesuffix("1 error").strip() == shown.strip()


def test_errors_md_e905_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Dask (made unimportable here), --scheduler stops with E905 before solving."""
    command, shown = _cli_example("E905")
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(sys.modules, "dask", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "dask.distributed", raising=False)
    result = runner.invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().removesuffix("1 error").strip() == shown.strip()
