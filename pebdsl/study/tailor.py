"""Tailor a market to the values it must deliver: a design space solved, its Pareto front, a
recommendation with reasons.

Input: a design file with `choice NAME { variant A { … } variant B { … } }` declarations (the
alternatives of its building blocks: market or none, p2p or pool, shared battery or not, DSO
flexibility or reinforcement, a settlement rule, …) and, optionally, `goals { … }`; where to
solve (study.runner: this process, a process pool, or Dask) and a cache folder. Output: a
`Tailoring`: one `TailorCase` per combination of one option per choice (every combination, or
a random sample of `max_cases` of them with a fixed seed, stated in `Tailoring.sampled`), each
with its real cost, the three values, its sizes (`invest(...)` columns) and which goals it
meets; the Pareto front over real cost (min) and the three values (PV surplus balanced
locally, max; coincident peak import, min; local trade, max); the recommended case and the
reasons in words; and the recommended design's text (the base file, choices dropped, plus
`variant tailored { … }` with the chosen options' edits, written by the formatter from a
syntax tree; `pebdsl check` accepts it and `pebdsl solve FILE --variant tailored` solves it).

How each case is made: the file's syntax tree without its choices, plus one variant whose
items are the chosen options' edits in choice order — the same edits the options would make as
variants of their own. Hard goals are rows of each case's LP (lower/goals.py), so a case that
cannot reach them is infeasible (status "infeasible": the goals rule it out); `prefer` goals
only rank. Sizes written `invest(...)` are chosen inside each case's LP.

Resumable: each finished case is written to `cache/<key>.json` as it finishes, the key being
the sha256 of the case's design text, the data files the base design reads, the backend and
the price rule; a later run with the same cache solves only the cases without a file (a run
killed halfway keeps what finished). Nothing else is written here (present/tailor.py writes
the outputs) and nothing is printed.

Errors: E340 a file without choices (nothing to tailor); the file's own errors (it is checked
first, as `pebdsl check` would); a failing case is kept with its status, never raised.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.study.runner import Outcome, case_work, failure_status, run

if TYPE_CHECKING:
    from pebdsl.design import Design, Goal
    from pebdsl.front import syntax as S
    from pebdsl.results import Results

TAILORED = "tailored"
MAX_CASES = 64
SEED = 13
# (key, direction, words) of the front's criteria; +1 more is better, -1 less is better.
CRITERIA = (
    ("total_cost", -1, "real cost"),
    ("pv_surplus_local_share", 1, "PV surplus balanced locally"),
    ("peak_import_kw", -1, "peak import"),
    ("local_trade_kwh", 1, "local trade"),
)


@dataclass
class TailorCase:
    """One combination: `options` maps each choice to its option; `record` the figures of its
    solve (None when it failed, `status` and `error` say why)."""

    options: dict[str, str]
    text: str
    key: str
    status: str = "pending"
    record: dict[str, Any] | None = None
    error: str | None = None
    cached: bool = False
    pareto: bool = False
    meets_goals: bool = False

    @property
    def label(self) -> str:
        return ", ".join(f"{c}={o}" for c, o in self.options.items())


@dataclass
class Tailoring:
    """The solved design space (module docstring)."""

    file: str
    choices: dict[str, list[str]]
    goals: list[dict[str, Any]]
    cases: list[TailorCase]
    total: int  # combinations in the space
    sampled: bool
    currency: str
    work: int = 0  # steps x participants x scenarios of one case (study.runner.case_work)
    recommended: TailorCase | None = None
    reasons: list[str] = field(default_factory=list)
    recommended_text: str = ""
    solved_now: int = 0  # cases solved by this run (the others came from the cache)


def _choices(tree: S.File) -> list[S.ChoiceDecl]:
    from pebdsl.front import syntax as S

    return [d for d in tree.decls if isinstance(d, S.ChoiceDecl)]


def case_text(tree: S.File, text: str, options: dict[str, str], description: str = "") -> str:
    """The design text of one combination: the file without its choices, plus `variant
    tailored` holding the chosen options' edits (comments outside the choices kept)."""
    from pebdsl.front import syntax as S
    from pebdsl.front.formatter import format_file

    choices = _choices(tree)
    items: list[Any] = []
    for c in choices:
        opt = next(o for o in c.options if o.name.value == options[c.name.value])
        items += [it for it in opt.items if not isinstance(it, S.Attribute)]
    desc = description or "; ".join(f"{c}: {o}" for c, o in options.items())
    variant = S.VariantDecl(
        S.Name(TAILORED), (S.Attribute(S.Name("description"), S.String(desc)), *items)
    )
    keep = tuple(d for d in tree.decls if not isinstance(d, S.ChoiceDecl))

    def inside(c: S.Comment) -> bool:
        return any(d.span.start <= c.span.start < d.span.end for d in choices)

    comments = tuple(c for c in tree.comments if not inside(c))
    return format_file(S.File((*keep, variant), comments, tree.span), text)


