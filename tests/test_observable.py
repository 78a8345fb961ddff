"""Observable solves (issue 14): logging, `-v`/`-q`, the solver's own log, solver options on
both backends, honest status of a time-limited solve (E506), a refused option (E507), the
progress line (on a terminal only), and `check`'s fast path without Typer.

A time limit of 0 s is hit for certain: HiGHS compares the time spent with the limit before
its first iteration, on any model (no wall-clock figure is asserted anywhere here)."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pebdsl
from pebdsl.cli import app
from pebdsl.diagnostics import PebdslError
from pebdsl.logs import STAGE_ATTR, STAGES

ROOT = Path(__file__).resolve().parents[1]
SUNNY = ROOT / "designs" / "sunny_street.peb"
BACKENDS = ["highs", "pyomo"]

runner = CliRunner()

# tests/test_tariff_features.py's stepped tariff: binaries, so the MIP runs before the LP.
STEPPED = (
    'design "t" { currency = NOK }\n'
    'horizon { start = 2023-03-01; duration = 2 h; step = 1 h; timezone = "Europe/Oslo" }\n'
    "grid { buy = 1 NOK/kWh }\n"
    "participant flat {\n"
    "  load { profile = [3, 1] kW }\n"
    "  battery { capacity = 1 kWh; power = 1 kW; initial = 100 %; final = initial }\n"
    "  class = household\n"
    "  capacity_steps = [2, 5] kW\n"
    "  capacity_step_prices = [100, 200] NOK/month\n"
    "}\n"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI sets up the `pebdsl` logger in this process (a handler, a level): undo it, so
    each test starts from the library's own state (a NullHandler only)."""
    logger = logging.getLogger("pebdsl")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _solve(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


# --- -q / -v ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["-q", "solve", str(SUNNY)], ["solve", str(SUNNY), "--quiet"]])
def test_quiet_solve_prints_nothing(args: list[str]) -> None:
    """-q before or after the command: a successful solve prints nothing at all, exit 0."""
    code, out, err = _solve(*args)
    assert (code, out, err) == (0, "", "")


def test_quiet_keeps_errors_and_exit_code() -> None:
    code, out, err = _solve("-q", "solve", str(SUNNY), "--time-limit", "0")
    assert code == 1
    assert out == ""
    assert err.startswith("error[E506]")


def test_quiet_keeps_the_json_document() -> None:
    code, out, err = _solve("-q", "solve", str(SUNNY), "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["status"] == "optimal"


def test_quiet_check_prints_nothing_but_errors(tmp_path: Path) -> None:
    assert _solve("-q", "check", str(SUNNY)) == (0, "", "")
    bad = tmp_path / "bad.peb"
    bad.write_text(SUNNY.read_text(encoding="utf-8").replace("participant", "participnt", 1))
    code, out, err = _solve("-q", "check", str(bad))
    assert code == 1 and out == "" and "error[E" in err


def test_verbose_logs_each_stage_and_vv_the_details() -> None:
    code, _, err = _solve("-v", "solve", str(SUNNY))
    assert code == 0
    # rich writes "INFO     lower: …": the stages in order, each once (no re-solve here).
    seen = [m.group(1) for m in re.finditer(r"INFO +([a-z-]+):", err)]
    assert seen == ["resolve", "lower", "hand-off", "solve", "settle"]
    assert "DEBUG" not in err
    code, _, err = _solve("-vv", "solve", str(SUNNY))
    assert code == 0 and "DEBUG" in err and "lowered in" in err


def test_library_logs_stages_and_prints_nothing(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The package has a NullHandler; records carry their stage; nothing is printed."""
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("pebdsl").handlers)
    with caplog.at_level(logging.INFO, logger="pebdsl"):
        design = pebdsl.load(str(SUNNY))
        capsys.readouterr()
        caplog.clear()
        pebdsl.solve(design)
    stages = [getattr(r, STAGE_ATTR) for r in caplog.records if hasattr(r, STAGE_ATTR)]
    assert stages == ["lower", "hand-off", "solve", "settle"]
    assert set(stages) <= set(STAGES)
    assert capsys.readouterr() == ("", "")


# --- the solver's log and options ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_solver_log_holds_highs_output(tmp_path: Path, backend: str) -> None:
    log = tmp_path / "highs.log"
    log.write_text("old text\n", encoding="utf-8")
    code, _, err = _solve("solve", str(SUNNY), "--backend", backend, "--solver-log", str(log))
    assert code == 0, err
    text = log.read_text(encoding="utf-8")
    assert "old text" not in text  # replaced, not appended to
    assert "Model status        : Optimal" in text
    assert "Presolving model" in text
    # presolve=off reaches HiGHS: its log then has no presolve.
    code, _, _ = _solve(
        "solve", str(SUNNY), "--backend", backend, "--solver-log", str(log),
        "--solver-option", "presolve=off", "--threads", "1",
    )  # fmt: skip
    assert code == 0
    text = log.read_text(encoding="utf-8")
    assert "Model status        : Optimal" in text and "Presolving model" not in text


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_reports_its_status_and_no_results(tmp_path: Path, backend: str) -> None:
    """A time limit of 0 s stops HiGHS before an optimum: E506 naming status time_limit, exit
    1, nothing on stdout (no bills), no results folder written."""
    out = tmp_path / "out"
    code, stdout, err = _solve(
        "solve", str(SUNNY), "--backend", backend, "--time-limit", "0", "--out", str(out)
    )
    assert code == 1
    assert stdout == ""
    assert err.startswith("error[E506]: the solver stopped at its time limit before an optimum")
    assert "(status time_limit)" in err
    assert not (out / "results.json").exists()


def test_time_limit_in_the_mip(tmp_path: Path) -> None:
    """A design with stepped capacity charges solves a MIP first; the limit stops it there,
    and the error says so instead of solving the relaxation (which N105 would report)."""
    design = tmp_path / "stepped.peb"
    design.write_text(STEPPED, encoding="utf-8")
    code, _, err = _solve("solve", str(design), "--time-limit", "0")
    assert code == 1
    assert "(status time_limit) in the MIP of the stepped capacity charges" in err
    code, _, err = _solve("solve", str(design), "--json")
    assert code == 0, err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("tim_limit=10", "HiGHS has no option `tim_limit`"),
        ("threads", "--solver-option takes KEY=VALUE, not `threads`"),
        ("presolve=maybe", "HiGHS refused the value `maybe` for its option `presolve`"),
        ("output_flag=true", "the HiGHS option `output_flag` is set by pebdsl"),
    ],
)
def test_bad_solver_option_is_a_coded_error(option: str, message: str) -> None:
    code, out, err = _solve("solve", str(SUNNY), "--solver-option", option)
    assert code == 1 and out == ""
    assert err.startswith(f"error[E507]: {message}")
    assert "Traceback" not in err


def test_unknown_option_suggests_the_close_one() -> None:
    _, _, err = _solve("solve", str(SUNNY), "--solver-option", "tim_limit=10")
    assert "did you mean `time_limit`?" in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_solver_options_in_the_python_api(tmp_path: Path, backend: str) -> None:
    """The same optimum with threads and a log file as without; a time limit of 0 is E506;
    an unknown option is E507 before anything is lowered."""
    design = pebdsl.load(str(SUNNY))
    plain = pebdsl.solve(design, backend=backend)
    log = tmp_path / "api.log"
    opts = {"threads": 1, "log_file": str(log), "mip_rel_gap": 1e-4}
    res = pebdsl.solve(design, backend=backend, solver_options=opts)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(plain.objective, rel=1e-9)
    assert "Model status        : Optimal" in log.read_text(encoding="utf-8")
    with pytest.raises(PebdslError) as e:
        pebdsl.solve(design, backend=backend, solver_options={"time_limit": 0})
    assert e.value.codes == ["E506"]
    with pytest.raises(PebdslError) as e:
        pebdsl.solve(design, backend=backend, solver_options={"no_such_option": 1})
    assert e.value.codes == ["E507"]


# --- the progress line -----------------------------------------------------------------------


def _env() -> dict[str, str]:
    # Shown from the start (not after 2 s), so a quick solve draws it at least once.
    return {**os.environ, "PEBDSL_PROGRESS_DELAY": "0", "NO_COLOR": "1"}


def test_no_progress_line_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEBDSL_PROGRESS_DELAY", "0")
    code, _, err = _solve("solve", str(SUNNY))
    assert (code, err) == (0, "")
    proc = subprocess.run(
        [sys.executable, "-m", "pebdsl", "solve", str(SUNNY)],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")


def test_progress_line_on_a_terminal() -> None:
    """stderr on a pseudo-terminal: the line names the file, a stage of STAGES and the time
    elapsed, and is erased at the end (nothing of it stays before the summary)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pebdsl", "solve", str(SUNNY)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(),
    )
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.wait() == 0
    os.close(master)
    text = err.decode()
    drawn = re.findall(r"\rsolving sunny_street\.peb: ([a-z-]+) \((\d)/6\), [\d.]+ s elapsed", text)
    assert drawn, text
    assert {s for s, _ in drawn} <= set(STAGES)
    assert all(STAGES[int(k) - 1] == s for s, k in drawn)
    assert text.endswith("\r\x1b[K")
    assert "optimal" in out


# --- check's fast path -----------------------------------------------------------------------


def _run(entry: str, args: list[str], cwd: Path) -> tuple[int, str, str]:
    code = f"import sys; from {entry} import main; sys.argv = ['pebdsl', *sys.argv[1:]]; main()"
    p = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return p.returncode, p.stdout, p.stderr


def test_check_fast_path_matches_the_typer_command(tmp_path: Path) -> None:
    """Every command line the fast path takes gives the same output and exit code as the
    Typer command: valid files, a design error, a missing file (2), warnings with and without
    --deny-warnings, a variant, -q."""
    warned = tmp_path / "warned.peb"
    warned.write_text(
        'design "w" { currency = EUR }\n'
        "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
        "grid { buy = 0.2 EUR/kWh; sell = 0.3 EUR/kWh }\n"  # W101: sell above buy
        "participant a { load { profile = 1 kW } }\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.peb"
    bad.write_text("design {\n", encoding="utf-8")
    shutil_copy = tmp_path / "sunny.peb"
    shutil_copy.write_text(SUNNY.read_text(encoding="utf-8"), encoding="utf-8")
    for line in [
        "check sunny.peb",
        "check sunny.peb warned.peb",
        "check warned.peb --deny-warnings",
        "check bad.peb sunny.peb",
        "check missing.peb",
        "check sunny.peb --variant no_trade",
        "check -q warned.peb bad.peb",
    ]:
        args = shlex.split(line)
        fast = _run("pebdsl.entry", args, tmp_path)
        full = _run("pebdsl.cli", args, tmp_path)
        assert fast == full, line
    assert _run("pebdsl.entry", ["check", "warned.peb"], tmp_path)[2].count("W101") >= 1


# --- docs/errors.md: E506 and E507 ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["E506", "E507"])
def test_errors_md_example(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```sh command under `## CODE` prints exactly the ```text shown (exit 1)."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {code} ", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```sh\n(.*?)\n```.*?```text\n(.*?)\n```", section, re.S)
    assert m, code
    monkeypatch.chdir(ROOT)
    exit_code, out, err = _solve(*shlex.split(m.group(1))[1:])
    assert (exit_code, out) == (1, "")
    assert err.strip().removesuffix("1 error").strip() == m.group(2).strip()


def test_solver_options_are_refused_where_they_do_not_reach() -> None:
    """Rolling and stochastic solves do not take solver options yet: E507 says so rather than
    solving without the limit the user asked for."""
    code, out, err = _solve(
        "solve", str(ROOT / "designs" / "zepter2019_pcdg.peb"), "--threads", "1"
    )
    assert code == 1 and out == ""
    assert err.startswith("error[E507]: solver options")
