"""Compare designs: every variant of every file solved, scored and set side by side.

Input: design file paths and optionally the cases to run (`variants`: names, `base` for the base
design; default: the base and every variant not written `compare = false`). Output: a
`Comparison` with one `Case` per (file, variant): its
`Results` (or the rendered error that stopped it) and a summary dict with exactly the keys of
docs/dev/contracts.md. With `out`, each case's outputs go to `out/<file-stem>/<label>/`
(`output.write_into`) and the side-by-side report to `out/compare.html`, all as one set (a
temporary sibling folder renamed into place: `out` holds the previous comparison or this one,
never a mix; fsutil.replace_dir).
Raises nothing for a bad case: a variant that fails to resolve or to solve (PebdslError,
e.g. infeasible) is recorded with its error and the others go on. A file that cannot be read at
all is recorded as one failed case too.

Savings (docs/compare.md) are in real money: cost is `Results.total_cost` (the objective
without its shadow terms: priced-flexibility excess and product premiums, which nobody pays).
Against the file's reference variant (`Design.reference`),
    saving         = cost(reference) - cost(case)
    storage value  = cost(design without any battery) - cost(design), for the case and the ref.
    saving_storage = storage value(case) - storage value(reference)
    saving_trade   = saving - saving_storage
                   = cost(reference without batteries) - cost(case without batteries)
so the two parts add up to the saving exactly. "The design without any battery" is derived from
the Design (every private and shared battery removed) and solved as an extra, hidden case.
This is Lüth et al.'s (2018) Table 3 logic: the storage part is what batteries add on top of
trade, the trade part is what the market design saves in a world without batteries. Batteries
the reference already has (Trondheim's existing Powerhouse battery) are netted out, so the
reference's own split is 0 / 0; with a reference without batteries (Lüth's "no P2P, no
storage") saving_storage is simply cost(case without batteries) - cost(case). A case on
another time grid than the reference (a year-long variant against a one-week reference), or a
comparison without the reference among its cases, gets no saving (None): the costs do not
compare.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import Diagnostic, PebdslError

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results

BASE_LABEL = "base"
NO_BATTERY_SUFFIX = "~without_batteries"
VALUE_KEYS = (
    "pv_surplus_local_share",
    "peak_reduction_kw",
    "deferral_value",
    "local_trade_kwh",
    "local_trade_value",
    "flexibility_kwh",
    "flexibility_value",
)
SHARE_KEYS = ("own_generation", "battery", "local_trade", "grid")
# Below this many (steps x participants) summed over all solves, a process pool costs more in
# start-up (the forkserver and each worker import numpy, pandas, highspy: ~1.5 s) than it saves.
# Measured on 2 cores with the Lüth design (25 houses, 5 variants + 3 battery-free twins):
#   1 day   (9 600):   sequential 0.8 s,  pool of 2: 2.3 s
#   7 days  (67 200):  sequential 4.6 s,  pool of 2: 4.7 s
#   30 days (288 000): sequential 54 s,   pool of 2: 13 s
PARALLEL_MIN_WORK = 50_000


@dataclass
class Case:
    """One (file, variant) of a comparison. `results` is None when it failed (`error` says why)."""

    file: str
    variant: str | None
    label: str
    results: Results | None
    error: str | None
    summary: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # the variant's `description` ("" for the base or when unknown)


@dataclass
class Comparison:
    cases: list[Case]
    files: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    # Check-time warnings of the compared designs (`lint.merge` per file), sorted by position;
    # `pebdsl compare` prints them to stderr.
    warnings: list[Diagnostic] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"files": [...], "cases": [summary + {"error": …}, …]}: one summary per variant."""
        from pebdsl.present.output import jsonable, versions

        doc = {
            "files": self.files,
            "cases": [{**c.summary, "error": c.error} for c in self.cases],
            "timings": self.timings,
            "versions": versions(),
        }
        out = jsonable(doc)
        assert isinstance(out, dict)
        return out

    def case(self, label: str, file: str | None = None) -> Case:
        """The case with this label (and file, when several files were compared)."""
        for c in self.cases:
            if c.label == label and (file is None or c.file == file):
                return c
        raise KeyError(label)

    def print_table(self, console: Any = None) -> None:
        """The comparison as a rich table on stdout, failed cases listed below it.

        Design text (labels, descriptions, errors) goes to rich as `Text` through
        `safetext.terminal_text`: no markup, no escape sequence reaches the terminal."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        from pebdsl.safetext import terminal_text

        if console is None:
            console = Console()
            if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
                console = Console(width=160)
        currencies = sorted(
            {c.summary["currency"] for c in self.cases if c.summary.get("currency")}
        )
        table = Table(
            title=f"pebdsl compare (costs and savings in {', '.join(currencies) or '–'}; "
            "total cost = real money, shadow cost = priced flexibility and premiums, not paid)",
            title_justify="left",
        )
        # Two-line headers and one row per case: the table stays readable in 120 columns.
        for col in (
            "case",
            "status",
            "total\ncost",
            "shadow\ncost",
            "saving",
            "saving\n%",
            "from\ntrade",
            "from\nstorage",
            "grid import\nkWh",
            "local\nkWh",
            "PV surplus\nlocal",
            "peak import\nkW",
            "peak cut\nkW",
        ):
            table.add_column(
                col, justify="left" if col in ("case", "status") else "right", no_wrap=True
            )
        for c in self.cases:
            s = c.summary
            v = s.get("values") or {}
            table.add_row(
                Text(
                    terminal_text(
                        c.label if len(self.files) == 1 else f"{Path(c.file).stem}/{c.label}"
                    )
                ),
                Text(terminal_text(str(s.get("status", "")))),
                _num(s.get("total_cost")),
                _num(s.get("shadow_cost")),
                _num(s.get("saving")),
                f"{s['saving_pct']:.1f}" if s.get("saving_pct") is not None else "–",
                _num(s.get("saving_trade")),
                _num(s.get("saving_storage")),
                _num(s.get("grid_import_kwh"), digits=1),
                _num(v.get("local_trade_kwh"), digits=1),
                _num(
                    None
                    if v.get("pv_surplus_local_share") is None
                    else 100 * v["pv_surplus_local_share"],
                    " %",
                    digits=1,
                ),
                _num((s.get("peak_import_kw") or {}).get("all"), digits=1),
                _num(v.get("peak_reduction_kw"), digits=1),
            )
        console.print(table)
        for c in self.cases:
            if c.description:
                label = c.label if len(self.files) == 1 else f"{Path(c.file).stem}/{c.label}"
                console.print(Text(terminal_text(f"{label}: {c.description}")))
        for c in self.cases:
            if c.error:
                console.print(Text(terminal_text(f"{c.label}"), style="bold red") + " failed:")
                console.print(Text(terminal_text(c.error)))


def _num(x: Any, unit: str = "", digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}{unit}"


# --- solving ------------------------------------------------------------------------------------


@dataclass
class _Job:
    key: tuple[int, str]  # (file index, label) — the derived no-battery case has its own label
    design: Design


def without_batteries(design: Design) -> Design:
    """The same design with every private and shared battery removed (for saving_storage)."""
    return dataclasses.replace(
        design,
        participants={
            n: dataclasses.replace(p, battery=None) for n, p in design.participants.items()
        },
        shared_batteries={},
        blocks={n: dataclasses.replace(b, batteries=()) for n, b in design.blocks.items()},
        markets={n: dataclasses.replace(m, batteries=()) for n, m in design.markets.items()},
        variant=(design.variant or BASE_LABEL) + NO_BATTERY_SUFFIX,
    )


def failed_status(error_text: str) -> str:
    """The status of a failed case from its rendered diagnostics (E501 infeasible, E502
    unbounded; anything else, a resolve error or a bug, is "error")."""
    if "error[E501]" in error_text:
        return "infeasible"
    if "error[E502]" in error_text:
        return "unbounded"
    return "error"


def has_batteries(design: Design) -> bool:
    return bool(design.batteries())


def solve_one(
    design: Design, backend: str = "highs", prices: str = "midpoint"
) -> tuple[Results | None, str | None]:
    """Solve one design; a PebdslError becomes its rendered text (so it crosses processes:
    PebdslError itself does not pickle), any other exception its traceback (a bug, kept whole)."""
    from pebdsl.pipeline import solve

    try:
        return solve(design, backend=backend, prices=prices), None
    except PebdslError as e:
        return None, e.render()
    except Exception:
        return None, "internal error (a bug in pebdsl):\n" + traceback.format_exc()


def run_jobs(
    designs: Sequence[Design],
    backend: str,
    workers: int,
    on_done: Callable[[int], None] | None = None,
    prices: str = "midpoint",
) -> list[tuple[Results | None, str | None]]:
    """Solve every design, in a process pool when `workers` > 1, in input order."""
    out: list[tuple[Results | None, str | None]] = [(None, None)] * len(designs)
    if workers <= 1 or len(designs) <= 1:
        for i, d in enumerate(designs):
            out[i] = solve_one(d, backend, prices)
            if on_done:
                on_done(i)
        return out
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
        futures = {pool.submit(solve_one, d, backend, prices): i for i, d in enumerate(designs)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                out[i] = fut.result()
            except Exception:  # a worker died (out of memory, killed): that case only
                out[i] = (None, "worker failed:\n" + traceback.format_exc())
            if on_done:
                on_done(i)
    return out


def _mp_context() -> Any:
    """`forkserver`: safe with the progress bar's thread (plain fork is not), and cheaper than
    `spawn` because the server imports the heavy modules once."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["pebdsl.pipeline", "pebdsl.kpis"])
    return ctx


