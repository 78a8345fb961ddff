"""Parameter sweeps: the cartesian product of `--set` values, solved in parallel.

Input: a design file, a list of `PATH=V1,V2,…` strings (PATH as after `set` in a variant, e.g.
`alice.pv.peak=4 kWp,8 kWp` or `market street_p2p.fee=0.5 ct/kWh,1 ct/kWh`), an optional
variant, and where to run (study.runner): `workers` local processes, or a Dask cluster when
`scheduler` (an address such as tcp://host:8786) is given.
Output: a `Sweep`: one `SweepCase` per combination (its parameter values, status, cost and key
KPIs, or its `PebdslError`), and `Sweep.rows`, the same as flat dicts (the error rendered),
one table row each. Nothing is printed, and nothing written but the result cache when one is
given (below): `pebdsl.present.studies.write_sweep` writes sweep.csv and sweep.json. Two steps
for callers that show progress: `plan(...)` resolves every case, `solve_plan(plan, ...,
on_done=...)` solves them.
Errors: bad `--set` text raises PebdslError E601 (malformed) or E602 (a PATH given twice) before
anything is solved. A case whose values do not resolve (a wrong unit, an unknown name) or whose
model is infeasible is recorded with its error, its status from the error's code; the other
cases go on.

With a result cache folder (`cache`, study.cache) a case solved before (same design text, data,
edits, backend and versions) is read back instead of solved, and each case solved is stored as
it finishes: a rerun solves nothing, and a sweep stopped halfway is resumed by running it again.

Each case is resolved in this process (fast, and its errors are reported here) and the resolved
`Design` (picklable, data included) is shipped to the worker, so workers need neither the design
file nor its CSV data: a remote Dask worker works as well as a local process. Workers return a
small dict of KPIs, not the full Results.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.study.cache import CaseCache, case_key
from pebdsl.study.runner import Outcome, failure_status, run, workers_for

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
# What a solved case contributes to its row (None in a failed case's row).
SOLVED_KEYS = ("total_cost", "currency", *ROW_KPIS, "pv_surplus_local_share")


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
class SweepCase:
    """One combination: its parameter values and what solving it gave."""

    index: int
    values: dict[str, str]  # parameter path -> value text, as given
    design: Design | None = None  # None when the values did not resolve
    kpis: dict[str, Any] = field(default_factory=dict)  # SOLVED_KEYS; {} when it failed
    status: str = "pending"  # until solved or failed
    error: PebdslError | None = None
    solve_s: float | None = None
    key: str = ""  # its result cache key (study.cache.case_key), when solved with a cache
    cached: bool = False  # read from the cache, not solved in this run

    @property
    def edits(self) -> list[str]:
        """The `--set` edits that make this case's design from the file (one per parameter)."""
        return [f"{n} = {v}" for n, v in self.values.items()]

    def row(self) -> dict[str, Any]:
        """The table row: case, the values, status, SOLVED_KEYS, error (rendered), solve_s."""
        return {
            "case": self.index,
            **self.values,
            "status": self.status,
            **{key: self.kpis.get(key) for key in SOLVED_KEYS},
            "error": None if self.error is None else self.error.render(),
            "solve_s": self.solve_s,
            "cached": self.cached,
        }


