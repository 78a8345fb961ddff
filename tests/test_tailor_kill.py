"""`pebdsl tailor` killed for real: a run stopped with SIGKILL keeps its finished cases, and the
rerun solves only the others and ends where an uninterrupted run ends (docs/tailor.md).

The run: `pebdsl tailor designs/tailor_street.peb` (18 cases, the shipped example) in its own
process group with two worker processes. The test polls the case cache `OUT/cases/` and kills
the whole group (the command and its pool) with SIGKILL as soon as one case file is there —
no clock, only the cache's progress. What it shows:
- the files present after the kill are whole JSON (each case is written to a temporary file
  and renamed) and fewer than the 18;
- the rerun with the same `--out` reports "N solved now, M from the cache" with M = the files
  kept and N = 18 − M, and `tailor.json` marks exactly those M cases `cached`;
- the kept files are untouched by the rerun (same inode and content: never rewritten);
- every case's figures, the front and the recommendation equal those of a run from scratch.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "designs" / "tailor_street.peb"
CASES = 18  # 3 markets x 3 storage options x 2 grid plans


def _cmd(out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pebdsl",
        "tailor",
        str(DESIGN),
        "--out",
        str(out),
        "--workers",
        "2",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def _run(out: Path) -> str:
    done = subprocess.run(
        _cmd(out), capture_output=True, text=True, env=_env(), cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _kill_after_first_case(out: Path) -> None:
    """Start the command and SIGKILL its process group once a case file exists."""
    cases = out / "cases"
    proc = subprocess.Popen(
        _cmd(out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        while not (cases.is_dir() and any(cases.glob("*.json"))):
            if proc.poll() is not None:
                pytest.fail(f"tailor ended (status {proc.returncode}) before any case finished")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)  # a poll interval, not a timing assertion
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _cases(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "tailor.json").read_text(encoding="utf-8"))
    return {row["key"]: row for row in doc["cases"]}


@pytest.mark.slow
def test_a_killed_tailor_run_resumes(tmp_path: Path) -> None:
    """The module docstring's four points, on a real process killed with SIGKILL."""
    out = tmp_path / "killed"
    _kill_after_first_case(out)
    kept = sorted((out / "cases").glob("*.json"))
    assert 1 <= len(kept) < CASES, f"{len(kept)} cases finished before the kill"
    before = {}
    for f in kept:
        entry = json.loads(f.read_text(encoding="utf-8"))  # whole: written then renamed
        assert entry["status"] in ("optimal", "infeasible", "error"), entry
        before[f.stem] = (f.stat().st_ino, f.read_bytes())
    assert not (out / "tailor.json").exists()  # killed before the end

    text = _run(out)
    m = re.search(r"(\d+)\s+solved\s+now,\s+(\d+)\s+from\s+the\s+cache", text)
    assert m is not None, text
    assert (int(m.group(1)), int(m.group(2))) == (CASES - len(kept), len(kept))
    resumed = _cases(out)
    assert len(resumed) == CASES
    assert {k for k, row in resumed.items() if row["cached"]} == set(before)
    for key, (inode, data) in before.items():
        f = out / "cases" / f"{key}.json"
        assert f.stat().st_ino == inode and f.read_bytes() == data, key

    _run(tmp_path / "fresh")
    fresh = _cases(tmp_path / "fresh")
    assert set(fresh) == set(resumed)
    figures = (
        "status",
        "total_cost",
        "pv_surplus_local_share",
        "peak_import_kw",
        "local_trade_kwh",
        "investments",
        "pareto",
        "meets_goals",
        "recommended",
    )
    for key, row in fresh.items():
        assert not row["cached"]
        for col in figures:
            a, b = row[col], resumed[key][col]
            if isinstance(a, float):
                assert b == pytest.approx(a, rel=1e-9, abs=1e-9), (row["label"], col)
            else:
                assert a == b, (row["label"], col)
    rec = (tmp_path / "fresh" / "recommended.peb").read_text(encoding="utf-8")
    assert (out / "recommended.peb").read_text(encoding="utf-8") == rec