def _workers(designs: Sequence[Design]) -> int:
    work = sum(d.n_steps * max(len(d.participants), 1) for d in designs)
    cpus = os.cpu_count() or 1
    return min(2, cpus) if len(designs) > 1 and work >= PARALLEL_MIN_WORK else 1


# --- loading ------------------------------------------------------------------------------------


_Loaded = list[tuple[str | None, "Design | None", str | None]]


def _load_file(
    path: str, variants: Sequence[str] | None = None, allow_outside: bool = False
) -> tuple[_Loaded, str | None, tuple[str, ...]]:
    """[(variant, design or None, error or None)] for the base (always) and the variants to
    compare, a file-level error alone, and the names of every variant the file declares.
    `variants` None: every variant not written `compare = false`; else only those named.

    load_all fails as a whole when any variant is bad; then each variant is loaded on its own
    so a bad variant does not take the others with it."""
    from pebdsl.resolve import load, load_all, variant_compare_flags

    try:
        designs = load_all(
            path, variants, for_compare=variants is None, allow_outside=allow_outside
        )
        return [(v, d, None) for v, d in designs.items()], None, designs[None].variants
    except PebdslError as whole:
        try:
            base = load(path, allow_outside=allow_outside)
        except PebdslError as e:
            return [], e.render(), ()
        if variants is None:
            flags = variant_compare_flags(path)
            chosen = [v for v in base.variants if flags.get(v, True)]
        else:
            chosen = [v for v in base.variants if v in variants]
        out: _Loaded = [(None, base, None)]
        for v in chosen:
            try:
                out.append((v, load(path, variant=v, allow_outside=allow_outside), None))
            except PebdslError as e:
                out.append((v, None, e.render()))
        if all(err is None for _, _, err in out):  # not a variant's fault after all
            return [], whole.render(), base.variants
        return out, None, base.variants