@dataclass
class Sweep:
    file: str
    variant: str | None
    parameters: dict[str, list[str]]
    cases: list[SweepCase]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per case, all with the same keys (SweepCase.row)."""
        return [c.row() for c in self.cases]

    @property
    def failed(self) -> list[SweepCase]:
        return [c for c in self.cases if c.error is not None]

    def to_frame(self) -> Any:
        """Tidy rows: case, the parameters (numbers as floats, their unit in `<p> unit`),
        status, metric, value, unit (`study.frames.sweep_frame`)."""
        from pebdsl.study.frames import sweep_frame

        return sweep_frame(self, SOLVED_KEYS)

    def _lines(self) -> list[str]:
        failed = len(self.failed)
        params = ", ".join(f"{p} ({len(v)})" for p, v in self.parameters.items())
        return [
            f"{len(self.cases)} cases over {params or 'no parameter'}",
            f"{len(self.cases) - failed} solved, {failed} failed",
        ]

    def __repr__(self) -> str:
        from pebdsl.study.frames import text_summary

        return text_summary("Sweep", self.file, self._lines())

    def _repr_html_(self) -> str:
        from pebdsl.study.frames import html_summary

        return html_summary("Sweep", self.file, self._lines())

    def auto_workers(self) -> int:
        """The default worker count for the cases still to solve (runner.auto_workers)."""
        designs = [c.design for c in self.cases if c.design is not None and c.error is None]
        return workers_for(designs)


def solve_row(design: Design, backend: str = "highs") -> dict[str, Any]:
    """Solve one case and reduce it to its KPIs (runs in a worker; errors are the runner's)."""
    from pebdsl.solve import solve

    r = solve(design, backend=backend)
    k = r.kpis["design"]
    return {
        "status": r.status,
        "total_cost": float(r.total_cost),
        "currency": r.design.currency,
        **{key: k.get(key) for key in ROW_KPIS},
        "pv_surplus_local_share": r.values.get("pv_surplus_local_share"),
    }


def plan(
    path: str,
    sets: Sequence[str],
    variant: str | None = None,
    allow_outside: bool = False,
) -> Sweep:
    """Every combination of the `--set` values, resolved but not solved (see the module
    docstring). `allow_outside`: csv() may read files outside the design's folder."""
    from pebdsl.load import load

    t0 = time.perf_counter()
    params = parse_sets(sets)
    names = list(params)
    cases: list[SweepCase] = []
    for i, combo in enumerate(itertools.product(*(params[n] for n in names))):
        case = SweepCase(i, dict(zip(names, combo, strict=True)))
        try:
            case.design = load(
                path,
                variant=variant,
                sets=case.edits,
                allow_outside=allow_outside,
            )
        except PebdslError as e:
            case.error = e
            case.status = failure_status(e)
        cases.append(case)
    return Sweep(path, variant, params, cases, timings={"load": time.perf_counter() - t0})


def solve_plan(
    s: Sweep,
    backend: str = "highs",
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[SweepCase, Outcome[dict[str, Any]]], None] | None = None,
    cache: str | Path | None = None,
) -> Sweep:
    """Solve every case of a planned sweep that resolved, filling it in; returns `s`.

    `workers`: local worker processes (None: `s.auto_workers()`); `scheduler`: a Dask
    scheduler's address instead. `on_done(case, outcome)` runs here as each case finishes.
    `cache`: a result cache folder (study.cache): cases found there are not solved again (their
    `cached` is True) and each case solved is written there as soon as it finishes, so a run
    that is stopped halfway is resumed by running it again with the same cache."""
    t0 = time.perf_counter()
    todo = [c for c in s.cases if c.design is not None and c.error is None]
    store = None if cache is None else CaseCache(cache)
    if store is not None:
        todo = _from_cache(s, todo, store, backend, on_done)

    def finished(i: int, o: Outcome[dict[str, Any]]) -> None:
        case = todo[i]
        case.solve_s = o.seconds
        if o.error is not None:
            case.error, case.status = o.error, failure_status(o.error)
        elif o.value is not None:
            case.status = o.value["status"]
            case.kpis = {key: o.value.get(key) for key in SOLVED_KEYS}
        if store is not None:
            about = {"file": s.file, "variant": s.variant, "values": case.values}
            store.put(case.key, value=o.value, error=o.error, seconds=o.seconds, about=about)
        if on_done is not None:
            on_done(case, o)

    designs = [c.design for c in todo if c.design is not None]
    run(
        partial(solve_row, backend=backend),
        designs,
        workers=workers_for(designs) if workers is None else workers,
        scheduler=scheduler,
        on_done=finished,
    )
    s.timings["solve"] = time.perf_counter() - t0
    s.timings["total"] = s.timings.get("load", 0.0) + s.timings["solve"]
    return s


def _from_cache(
    s: Sweep,
    todo: list[SweepCase],
    store: CaseCache,
    backend: str,
    on_done: Callable[[SweepCase, Outcome[dict[str, Any]]], None] | None,
) -> list[SweepCase]:
    """Fill in the cases the cache holds (reported through `on_done` like solved ones); the
    cases still to solve, each with its key set."""
    rest: list[SweepCase] = []
    for case in todo:
        assert case.design is not None
        case.key = case_key(case.design, case.edits, backend)
        hit = store.get(case.key)
        if hit is None:
            rest.append(case)
            continue
        case.cached, case.solve_s = True, hit.seconds
        if hit.error is not None:
            case.error, case.status = hit.error, failure_status(hit.error)
        else:
            case.status = hit.value["status"]
            case.kpis = {key: hit.value.get(key) for key in SOLVED_KEYS}
        if on_done is not None:
            on_done(case, Outcome(value=hit.value, error=hit.error, seconds=hit.seconds))
    return rest


def sweep(
    path: str,
    sets: Sequence[str],
    variant: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    backend: str = "highs",
    allow_outside: bool = False,
    cache: str | Path | None = None,
) -> Sweep:
    """`plan` and `solve_plan` in one call (see their docstrings)."""
    return solve_plan(
        plan(path, sets, variant, allow_outside),
        backend=backend,
        workers=workers,
        scheduler=scheduler,
        cache=cache,
    )
