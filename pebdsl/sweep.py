"""Parameter sweeps: the cartesian product of `--set` values, solved in parallel.

Input: a design file, a list of `PATH=V1,V2,…` strings (PATH as after `set` in a variant, e.g.
`alice.pv.peak=4 kWp,8 kWp` or `market street_p2p.fee=0.5 ct/kWh,1 ct/kWh`), an optional
variant, and where to run: a local process pool of `workers`, or a Dask cluster when
`scheduler` (an address such as tcp://host:8786) is given.
Output: a `Sweep` (one row per case: the parameter values, status, cost and key KPIs, or the
error); with `out`, `out/sweep.csv` and `out/sweep.json`, written atomically.
Errors: bad `--set` text raises PebdslError E601 (malformed) or E602 (a PATH given twice) before
anything is solved. A case whose values do not resolve (a wrong unit, an unknown name) or whose
model is infeasible is recorded with its rendered error; the other cases go on.

Each case is resolved in this process (fast, and its errors are reported here) and the resolved
`Design` (picklable, data included) is shipped to the worker, so workers need neither the design
file nor its CSV data: a remote Dask worker works as well as a local process. Workers return a
small row, not the full Results.
"""

from __future__ import annotations

import itertools
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.safetext import terminal_text

if TYPE_CHECKING:
    from pebdsl.design import Design

# The KPI columns of a sweep row, in order (design-level KPIs of kpis.py).
ROW_KPIS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "curtailment_kwh",
    "self_sufficiency",
    "self_consumption",
    "local_trade_kwh",
    "local_trade_avg_price",
    "peak_import_kw",
    "peak_export_kw",
    "battery_cycles",
)


def parse_set(text: str) -> tuple[str, list[str]]:
    """`PATH=V1,V2,…` -> (PATH, [V1, V2, …]). Commas inside brackets or parentheses belong to
    the value (`s=daily [1, 2] kW,daily [2, 3] kW` has two values)."""
    path, eq, values = text.partition("=")
    path = path.strip()
    if not eq or not path:
        raise PebdslError(
            error(
                "E601",
                f"malformed --set `{text}`: expected PATH=V1,V2,…",
                hints=("e.g. --set 'alice.pv.peak=4 kWp,8 kWp'",),
            )
        )
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in values:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    if any(not p for p in parts):
        raise PebdslError(
            error(
                "E601",
                f"malformed --set `{text}`: empty value in the list",
                hints=("values are separated by commas: PATH=V1,V2,…",),
            )
        )
    return path, parts