def _check_names(names: Sequence[str], declared: set[str]) -> None:
    """E108 for a `--variant` name that no compared file declares (`base`: the base design)."""
    from pebdsl.diagnostics import did_you_mean, error

    known = [BASE_LABEL, *sorted(declared)]
    diags = [
        error(
            "E108",
            f"unknown variant `{name}`",
            hints=(*did_you_mean(name, known), "variants: " + ", ".join(known)),
        )
        for name in dict.fromkeys(names)
        if name not in known
    ]
    if diags:
        raise PebdslError(diags)


# --- the comparison -----------------------------------------------------------------------------


def compare(
    paths: Iterable[str],
    out: str | Path | None = None,
    backend: str = "highs",
    progress: bool = True,
    command: str = "",
    variants: Sequence[str] | None = None,
    prices: str = "midpoint",
    allow_outside: bool = False,
) -> Comparison:
    """Solve and compare the variants of each file (see the module docstring).

    `variants`: the cases to run, by name (`base` is the base design), also variants written
    `compare = false`; None: the base and every variant not written `compare = false`. A name
    that no file declares is E108 (raised before anything is solved). `allow_outside`: csv()
    may read files outside each design's folder."""
    from pebdsl.kpis import three_values
    from pebdsl.lint import merge

    t0 = time.perf_counter()
    warnings: list[Diagnostic] = []
    files = [str(p) for p in paths]
    cases: list[Case] = []
    refs: dict[int, str | None] = {}
    jobs: list[_Job] = []
    declared: set[str] = set()
    any_loaded = False
    for fi, path in enumerate(files):
        loaded, file_error, names = _load_file(path, variants, allow_outside)
        declared.update(names)
        if file_error is not None:
            cases.append(Case(path, None, _label(None), None, file_error))
            continue
        any_loaded = True
        warnings += merge(
            {
                v: d
                for v, d, _ in loaded
                if d is not None and (variants is None or v is not None or BASE_LABEL in variants)
            }
        )
        for variant, design, err in loaded:
            if variant is None and design is not None:
                refs[fi] = design.reference
            if variants is not None and variant is None and BASE_LABEL not in variants:
                continue  # the base is loaded for the file's facts but not a case
            label = _label(variant)
            description = design.variant_description if design is not None else ""
            cases.append(Case(path, variant, label, None, err, description=description))
            if design is None:
                continue
            jobs.append(_Job((fi, label), design))
    if variants is not None and any_loaded:
        _check_names(variants, declared)
    # Derived no-battery cases, only where a saving split is asked for: the reference is one of
    # the cases and on the same time grid.
    ref_designs = {fi: j.design for j in jobs for fi, label in [j.key] if label == refs.get(fi)}
    derived = [
        _Job((fi, label + NO_BATTERY_SUFFIX), without_batteries(j.design))
        for j in list(jobs)
        for fi, label in [j.key]
        if fi in ref_designs and ref_designs[fi].time == j.design.time and has_batteries(j.design)
    ]
    all_jobs = jobs + derived
    t_load = time.perf_counter() - t0

    solved = _solve_with_progress([j.design for j in all_jobs], backend, progress, prices)
    by_key = {j.key: r for j, r in zip(all_jobs, solved, strict=True)}
    t_solve = time.perf_counter() - t0 - t_load

    file_index = {p: i for i, p in enumerate(files)}
    for c in cases:
        res = by_key.get((file_index[c.file], c.label))
        if res is not None:
            c.results, c.error = res
    for fi, path in enumerate(files):
        ref_case = _reference_case(cases, path, refs.get(fi))
        file_ref = ref_case.results if ref_case else None
        for c in (c for c in cases if c.file == path):
            ref = file_ref if _comparable(c.results, file_ref) else None
            nb = by_key.get((fi, c.label + NO_BATTERY_SUFFIX))
            ref_nb = by_key.get((fi, f"{ref_case.label}{NO_BATTERY_SUFFIX}")) if ref_case else None
            c.summary = summarize(
                c,
                ref,
                nb[0] if nb else None,
                refs.get(fi) is not None,
                ref_no_battery=ref_nb[0] if ref_nb else None,
            )
            if c.results is not None:
                c.results.values = {**c.results.values, **three_values(c.results, ref)}
    comparison = Comparison(cases, files, warnings=warnings)
    if out is not None:
        write_comparison(comparison, Path(out), command)
    comparison.timings = {
        "load": t_load,
        "solve": t_solve,
        "total": time.perf_counter() - t0,
    }
    return comparison