def plan(
    path: str,
    max_cases: int = MAX_CASES,
    seed: int = SEED,
    backend: str = "highs",
    prices: str = "midpoint",
) -> Tailoring:
    """The design space of `path` (checked first) and one unsolved case per combination."""
    from pebdsl.load import load, read

    base = load(path)  # the file's own errors first, as `pebdsl check` reports them
    tree, source, _ = read(path)
    choices = _choices(tree)
    if not choices:
        raise PebdslError(
            error(
                "E340",
                "nothing to tailor: the design declares no `choice`",
                base.span,
                "no design space",
                (
                    "declare alternatives: `choice market { variant none { without market m } "
                    "variant p2p { } }`",
                ),
            )
        )
    names = {c.name.value: [o.name.value for o in c.options] for c in choices}
    combos = list(itertools.product(*names.values()))
    total = len(combos)
    sampled = total > max_cases
    if sampled:
        picked = sorted(random.Random(seed).sample(range(total), max_cases))
        combos = [combos[i] for i in picked]
    cases = []
    for combo in combos:
        options = dict(zip(names, combo, strict=True))
        text = case_text(tree, source.text, options)
        key = hashlib.sha256(
            "\n".join([text, base.data_digest, backend, prices]).encode()
        ).hexdigest()
        cases.append(TailorCase(options, text, key))
    goals = [_goal_dict(g) for g in base.goals]
    work = case_work(base)
    return Tailoring(path, names, goals, cases, total, sampled, base.currency, work=work)


def pending(t: Tailoring, cache: Path | None, workers: int | None) -> tuple[int, int]:
    """The cases without a cached result, and the workers to solve them with (`workers`, or
    by default study.runner.auto_workers over the work they ask for)."""
    from pebdsl.study.runner import auto_workers

    todo = sum(1 for c in t.cases if _read_cache(cache, c.key) is None)
    return todo, workers if workers is not None else auto_workers(todo, todo * t.work, t.work)


def _goal_dict(g: Goal) -> dict[str, Any]:
    return {
        "metric": g.metric,
        "block": g.block,
        "op": g.op,
        "value": g.value,
        "prefer": g.prefer,
        "text": g.text,
        "line": g.span.line if g.span.source is not None else None,
    }


@dataclass(frozen=True)
class _Job:
    path: str
    text: str
    backend: str
    prices: str


def solve_case(job: _Job) -> dict[str, Any]:
    """Solve one case in a worker: its figures as a JSON-ready dict (study.runner's `fn`)."""
    from pebdsl.front.parser import parse
    from pebdsl.resolve import resolve
    from pebdsl.solve import solve
    from pebdsl.source import SourceFile

    # The case's own text (the file without choices, plus `variant tailored`): an error in it
    # points at that text, so its name says so; it stays in the file's folder (csv paths).
    name = f"{job.path} (tailored case)"
    tree = parse(job.text, name)
    design = resolve(tree, SourceFile(name, job.text), variant=TAILORED)
    return record(design, solve(design, job.backend, prices=job.prices))


def record(design: Design, r: Results) -> dict[str, Any]:
    """The figures of one solved case that the front, the goals and the page read."""
    k = r.kpis["design"]
    v = r.values
    peak = (v.get("peak_import_kw") or {}).get("all")
    invest = getattr(r, "investments", None) or {}
    return {
        "total_cost": float(r.total_cost),
        "currency": design.currency,
        "pv_surplus_local_share": v.get("pv_surplus_local_share"),
        "peak_import_kw": None if peak is None else float(peak),
        "local_trade_kwh": float(k.get("local_trade_kwh") or 0.0),
        "flexibility_kwh": float(v.get("flexibility_kwh") or 0.0),
        "grid_import_kwh": float(k.get("grid_import_kwh") or 0.0),
        "investments": {p: dict(x) for p, x in invest.items()},
    }


