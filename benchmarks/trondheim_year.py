"""Time the Trondheim case: the year 2023 stage by stage, and the default week compare.

Runs, as a user would, the design's `year` variant: the whole of 2023 (8760 hourly steps) with
the tariffs of each month (the design file explains them):
    pebdsl solve designs/trondheim.peb --variant year --no-reference --out <tmp>/year
(`--summer-tariffs` runs the base design on the year instead, keeping the week's tariffs:
`--set 'horizon.start = 2023-01-01' --set 'horizon.duration = 365 d'`) and prints the wall
time of the command and the per-stage timings (lower, build, solve, extract, ...) that
`results.json` records, with the model's size, its CPU time and peak memory (RSS of the command
alone, from wait4). The baseline measured in the same run is the base week
(`pebdsl solve designs/trondheim.peb --no-reference`, the same pipeline on 168 steps): the year
is printed as a ratio to it (wall, CPU, peak RSS), and every stage as a ratio to the solver's
own time. The machine's load average is printed before and after, since a loaded machine's
wall times are not an idle one's. `--no-reference`: only the year is solved (the
reference variant is a week, so the report could not show savings against it anyway).
With `--compare` it also times
    pebdsl compare designs/trondheim.peb --out <tmp>/compare
(the acceptance budget for both weeks and every regime is 90 s on 2 cores, issue 11). The `year`
variant is written `compare = false`, so this compare leaves it out.

Usage:  .venv/bin/python benchmarks/trondheim_year.py [--compare] [--json] [--summer-tariffs]
Exit code: 0 when every command succeeded, 1 otherwise. No timed asserts: the numbers are
information for benchmarks/model_speed.py and docs/trondheim.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "designs" / "trondheim.peb"


def _pebdsl() -> list[str]:
    exe = Path(sys.executable).with_name("pebdsl")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("pebdsl")
    return [found] if found else [sys.executable, "-m", "pebdsl"]


def _run(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str], dict[str, float]]:
    """Run one pebdsl command: its wall time, its output, and its own resource use (the child's
    peak RSS in MiB, user and system CPU seconds; from wait4, so other jobs do not count). A
    compare's workers are started by multiprocessing's forkserver, whose children this command
    never waits for: for a compare the figures are the parent's alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(
            [*_pebdsl(), *args], cwd=ROOT, stdout=out, stderr=err, text=True, env=os.environ.copy()
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(child.args, child.returncode, out.read(), err.read())
    # ru_maxrss is in KiB on Linux
    res = {
        "maxrss_mib": usage.ru_maxrss / 1024.0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    return wall, proc, res


# The year with the week's (summer) tariffs: the base design on a longer horizon.
SUMMER_TARIFFS = ["--set", "horizon.start = 2023-01-01", "--set", "horizon.duration = 365 d"]
# The year with the tariffs of each month: the design's `year` variant (compare = false).
YEAR = ["--variant", "year"]


def time_solve(args: list[str], out: Path) -> dict[str, Any]:
    wall, proc, res = _run(["solve", str(DESIGN), *args, "--no-reference", "--out", str(out)])
    shown = " ".join(f"'{a}'" if " " in a else a for a in args)
    row: dict[str, Any] = {
        "command": f"pebdsl solve designs/trondheim.peb {shown} --no-reference".replace("  ", " "),
        "wall_s": round(wall, 2),
        "cpu_s": round(res["cpu_s"], 2),
        "maxrss_mib": round(res["maxrss_mib"], 1),
        "exit": proc.returncode,
    }
    if proc.returncode != 0:
        row["stderr"] = proc.stderr[-2000:]
        return row
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    row["status"] = doc.get("status")
    row["objective"] = doc.get("objective")
    row["model"] = doc.get("model")
    row["timings"] = doc.get("timings", {})
    return row


def time_compare(out: Path) -> dict[str, Any]:
    wall, proc, res = _run(["compare", str(DESIGN), "--out", str(out), "--json"])
    row: dict[str, Any] = {
        "command": "pebdsl compare designs/trondheim.peb",
        "wall_s": round(wall, 2),
        "cpu_s": round(res["cpu_s"], 2),
        "maxrss_mib": round(res["maxrss_mib"], 1),
        "exit": proc.returncode,
    }
    if proc.returncode != 0:
        row["stderr"] = proc.stderr[-2000:]
        return row
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return row
    # Baseline measured in the same run: the solver's own time summed over the cases (from
    # each case's results.json), so the wall time can be read as a ratio to it.
    solver_s = 0.0
    for rj in out.rglob("results.json"):
        try:
            solver_s += float(json.loads(rj.read_text(encoding="utf-8"))["timings"]["solve"])
        except (KeyError, TypeError, ValueError, json.JSONDecodeError):
            continue
    row["solver_s"] = round(solver_s, 3)
    cases = doc.get("cases", doc) if isinstance(doc, dict) else doc
    row["cases"] = [
        {k: c.get(k) for k in ("variant", "status", "total_cost")}
        for c in cases
        if isinstance(c, dict)
    ]
    return row


def _load() -> str:
    """The machine's 1/5/15-minute load averages, printed with every figure (a loaded machine's
    wall times are not an idle machine's)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def _print_baseline(row: dict[str, Any]) -> None:
    print(f"$ {row['command']}   (the baseline: the design's own week)")
    print(
        f"  wall time        {row['wall_s']:8.2f} s   CPU {row['cpu_s']:.2f} s, "
        f"peak RSS {row['maxrss_mib']:,.0f} MiB   (exit {row['exit']})"
    )


def _print_solve(row: dict[str, Any], week: dict[str, Any] | None = None) -> None:
    print(f"$ {row['command']}")
    print(f"  wall time        {row['wall_s']:8.2f} s   (exit {row['exit']})")
    print(f"  CPU time         {row['cpu_s']:8.2f} s   (user + system, this command only)")
    print(f"  peak memory      {row['maxrss_mib']:8,.0f} MiB (peak RSS)")
    if week is not None and week.get("exit") == 0 and week.get("maxrss_mib"):
        # Baseline measured in the same run: the base week, the same pipeline on 168 steps.
        print(
            f"  year / week      wall x{row['wall_s'] / week['wall_s']:.1f}, "
            f"CPU x{row['cpu_s'] / max(week['cpu_s'], 1e-9):.1f}, "
            f"peak RSS x{row['maxrss_mib'] / week['maxrss_mib']:.1f}"
        )
    if row["exit"] != 0:
        print(row.get("stderr", ""))
        return
    obj = row.get("objective") or {}
    value = obj.get("value", float("nan"))
    print(f"  status           {row.get('status')}, objective {value:,.0f} {obj.get('unit', '')}")
    model = row.get("model") or {}
    if model:
        print(
            "  model            "
            + ", ".join(f"{k} {v:,}" for k, v in model.items() if isinstance(v, int))
        )
    # Baseline measured in the same run: the solver's own time on this LP. Every stage and the
    # wall time are also printed as a ratio to it (the overhead pebdsl adds around HiGHS).
    timings = row.get("timings") or {}
    base = float(timings.get("solve") or 0.0)
    for stage, seconds in timings.items():
        if isinstance(seconds, int | float):
            ratio = f"  x{seconds / base:.3f} of the solver run" if base > 0 else ""
            print(f"  {stage:<16} {seconds:8.3f} s{ratio}")
    total = sum(v for v in timings.values() if isinstance(v, int | float))
    print(f"  sum of stages    {total:8.3f} s")
    if base > 0:
        print(f"  wall / solver run = {row['wall_s'] / base:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--summer-tariffs",
        action="store_true",
        help="the base design on the year: the week's (summer) tariffs, not the year's",
    )
    ap.add_argument("--compare", action="store_true", help="also time the default week compare")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = ap.parse_args(argv)

    rows: dict[str, Any] = {"load_before": _load()}
    with tempfile.TemporaryDirectory(prefix="trondheim-bench-") as tmp:
        solve_args = SUMMER_TARIFFS if args.summer_tariffs else YEAR
        rows["week"] = time_solve([], Path(tmp) / "week")
        rows["solve"] = time_solve(solve_args, Path(tmp) / "year")
        rows["load_after_year"] = _load()
        if args.compare:
            rows["compare"] = time_compare(Path(tmp) / "compare")
            rows["load_after_compare"] = _load()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"before: {rows['load_before']}")
        _print_baseline(rows["week"])
        _print_solve(rows["solve"], rows["week"])
        print(f"  after the year: {rows['load_after_year']}")
        if "compare" in rows:
            c = rows["compare"]
            print(f"$ {c['command']}")
            print(f"  wall time        {c['wall_s']:8.2f} s   (exit {c['exit']}; budget 90 s)")
            print(
                f"  CPU time         {c['cpu_s']:8.2f} s   and peak RSS "
                f"{c['maxrss_mib']:,.0f} MiB of the parent only (the workers are children of "
                "multiprocessing's forkserver, which this process does not wait for)"
            )
            print(f"  after the compare: {rows['load_after_compare']}")
            if c.get("solver_s"):
                print(
                    f"  solver runs      {c['solver_s']:8.2f} s   (sum over the cases); "
                    f"wall / solver runs = {c['wall_s'] / c['solver_s']:.2f}"
                )
            for case in c.get("cases", []):
                print(
                    f"  {case.get('variant') or 'base':<18} {case.get('status')}, "
                    f"total cost {case.get('total_cost')}"
                )
            if c["exit"] != 0:
                print(c.get("stderr", ""))
    runs = [r for r in rows.values() if isinstance(r, dict)]
    return 0 if all(r.get("exit") == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