def _label(variant: str | None) -> str:
    return variant or BASE_LABEL


def _comparable(case: Results | None, ref: Results | None) -> bool:
    """Savings against `ref` mean something: both solved, on the same time grid."""
    return case is not None and ref is not None and case.design.time == ref.design.time


def _reference_case(cases: list[Case], path: str, ref: str | None) -> Case | None:
    if ref is None:
        return None
    for c in cases:
        if c.file == path and c.variant == ref:
            return c
    return None


def _solve_with_progress(
    designs: list[Design], backend: str, progress: bool, prices: str = "midpoint"
) -> list[tuple[Results | None, str | None]]:
    workers = _workers(designs)
    if not progress:
        return run_jobs(designs, backend, workers, prices=prices)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(
            f"solving ({workers} worker{'s' if workers > 1 else ''})", total=len(designs)
        )
        return run_jobs(
            designs, backend, workers, on_done=lambda _: bar.advance(task), prices=prices
        )


def summarize(
    case: Case,
    ref: Results | None,
    no_battery: Results | None,
    has_reference: bool = True,
    ref_no_battery: Results | None = None,
) -> dict[str, Any]:
    """The summary dict of one case (exactly the contract keys).

    `no_battery` / `ref_no_battery`: the case and the reference solved without batteries (None
    when they have none, or when that solve failed)."""
    from pebdsl.kpis import three_values

    r = case.results
    s: dict[str, Any] = {
        "file": case.file,
        "variant": case.variant,
        "label": case.label,
        "description": case.description,
        "status": "error" if r is None else r.status,
        "total_cost": None,
        "shadow_cost": None,
        "objective": None,
        "currency": None,
        "saving": None,
        "saving_pct": None,
        "saving_trade": None,
        "saving_storage": None,
        "grid_import_kwh": None,
        "grid_export_kwh": None,
        "curtailment_kwh": None,
        "demand_shares": dict.fromkeys(SHARE_KEYS),
        "peak_import_kw": {},
        "values": dict.fromkeys(VALUE_KEYS),
    }
    if r is None:
        s["status"] = failed_status(case.error or "")
        return s
    if not r.kpis:
        from pebdsl.kpis import score

        score(r)
    k = r.kpis["design"]
    cost = float(r.total_cost)
    s.update(
        total_cost=cost,
        shadow_cost=float(r.shadow_cost),
        objective=float(r.objective),
        currency=r.design.currency,
        grid_import_kwh=k["grid_import_kwh"],
        grid_export_kwh=k["grid_export_kwh"],
        curtailment_kwh=k["curtailment_kwh"],
        demand_shares=dict(k["demand_shares"]),
        peak_import_kw=dict(r.values["peak_import_kw"]),
    )
    v = three_values(r, ref)
    s["values"] = {key: v[key] for key in VALUE_KEYS}
    if ref is not None:
        saving = float(ref.total_cost) - cost
        s["saving"] = saving
        s["saving_pct"] = 100.0 * saving / float(ref.total_cost) if ref.total_cost else None
        case_value = _storage_value(r, no_battery)
        ref_value = _storage_value(ref, ref_no_battery)
        storage = None if case_value is None or ref_value is None else case_value - ref_value
        s["saving_storage"] = storage
        s["saving_trade"] = None if storage is None else saving - storage
    return s