def parse_sets(sets: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in sets:
        path, values = parse_set(s)
        if path in out:
            raise PebdslError(
                error(
                    "E602", f"--set `{path}` given twice", hints=("list all values in one --set",)
                )
            )
        out[path] = values
    return out


@dataclass
class Sweep:
    file: str
    variant: str | None
    parameters: dict[str, list[str]]
    rows: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from pebdsl.present.output import jsonable, versions

        doc = jsonable(
            {
                "file": self.file,
                "variant": self.variant,
                "parameters": self.parameters,
                "cases": self.rows,
                "timings": self.timings,
                "versions": versions(),
            }
        )
        assert isinstance(doc, dict)
        return doc

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows)

    def print_table(self, console: Any = None) -> None:
        """The rows as a rich table; values and errors as `Text` through
        `safetext.terminal_text` (no markup, no escape sequences reach the terminal)."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        if console is None:
            console = Console()
            if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
                console = Console(width=160)
        cur = sorted({r["currency"] for r in self.rows if r.get("currency")})
        table = Table(
            title=Text(
                terminal_text(f"pebdsl sweep {self.file} (costs in {', '.join(cur) or '–'})")
            ),
            title_justify="left",
        )
        cols = [
            "case",
            *self.parameters,
            "status",
            "total cost",
            "grid import kWh",
            "self-sufficiency",
            "local kWh",
            "peak import kW",
        ]
        for c in cols:
            table.add_column(
                Text(terminal_text(c)), justify="right" if c not in self.parameters else "left"
            )
        for r in self.rows:
            table.add_row(
                str(r["case"]),
                *[Text(terminal_text(str(r[p]))) for p in self.parameters],
                Text(terminal_text(str(r["status"]))),
                _num(r.get("total_cost")),
                _num(r.get("grid_import_kwh"), digits=1),
                _num(
                    None if r.get("self_sufficiency") is None else 100 * r["self_sufficiency"],
                    " %",
                    1,
                ),
                _num(r.get("local_trade_kwh"), digits=1),
                _num(r.get("peak_import_kw"), digits=1),
            )
        console.print(table)
        for r in self.rows:
            if r.get("error"):
                console.print(Text(f"case {r['case']} failed:", style="bold red"))
                console.print(Text(terminal_text(str(r["error"]))))


def _num(x: Any, unit: str = "", digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}{unit}"


def solve_row(design: Design, backend: str = "highs") -> dict[str, Any]:
    """Solve one case and reduce it to a row (runs in a worker: must not raise)."""
    from pebdsl.compare import failed_status

    t0 = time.perf_counter()
    try:
        from pebdsl.pipeline import solve

        r = solve(design, backend=backend)
        if not r.kpis:
            from pebdsl.kpis import score

            score(r)
    except PebdslError as e:
        return {
            "status": failed_status(e.render()),
            "error": e.render(),
            "solve_s": time.perf_counter() - t0,
        }
    except Exception:
        return {
            "status": "error",
            "error": "internal error (a bug in pebdsl):\n" + traceback.format_exc(),
            "solve_s": time.perf_counter() - t0,
        }
    k = r.kpis["design"]
    return {
        "status": r.status,
        "total_cost": float(r.total_cost),
        "currency": r.design.currency,
        **{key: k.get(key) for key in ROW_KPIS},
        "pv_surplus_local_share": r.values.get("pv_surplus_local_share"),
        "error": None,
        "solve_s": time.perf_counter() - t0,
    }


def sweep(
    path: str,
    sets: Sequence[str],
    variant: str | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    out: str | Path | None = None,
    backend: str = "highs",
    progress: bool = True,
    allow_outside: bool = False,
) -> Sweep:
    """Solve every combination of the `--set` values (see the module docstring).

    With `progress`, a progress bar runs on stderr and the result table is printed to stdout.
    `allow_outside`: csv() may read files outside the design's folder.
    """
    from pebdsl.resolve import load

    t0 = time.perf_counter()
    params = parse_sets(sets)
    names = list(params)
    combos = list(itertools.product(*(params[n] for n in names)))
    rows: list[dict[str, Any]] = []
    todo: list[tuple[int, Design]] = []
    for i, combo in enumerate(combos):
        row: dict[str, Any] = {"case": i, **dict(zip(names, combo, strict=True))}
        try:
            design = load(
                path,
                variant=variant,
                sets=[f"{n} = {v}" for n, v in zip(names, combo, strict=True)],
                allow_outside=allow_outside,
            )
        except PebdslError as e:
            row.update(status="error", error=e.render())
        else:
            todo.append((i, design))
        rows.append(row)
    t_load = time.perf_counter() - t0

    results = _run(todo, backend, workers, scheduler, progress)
    for i, res in results.items():
        rows[i].update(res)
    for r in rows:  # the same columns in every row, failed or not
        for key in (
            "status",
            "total_cost",
            "currency",
            *ROW_KPIS,
            "pv_surplus_local_share",
            "error",
            "solve_s",
        ):
            r.setdefault(key, None)
    result = Sweep(path, variant, params, rows)
    result.timings = {"load": t_load, "solve": time.perf_counter() - t0 - t_load}
    if out is not None:
        write_sweep(result, Path(out))
    result.timings["total"] = time.perf_counter() - t0
    if progress:
        result.print_table()
        if out is not None:
            print(terminal_text(f"wrote {Path(out) / 'sweep.csv'} and sweep.json"))
    return result


def _run(
    todo: list[tuple[int, Design]],
    backend: str,
    workers: int,
    scheduler: str | None,
    progress: bool,
) -> dict[int, dict[str, Any]]:
    from contextlib import nullcontext

    from pebdsl import compare

    bar_ctx: Any = nullcontext()
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        where = scheduler or f"{workers} worker{'s' if workers != 1 else ''}"
        bar_ctx = Progress(
            f"[progress.description]sweep ({where})",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    out: dict[int, dict[str, Any]] = {}
    with bar_ctx as bar:
        task = bar.add_task("sweep", total=len(todo)) if bar is not None else None

        def done(i: int, row: dict[str, Any]) -> None:
            out[i] = row
            if bar is not None:
                bar.advance(task)

        if scheduler:
            _run_dask(todo, backend, scheduler, done)
        elif workers <= 1 or len(todo) <= 1 or _work(todo) < compare.PARALLEL_MIN_WORK:
            # Small cases: worker start-up would cost more than it saves (see compare.py).
            for i, d in todo:
                done(i, solve_row(d, backend))
        else:
            _run_pool(todo, backend, workers, done)
    return out


def _work(todo: list[tuple[int, Design]]) -> int:
    return sum(d.n_steps * max(len(d.participants), 1) for _, d in todo)


def _run_pool(todo: list[tuple[int, Design]], backend: str, workers: int, done: Any) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from pebdsl.compare import _mp_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
        futures = {pool.submit(solve_row, d, backend): i for i, d in todo}
        for fut in as_completed(futures):
            try:
                row = fut.result()
            except Exception:  # the worker process died: record it, keep the others
                row = {"status": "error", "error": "worker failed:\n" + traceback.format_exc()}
            done(futures[fut], row)


def _run_dask(todo: list[tuple[int, Design]], backend: str, scheduler: str, done: Any) -> None:
    from dask.distributed import Client, as_completed

    with Client(scheduler) as client:
        stamp = time.time_ns()  # unique task keys: a shared scheduler may hold older sweeps
        futures = {
            client.submit(solve_row, d, backend, pure=False, key=f"pebdsl-{stamp}-{i}"): i
            for i, d in todo
        }
        for fut in as_completed(list(futures)):
            try:
                row = fut.result()
            except Exception:  # a worker was lost: record it, keep the others
                row = {"status": "error", "error": "dask task failed:\n" + traceback.format_exc()}
            done(futures[fut], row)


def write_sweep(result: Sweep, out: Path) -> None:
    """out/sweep.csv (one row per case) and out/sweep.json, as one set (fsutil.replace_dir)."""
    import json

    from pebdsl.fsutil import atomic_write_bytes, atomic_write_text, replace_dir

    frame = result.to_frame()
    with replace_dir(out) as tmp:
        atomic_write_bytes(
            tmp / "sweep.csv", frame.to_csv(index=False, lineterminator="\n").encode()
        )
        atomic_write_text(
            tmp / "sweep.json", json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n"
        )
