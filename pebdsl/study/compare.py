"""Compare designs: every variant of every file solved, scored and set side by side.

Input: design file paths and optionally the cases to run (`variants`: names, `base` for the base
design; default: the base and every variant not written `compare = false`), and where to solve
(`workers` local processes, or a Dask `scheduler`; study.runner). Output: a `Comparison` with
one `Case` per (file, variant): its `Results` (or the `PebdslError` that stopped it) and a
summary dict with exactly the keys of docs/dev/contracts.md. Nothing is printed or written:
`pebdsl.present.studies.write_comparison` writes the outputs and the compare page.
Two steps for callers that show progress: `plan(...)` loads the files (and raises E108 for a
`--variant` name no file declares, before anything is solved) and lists every solve;
`solve_plan(plan, ..., on_done=...)` solves them, calling `on_done` as each finishes.
A design with scenarios is solved as `pebdsl solve` solves it: its two-stage programme (the
extensive form, with EVPI and VSS; pebdsl.stochastic). Its `Case.stochastic` holds those
results, its summary the expectations over the scenarios (total cost = Σ π_ω · real cost_ω,
likewise every energy and value) and `stochastic` {expected_cost, wait_and_see,
expected_value_solution_cost, evpi, vss, scenarios, method}; its `results` is the most probable
scenario read like a deterministic solve (for charts). Savings compare expected costs.
Raises nothing for a bad case: a variant that fails to resolve or to solve (PebdslError,
e.g. infeasible) is recorded with its error, its status from the error's code, and the others
go on. A file that cannot be read at all is recorded as one failed case too.

Savings (docs/compare.md) are in real money: cost is `Results.total_cost` (the objective
without its shadow terms: priced-flexibility excess and product premiums, which nobody pays).
Against the case's reference variant (`Case.reference`: the variant's own `reference = v`, else
the file's `design.reference`; so a January case is measured against the January reference and a
June case against the June one),
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
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import Diagnostic, PebdslError
from pebdsl.study.runner import (
    Outcome,
    auto_workers,
    case_work,
    failure_status,
    run,
    solve_work,
)
from pebdsl.study.solved import (
    comparable,
    deterministic,
    has_batteries,
    savings,
    shown,
    two_stage,
    weighted,
)

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results
    from pebdsl.stochastic import StochasticResults
    from pebdsl.study.solved import Solved

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


@dataclass
class Case:
    """One (file, variant) of a comparison. `results` is None when it failed (`error` says why:
    `str(error)` is its rendered text, `error.codes` its codes)."""

    file: str
    variant: str | None
    label: str
    results: Results | None
    error: PebdslError | None
    summary: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # the variant's `description` ("" for the base or when unknown)
    reference: str | None = (
        None  # the variant its savings are measured against (`Design.reference`)
    )
    stochastic: StochasticResults | None = None  # a design with scenarios: its two-stage solve

    @property
    def status(self) -> str:
        """The solver's status, or the failure's from its error code (runner.failure_status)."""
        if self.results is not None:
            return self.results.status
        return "error" if self.error is None else failure_status(self.error)

    @property
    def error_text(self) -> str | None:
        """The error rendered as `pebdsl` prints it (no colour), or None."""
        return None if self.error is None else self.error.render()


@dataclass
class Comparison:
    cases: list[Case]
    files: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    # Check-time warnings of the compared designs (`lint.merge` per file), sorted by position;
    # `pebdsl compare` prints them to stderr.
    warnings: list[Diagnostic] = field(default_factory=list)

    def case(self, label: str, file: str | None = None) -> Case:
        """The case with this label (and file, when several files were compared)."""
        for c in self.cases:
            if c.label == label and (file is None or c.file == file):
                return c
        raise KeyError(label)

    def reference(self, file: str) -> Case | None:
        """The case of `file`'s reference variant, when it is among the cases."""
        for c in self.cases:
            if c.file == file and c.results is not None:
                return _reference_case(self.cases, file, c.results.design.reference)
        return None

    def reference_of(self, case: Case) -> Case | None:
        """The case `case`'s savings are measured against, when it is among the cases."""
        return _reference_case(self.cases, case.file, case.reference)

    @property
    def failed(self) -> list[Case]:
        """The cases without results."""
        return [c for c in self.cases if c.error is not None or c.results is None]

    def to_frame(self) -> Any:
        """Tidy rows: file, label, variant, status, metric, value, unit
        (`study.frames.comparison_frame`)."""
        from pebdsl.study.frames import comparison_frame

        return comparison_frame(self)

    def _lines(self) -> list[str]:
        out = []
        for c in self.cases[:8]:
            cost = c.summary.get("total_cost")
            cur = c.summary.get("currency") or ""
            out.append(
                f"{c.label}: {c.status}"
                + ("" if cost is None else f", total cost {cost:,.2f} {cur}")
            )
        if len(self.cases) > 8:
            out.append(f"… and {len(self.cases) - 8} more cases")
        return out

    def __repr__(self) -> str:
        from pebdsl.study.frames import text_summary

        return text_summary("Comparison", ", ".join(self.files), self._lines())

    def _repr_html_(self) -> str:
        from pebdsl.study.frames import html_summary

        return html_summary("Comparison", ", ".join(self.files), self._lines())