def _storage_value(r: Results, no_battery: Results | None) -> float | None:
    """What the batteries of a solved design save: real cost without them - with them.

    None when the design without batteries could not be solved (e.g. infeasible: the batteries
    were needed to meet a hard limit), so no split is claimed."""
    if not has_batteries(r.design):
        return 0.0
    if no_battery is None:
        return None
    return float(no_battery.total_cost) - float(r.total_cost)


def write_comparison(comparison: Comparison, out: Path, command: str = "") -> None:
    """Each case's outputs to out/<file-stem>/<label>/, and out/compare.html, as one set: the
    whole tree is written into a temporary sibling folder that then replaces `out`
    (`fsutil.replace_dir`), so `out` never mixes two comparisons."""
    from pebdsl.fsutil import atomic_write_text, replace_dir
    from pebdsl.present.output import write_into

    refs: dict[str, Results | None] = {}
    for c in comparison.cases:
        if c.results is not None and c.file not in refs:
            ref_name = c.results.design.reference
            rc = _reference_case(comparison.cases, c.file, ref_name)
            refs[c.file] = rc.results if rc else None
    with replace_dir(out) as tmp:
        for c in comparison.cases:
            target = tmp / Path(c.file).stem / c.label
            if c.results is not None:
                write_into(c.results, target, command=command, reference=refs.get(c.file))
            elif c.error:
                atomic_write_text(target / "error.txt", c.error + "\n")
        atomic_write_text(tmp / "compare.html", _render_compare(comparison, command))


def _render_compare(comparison: Comparison, command: str) -> str:
    try:
        from pebdsl.present.report import render_compare
    except ImportError as e:  # pragma: no cover - only while the report module is being written
        print(f"note: compare.html is a placeholder ({e})", file=sys.stderr)
        import html
        import json

        return (
            "<!doctype html><title>pebdsl compare</title><pre>"
            + html.escape(json.dumps(comparison.to_json(), indent=2))
            + "</pre>"
        )
    return render_compare(comparison, command=command)