def solve_space(
    t: Tailoring,
    cache: Path | None,
    *,
    backend: str = "highs",
    prices: str = "midpoint",
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, Outcome[dict[str, Any]]], None] | None = None,
    solve_fn: Callable[[_Job], dict[str, Any]] = solve_case,
) -> Tailoring:
    """Solve the cases without a cached result (each cached as it finishes), then the front,
    the goals and the recommendation (`finish`)."""
    todo: list[int] = []
    for i, c in enumerate(t.cases):
        got = _read_cache(cache, c.key)
        if got is None:
            todo.append(i)
        else:
            _apply(c, got)
            c.cached = True

    def done(j: int, outcome: Outcome[dict[str, Any]]) -> None:
        c = t.cases[todo[j]]
        entry = (
            {"status": "optimal", "record": outcome.value, "error": None}
            if outcome.error is None
            else {
                "status": failure_status(outcome.error),
                "record": None,
                "error": outcome.error.render(),
            }
        )
        _apply(c, entry)
        _write_cache(cache, c.key, {**entry, "options": c.options})
        if on_done is not None:
            on_done(j, outcome)

    jobs = [_Job(t.file, t.cases[i].text, backend, prices) for i in todo]
    run(solve_fn, jobs, workers=workers, scheduler=scheduler, on_done=done)
    t.solved_now = len(todo)
    return finish(t)


def _apply(c: TailorCase, entry: dict[str, Any]) -> None:
    c.status = str(entry["status"])
    c.record = entry.get("record")
    c.error = entry.get("error")


def _read_cache(cache: Path | None, key: str) -> dict[str, Any] | None:
    if cache is None:
        return None
    f = cache / f"{key}.json"
    try:
        got = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent, or cut short by a kill: solved again
    return got if isinstance(got, dict) and "status" in got else None


def _write_cache(cache: Path | None, key: str, entry: dict[str, Any]) -> None:
    """Atomically (a temporary file renamed), so a kill never leaves half a case behind."""
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(entry, sort_keys=True), encoding="utf-8")
    os.replace(tmp, cache / f"{key}.json")


# ----------------------------------------------------------------------------------- judging
def finish(t: Tailoring) -> Tailoring:
    """Goals met, the Pareto front and the recommendation of a solved space."""
    solved = [c for c in t.cases if c.record is not None]
    for c in solved:
        c.meets_goals = all(goal_met(g, c.record) for g in t.goals)  # type: ignore[arg-type]
    for c in solved:
        c.pareto = not any(_dominates(o.record, c.record) for o in solved if o is not c)  # type: ignore[arg-type]
    pool = [c for c in solved if c.meets_goals and c.pareto] or [c for c in solved if c.pareto]
    if pool:
        best = min(pool, key=_rank_key)
        t.recommended = best
        t.reasons = reasons(t, best)
        t.recommended_text = best.text
    return t


def goal_met(g: dict[str, Any], rec: dict[str, Any]) -> bool:
    """Whether a case's figures meet a goal (hard goals are LP rows, so a solved case meets
    them up to the solver's tolerance; `prefer` goals are checked here only)."""
    metric = {"pv_surplus_local": "pv_surplus_local_share", "peak_import": "peak_import_kw"}.get(
        g["metric"], "local_trade_kwh"
    )
    if g["metric"] == "peak_import" and g.get("block"):
        return True  # a block's peak is a row of the LP; the record keeps the coincident peak
    got = rec.get(metric)
    if got is None:
        return g["metric"] == "pv_surplus_local"  # no surplus: nothing to balance
    tol = 1e-6 * max(1.0, abs(float(g["value"])))
    if g["op"] == ">=":
        return bool(got >= g["value"] - tol)
    return bool(got <= g["value"] + tol)


def _vec(rec: dict[str, Any]) -> list[float]:
    """The criteria as "more is better" numbers (a missing value is the worst)."""
    out = []
    for key, sign, _ in CRITERIA:
        x = rec.get(key)
        out.append(float("-inf") if x is None else sign * float(x))
    return out


def _dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """`a` is at least as good as `b` in every criterion and better in one (1e-9 relative)."""
    va, vb = _vec(a), _vec(b)
    tol = [1e-9 * max(1.0, abs(x)) if abs(x) != float("inf") else 0.0 for x in vb]
    ge = all(x >= y - e for x, y, e in zip(va, vb, tol, strict=True))
    gt = any(x > y + e for x, y, e in zip(va, vb, tol, strict=True))
    return ge and gt