@dataclass
class Job:
    """One solve: `key` is (file index, label); a battery-free twin has its own label."""

    key: tuple[int, str]
    design: Design


@dataclass
class Plan:
    """The loaded files: their cases (not yet solved) and every solve they need, twins included."""

    files: list[str]
    cases: list[Case]
    jobs: list[Job]
    refs: dict[int, str | None]  # file index -> the name of its (base design's) reference
    warnings: list[Diagnostic]
    load_seconds: float = 0.0

    def auto_workers(self) -> int:
        """The default worker count for these solves (runner.auto_workers)."""
        peak = max((case_work(j.design) for j in self.jobs), default=0)
        return auto_workers(len(self.jobs), solve_work(j.design for j in self.jobs), peak)


# --- solving ------------------------------------------------------------------------------------


def without_batteries(design: Design) -> Design:
    """The same design with every private and shared battery removed (for saving_storage);
    a design with scenarios loses them in every scenario too."""
    st = design.stochastic
    if st is not None:
        designs = {n: without_batteries(d) for n, d in st.designs.items()}
        design = dataclasses.replace(design, stochastic=dataclasses.replace(st, designs=designs))
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


def solve_design(design: Design, backend: str = "highs", prices: str = "midpoint") -> Solved:
    """Solve and score one design as `pebdsl solve` does: a design with scenarios as its
    two-stage programme, its scenarios' degenerate prices by the same rule `prices` (runs in
    a worker; errors are the runner's to keep)."""
    from pebdsl.solve import solve

    if design.stochastic is not None:
        from pebdsl.stochastic import solve_stochastic

        return solve_stochastic(design, backend=backend, prices=prices)

    return solve(design, backend=backend, prices=prices)


# --- loading ------------------------------------------------------------------------------------


_Loaded = list[tuple[str | None, "Design | None", PebdslError | None]]


def _load_file(
    path: str, variants: Sequence[str] | None = None, allow_outside: bool = False
) -> tuple[_Loaded, PebdslError | None, tuple[str, ...]]:
    """[(variant, design or None, error or None)] for the base (always) and the variants to
    compare, a file-level error alone, and the names of every variant the file declares.
    `variants` None: every variant not written `compare = false`; else only those named.

    load_all fails as a whole when any variant is bad; then each variant is loaded on its own
    so a bad variant does not take the others with it."""
    from pebdsl.load import load, load_all, variant_compare_flags

    try:
        designs = load_all(
            path, variants, for_compare=variants is None, allow_outside=allow_outside
        )
        return [(v, d, None) for v, d in designs.items()], None, designs[None].variants
    except PebdslError as whole:
        try:
            base = load(path, allow_outside=allow_outside)
        except PebdslError as e:
            return [], e, ()
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
                out.append((v, None, e))
        if all(err is None for _, _, err in out):  # not a variant's fault after all
            return [], whole, base.variants
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