def _rank_key(c: TailorCase) -> tuple[float, ...]:
    """Cheapest first; ties: more values (the front's other criteria, in order)."""
    assert c.record is not None
    return (float(c.record["total_cost"]), *[-x for x in _vec(c.record)[1:]])


def ranking(t: Tailoring) -> list[TailorCase]:
    """Every case: meeting every goal first, then solved ones, cheapest first; failures last."""
    solved = sorted((c for c in t.cases if c.record is not None), key=_rank_key)
    return (
        [c for c in solved if c.meets_goals]
        + [c for c in solved if not c.meets_goals]
        + [c for c in t.cases if c.record is None]
    )


def reasons(t: Tailoring, best: TailorCase) -> list[str]:
    """One sentence per choice: what the chosen option buys against each alternative (the case
    that differs in that choice only), at what cost."""
    from pebdsl.study.verdict import amount

    by_options = {tuple(c.options.values()): c for c in t.cases}
    cur = t.currency
    out = []
    assert best.record is not None
    for i, (choice, opts) in enumerate(t.choices.items()):
        mine = best.options[choice]
        parts = []
        for other in opts:
            if other == mine:
                continue
            combo = list(best.options.values())
            combo[i] = other
            alt = by_options.get(tuple(combo))
            if alt is None:
                parts.append(f"`{other}` was not solved (sampled out)")
            elif alt.record is None:
                parts.append(
                    f"`{other}` is {alt.status}"
                    + (" (the goals rule it out)" if alt.status == "infeasible" else "")
                )
            else:
                parts.append(_against(best.record, alt.record, other, cur, amount))
        out.append(f"{choice} = {mine}: " + ("; ".join(parts) or "the only option") + ".")
    return out


def _against(
    me: dict[str, Any], alt: dict[str, Any], other: str, cur: str, amount: Callable[[float], str]
) -> str:
    """`me` against the case with option `other`: the cost difference and the values bought."""
    d_cost = float(alt["total_cost"]) - float(me["total_cost"])
    cost = (
        f"saves {amount(d_cost)} {cur}"
        if d_cost > 1e-9
        else f"costs {amount(-d_cost)} {cur} more"
        if d_cost < -1e-9
        else "costs the same"
    )
    values = []
    a, b = me.get("pv_surplus_local_share"), alt.get("pv_surplus_local_share")
    if a is not None and b is not None and abs(a - b) > 0.005:
        values.append(f"PV surplus balanced locally {100 * b:.0f} % → {100 * a:.0f} % [value 1]")
    a, b = me.get("peak_import_kw"), alt.get("peak_import_kw")
    if a is not None and b is not None and abs(a - b) > 0.05:
        values.append(f"peak import {b:,.1f} → {a:,.1f} kW [value 2]")
    a, b = me.get("local_trade_kwh"), alt.get("local_trade_kwh")
    if a is not None and b is not None and abs(a - b) > 0.0005:
        values.append(f"local trade {amount(b)} → {amount(a)} kWh [value 3]")
    bought = ", ".join(values) if values else "no change in the three values"
    return f"against `{other}` it {cost} ({bought})"


def summary_rows(t: Tailoring) -> list[dict[str, Any]]:
    """One flat row per case (JSON and Parquet): options, status, figures, front, goals."""
    rows = []
    for c in t.cases:
        rec = c.record or {}
        row: dict[str, Any] = {f"choice.{k}": v for k, v in c.options.items()}
        row.update(
            label=c.label,
            status=c.status,
            pareto=c.pareto,
            meets_goals=c.meets_goals,
            recommended=c is t.recommended,
            cached=c.cached,
            total_cost=rec.get("total_cost"),
            pv_surplus_local_share=rec.get("pv_surplus_local_share"),
            peak_import_kw=rec.get("peak_import_kw"),
            local_trade_kwh=rec.get("local_trade_kwh"),
            flexibility_kwh=rec.get("flexibility_kwh"),
            grid_import_kwh=rec.get("grid_import_kwh"),
            investments=json.dumps(rec.get("investments") or {}, sort_keys=True),
            error=c.error,
            key=c.key,
        )
        rows.append(row)
    return rows


def keys_of(cases: Sequence[TailorCase]) -> list[str]:
    """The cache keys of the cases (tests and the page)."""
    return [c.key for c in cases]