def plan(
    paths: Iterable[str],
    variants: Sequence[str] | None = None,
    allow_outside: bool = False,
) -> Plan:
    """Load every file and list its cases and solves (see the module docstring).

    `variants`: the cases to run, by name (`base` is the base design), also variants written
    `compare = false`; None: the base and every variant not written `compare = false`. A name
    that no file declares is E108. `allow_outside`: csv() may read files outside each
    design's folder."""
    from pebdsl.resolve.lint import merge

    t0 = time.perf_counter()
    files = [str(p) for p in paths]
    p = Plan(files, [], [], {}, [])
    declared: set[str] = set()
    any_loaded = False
    for fi, path in enumerate(files):
        loaded, file_error, names = _load_file(path, variants, allow_outside)
        declared.update(names)
        if file_error is not None:
            p.cases.append(Case(path, None, _label(None), None, file_error))
            continue
        any_loaded = True
        wanted = variants is None or BASE_LABEL in variants
        p.warnings += merge(
            {v: d for v, d, _ in loaded if d is not None and (v is not None or wanted)}
        )
        for variant, design, err in loaded:
            if variant is None and design is not None:
                p.refs[fi] = design.reference
            if variant is None and not wanted:
                continue  # the base is loaded for the file's facts but not a case
            label = _label(variant)
            description = design.variant_description if design is not None else ""
            ref = design.reference if design is not None else p.refs.get(fi)
            p.cases.append(
                Case(path, variant, label, None, err, description=description, reference=ref)
            )
            if design is not None:
                p.jobs.append(Job((fi, label), design))
    if variants is not None and any_loaded:
        _check_names(variants, declared)
    p.jobs += _twins(p.jobs)
    p.load_seconds = time.perf_counter() - t0
    return p


def _twins(jobs: list[Job]) -> list[Job]:
    """The battery-free twins, only where a saving split is asked for: of each case whose
    reference is one of the cases and on the same time grid, and of that reference."""
    by_key = {j.key: j for j in jobs}
    needed: set[tuple[int, str]] = set()
    for j in jobs:
        ref = by_key.get((j.key[0], j.design.reference or ""))
        if ref is not None and ref.design.time == j.design.time:
            needed.update((j.key, ref.key))
    return [
        Job((fi, label + NO_BATTERY_SUFFIX), without_batteries(j.design))
        for j in jobs
        for fi, label in [j.key]
        if j.key in needed and has_batteries(j.design)
    ]


def solve_plan(
    p: Plan,
    backend: str = "highs",
    prices: str = "midpoint",
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[Job, Outcome[Solved]], None] | None = None,
) -> Comparison:
    """Solve every job of the plan and score the cases (see the module docstring).

    `workers`: local worker processes (None: `p.auto_workers()`); `scheduler`: a Dask
    scheduler's address instead. `on_done(job, outcome)` runs in this process as each solve
    finishes (battery-free twins included)."""
    from pebdsl.kpis import three_values

    t0 = time.perf_counter()
    jobs = p.jobs
    outcomes = run(
        partial(solve_design, backend=backend, prices=prices),
        [j.design for j in jobs],
        workers=p.auto_workers() if workers is None else workers,
        scheduler=scheduler,
        on_done=None if on_done is None else (lambda i, o: on_done(jobs[i], o)),
    )
    by_key = {j.key: o for j, o in zip(jobs, outcomes, strict=True)}
    t_solve = time.perf_counter() - t0
    file_index = {f: i for i, f in enumerate(p.files)}
    for c in p.cases:
        if (o := by_key.get((file_index[c.file], c.label))) is not None:
            c.results, c.error, c.stochastic = shown(o.value), o.error, two_stage(o.value)
    for fi, path in enumerate(p.files):
        for c in (c for c in p.cases if c.file == path):
            ref_case = _reference_case(p.cases, path, c.reference)
            case_ref = _solved(ref_case) if ref_case else None
            ref = case_ref if comparable(_solved(c), case_ref) else None
            ref_nb = by_key.get((fi, f"{ref_case.label}{NO_BATTERY_SUFFIX}")) if ref_case else None
            nb = by_key.get((fi, c.label + NO_BATTERY_SUFFIX))
            c.summary = summarize(
                c,
                ref,
                None if nb is None else nb.value,
                c.reference is not None,
                ref_no_battery=None if ref_nb is None else ref_nb.value,
            )
            if c.results is not None and c.stochastic is None:
                v = {**c.results.values, **three_values(c.results, deterministic(ref))}
                c.results = c.results.replace(values=v)
    timings = {"load": p.load_seconds, "solve": t_solve}
    timings["total"] = p.load_seconds + time.perf_counter() - t0
    return Comparison(p.cases, p.files, timings=timings, warnings=p.warnings)


def compare(
    paths: Iterable[str],
    backend: str = "highs",
    variants: Sequence[str] | None = None,
    prices: str = "midpoint",
    allow_outside: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Comparison:
    """`plan` and `solve_plan` in one call (see their docstrings)."""
    return solve_plan(
        plan(paths, variants, allow_outside),
        backend=backend,
        prices=prices,
        workers=workers,
        scheduler=scheduler,
    )


def _label(variant: str | None) -> str:
    return variant or BASE_LABEL


def _solved(case: Case) -> Solved | None:
    return case.stochastic if case.stochastic is not None else case.results


def _reference_case(cases: list[Case], path: str, ref: str | None) -> Case | None:
    if ref is None:
        return None
    for c in cases:
        if c.file == path and c.variant == ref:
            return c
    return None


def summarize(
    case: Case,
    ref: Solved | None,
    no_battery: Solved | None,
    has_reference: bool = True,
    ref_no_battery: Solved | None = None,
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
        "status": case.status,
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
        "stochastic": None,
    }
    if r is None:
        return s
    if case.stochastic is not None:
        s.update(_expected_summary(case, case.stochastic))
    else:
        k = r.kpis["design"]
        s.update(
            total_cost=float(r.total_cost),
            shadow_cost=float(r.shadow_cost),
            objective=float(r.objective),
            currency=r.design.currency,
            grid_import_kwh=k["grid_import_kwh"],
            grid_export_kwh=k["grid_export_kwh"],
            curtailment_kwh=k["curtailment_kwh"],
            demand_shares=dict(k["demand_shares"]),
            peak_import_kw=dict(r.values["peak_import_kw"]),
        )
        v = three_values(r, deterministic(ref))
        s["values"] = {key: v[key] for key in VALUE_KEYS}
    solved = _solved(case)
    if ref is not None and solved is not None:
        s.update(savings(solved, ref, no_battery, ref_no_battery))
    return s


_EXPECTED_KEYS = (
    "total_cost",
    "shadow_cost",
    "objective",
    "grid_import_kwh",
    "grid_export_kwh",
    "curtailment_kwh",
    "demand_shares",
    "peak_import_kw",
    "values",
)


def _expected_summary(case: Case, st: StochasticResults) -> dict[str, Any]:
    """A two-stage case's figures: each scenario summarised alone, then Σ π_ω · figure_ω
    (reference-relative values are left None: a scenario has no reference of its own)."""
    probs = [sc.probability for sc in st.scenarios]
    parts = [
        summarize(Case(case.file, case.variant, case.label, sc.results, None), None, None)
        for sc in st.scenarios
    ]
    out = {k: weighted([p[k] for p in parts], probs) for k in _EXPECTED_KEYS}
    out["currency"] = st.currency
    out["stochastic"] = {
        "expected_cost": st.expected_cost,
        "wait_and_see": st.wait_and_see,
        "expected_value_solution_cost": st.eev,
        "evpi": st.evpi,
        "vss": st.vss,
        "scenarios": len(st.scenarios),
        "method": st.method,
    }
    return out
