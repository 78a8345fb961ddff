"""What the command line prints: help, the solve summary, check documents, study tables; and
for solves under uncertainty, a stochastic solve's value measures and scenario table and a
rolling solve's gap to perfect foresight.

Part of the command line (cli.py imports it; nothing below the CLI does). Input: a solved
`Comparison` or `Sweep` (pebdsl.study), a results.json document, a check's diagnostics, or a
count of solves for a progress bar. Output: for a comparison, the verdict first
(pebdsl.study.verdict: a ranking by real cost, one sentence per case on what it buys and
costs), then the table: it fits the console's width (100 columns when piped) with every number
in full, leaving out columns from the right and saying which (`wide`: all columns, the console
widened to fit); numbers with thousands separators, the failed cases with their rendered errors
below the table, and a transient progress bar on stderr; `check --json` / `--format sarif`
documents on stdout (present/check_report.py); `HelpCommand`, the help layout of every command
(arguments by metavar, no Python types), and the choices of the options (`Backend`, `Prices`,
`Emit`, `CheckFormat`).
Design text (labels, descriptions, parameter values, errors) goes to rich as `Text`
through `safetext.terminal_text`: no markup, no escape sequence reaches the terminal.
Raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer.core

from pebdsl.safetext import terminal_text

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.diagnostics import Diagnostic
    from pebdsl.stochastic import RollingResults, StochasticResults
    from pebdsl.stochastic.decompose import Decomposed
    from pebdsl.study.compare import Comparison
    from pebdsl.study.sweep import Sweep
    from pebdsl.study.tailor import Tailoring


# The choices of the command line's options (cli.py declares the options).
class Backend(StrEnum):
    highs = "highs"
    pyomo = "pyomo"


class Prices(StrEnum):
    midpoint = "midpoint"
    dual = "dual"


class Emit(StrEnum):
    ir = "ir"
    lp = "lp"
    mps = "mps"
    math = "math"


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class HelpCommand(typer.core.TyperCommand):
    """A command whose help shows arguments by their metavar (`FILE`), not by their Python
    type (`<list[Path]>`): the type says nothing a user of the shell can act on."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for p in params:
            if isinstance(p, typer.core.TyperArgument):
                p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        return params


class RootGroup(typer.core.TyperGroup):
    """The `pebdsl` group: `-q`/`--quiet` and `--verbose` may also follow the command
    (`pebdsl solve FILE -q`); they are moved before it, where the root callback reads them
    (`-v` after a command is that command's --variant, so it is not moved)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from pebdsl.clilog import hoist

        return super().parse_args(ctx, hoist(args))


def print_check_document(
    kind: str, files: list[tuple[str, list[str]]], diagnostics: list[Diagnostic], version: str
) -> None:
    """`check --format json|sarif`: the check as one JSON document on stdout."""
    import json

    from pebdsl.present.check_report import check_json, sarif

    doc = (check_json if kind == "json" else sarif)(files, diagnostics, version)
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def print_summary(doc: dict[str, Any]) -> None:
    """One solve: the title, status and total cost, and a table of the participants."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    obj = doc["objective"]
    title = doc["design"]["title"] + (f" — {doc['variant']}" if doc.get("variant") else "")
    # Design text as Text, never as markup: `[/]` or `[link=…]` in a title is shown as written.
    line = Text(terminal_text(title), style="bold")
    line.append(
        terminal_text(f": {doc['status']}, total cost {obj['value']:,.2f} {obj['unit']}"),
        style="",
    )
    console.print(line)
    agg = doc.get("aggregation")
    if agg:  # `--aggregate`: the table covers the typical days; the objective the horizon
        console.print(
            f"{agg['typical_periods']} typical days for {agg['periods']} (the table covers "
            f"them once each); objective over the horizon {agg['objective']:,.2f} "
            f"{obj['unit']}, series error (RMSE) {agg['series_error'].get('rmse', 0.0):.4f}"
        )
    table = Table("participant", "bill", "grid import kWh", "grid export kWh", "local kWh")
    for name, p in doc.get("participants", {}).items():
        table.add_row(
            Text(terminal_text(name)),
            _num(p["bill"]["total"]),
            _num(p["energy"]["grid_import_kwh"], digits=1),
            _num(p["energy"]["grid_export_kwh"], digits=1),
            _num(p["energy"]["local_bought_kwh"], digits=1),
        )
    console.print(table)


COMPARE_COLUMNS = (
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
)


def _console(console: Any = None) -> Any:
    from rich.console import Console

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped: the width the compare table is laid out for
            console = Console(width=100)
    return console


def _num(x: Any, unit: str = "", digits: int = 2) -> str:
    """A number with thousands separators (`12,345.67`), `–` for none."""
    return "–" if x is None else f"{x:,.{digits}f}{unit}"


def _money(x: Any) -> str:
    """Money with the digits it needs to show (a saving of 0.0016 is not 0.00)."""
    from pebdsl.study.verdict import amount

    return "–" if x is None else amount(float(x))


def _pct(x: Any) -> str:
    """A percentage already in per cent: one decimal, more when that would show 0.0."""
    if x is None:
        return "–"
    return f"{x:.1f}" if abs(x) >= 0.05 or x == 0 else f"{x:.2g}"


@contextmanager
def progress(what: str, total: int, workers: int | str) -> Iterator[Callable[..., None]]:
    """A transient progress bar on stderr; yields `advance(*_)`, a callback for each solve.
    `workers`: a count, or where the solves run (a Dask scheduler's address). None under -q."""
    from pebdsl.clilog import quiet

    if quiet():
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    where = workers if isinstance(workers, str) else f"{workers} worker" + "s" * (workers != 1)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(terminal_text(f"{what} ({where})"), total=total)
        yield lambda *_: bar.advance(task)


def print_comparison(comparison: Comparison, console: Any = None, *, wide: bool = False) -> None:
    """The verdict (ranking, one sentence per design), the comparison table, case descriptions
    and failed cases. The table keeps to the console's width with every number in full: columns
    are left out from the right (a note names them) unless `wide`, which prints all of them on a
    console as wide as they need."""
    from rich.table import Table
    from rich.text import Text

    from pebdsl.study.verdict import verdict

    console = _console(console)
    cases = comparison.cases
    one_file = len(comparison.files) == 1

    def name(file: str, label: str) -> str:
        return label if one_file else f"{Path(file).stem}/{label}"

    console.print(Text("Ranking (cheapest real cost first; what each design buys and costs):"))
    for v in verdict(cases):
        place = f"{v.rank}." if v.rank is not None else "–"
        line = Text(terminal_text(f"{place:>3} {name(v.file, v.label)}: {v.text}"))
        console.print(line)
    console.print()
    currencies = sorted({c.summary["currency"] for c in cases if c.summary.get("currency")})
    rows = [
        [name(c.file, c.label), str(c.summary.get("status", "")), *_compare_cells(c.summary)]
        for c in cases
    ]
    keep = _fitting_columns(rows, console.width, wide)
    if wide:
        console = _console_of_width(console, _table_width(rows, keep))
    table = Table(
        title=f"pebdsl compare (costs and savings in {', '.join(currencies) or '–'}; "
        "total cost = real money, shadow cost = priced flexibility and premiums, not paid)",
        title_justify="left",
    )
    for i in keep:
        col = COMPARE_COLUMNS[i]
        if i == 0:  # labels are text: they may fold, numbers never do
            table.add_column(col, justify="left", overflow="fold", max_width=_LABEL_MAX)
        else:
            table.add_column(col, justify="left" if i == 1 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*[Text(terminal_text(row[i])) for i in keep])
    console.print(table)
    dropped = [
        COMPARE_COLUMNS[i].replace("\n", " ") for i in range(len(COMPARE_COLUMNS)) if i not in keep
    ]
    if dropped:
        console.print(
            Text(
                f"Left out to fit {console.width} columns: {', '.join(dropped)} "
                "(--wide shows every column; --json gives every figure)."
            )
        )
    for c in cases:
        if c.description:
            console.print(Text(terminal_text(f"{name(c.file, c.label)}: {c.description}")))
    for c in cases:
        if st := c.summary.get("stochastic"):  # a design with scenarios: its two-stage solve
            vss = "unbounded" if st["vss"] is None else _money(st["vss"])
            console.print(
                Text(
                    terminal_text(
                        f"{name(c.file, c.label)}: two-stage over {st['scenarios']} scenarios, "
                        f"figures are expectations; expected cost "
                        f"{_money(st['expected_cost'])}, EVPI {_money(st['evpi'])}, VSS {vss}"
                    )
                )
            )
    for c in cases:
        if c.error is not None:
            console.print(Text(terminal_text(f"{c.label}"), style="bold red") + " failed:")
            console.print(Text(terminal_text(c.error.render())))


# A case label wider than this folds onto a second line (text may wrap, numbers may not).
_LABEL_MAX = 24


def _column_width(rows: list[list[str]], i: int) -> int:
    """The width column `i` needs: its longest header line or cell (labels capped)."""
    w = max([len(line) for line in COMPARE_COLUMNS[i].split("\n")] + [len(r[i]) for r in rows])
    return min(w, _LABEL_MAX) if i == 0 else w


def _table_width(rows: list[list[str]], keep: list[int]) -> int:
    """rich's default box: one space of padding either side and one border per column, plus
    the closing border."""
    return sum(_column_width(rows, i) + 3 for i in keep) + 1


def _fitting_columns(rows: list[list[str]], width: int, wide: bool) -> list[int]:
    """The columns to print: all when `wide`, else case and status and then the number columns
    in order while the table still fits `width` (the later columns are the less read ones)."""
    if wide:
        return list(range(len(COMPARE_COLUMNS)))
    keep = [0, 1]
    for i in range(2, len(COMPARE_COLUMNS)):
        if _table_width(rows, [*keep, i]) <= width:  # a wide column left out, a later one may fit
            keep.append(i)
    return keep


def _console_of_width(console: Any, width: int) -> Any:
    """`console` itself when it is wide enough, else a console like it that is `width` wide."""
    if console.width >= width:
        return console
    from rich.console import Console

    return Console(file=console.file, width=width, force_terminal=console.is_terminal)


def _compare_cells(s: dict[str, Any]) -> list[str]:
    """The number columns of one compare row (COMPARE_COLUMNS after case and status)."""
    v = s.get("values") or {}
    share = v.get("pv_surplus_local_share")
    return [
        _money(s.get("total_cost")),
        _money(s.get("shadow_cost")),
        _money(s.get("saving")),
        _pct(s.get("saving_pct")),
        _money(s.get("saving_trade")),
        _money(s.get("saving_storage")),
        _num(s.get("grid_import_kwh"), digits=1),
        _num(v.get("local_trade_kwh"), digits=1),
        _num(None if share is None else 100 * share, " %", digits=1),
        _num((s.get("peak_import_kw") or {}).get("all"), digits=1),
        _num(v.get("peak_reduction_kw"), digits=1),
    ]


def print_sweep(result: Sweep, console: Any = None) -> None:
    """The sweep's rows as a rich table, failed cases with their errors below it."""
    from rich.table import Table
    from rich.text import Text

    console = _console(console)
    rows = result.rows
    cur = sorted({r["currency"] for r in rows if r.get("currency")})
    table = Table(
        title=Text(terminal_text(f"pebdsl sweep {result.file} (costs in {', '.join(cur) or '–'})")),
        title_justify="left",
    )
    params = list(result.parameters)
    cols = ["case", *params, "status", "total cost", "grid import kWh", "self-sufficiency"]
    for c in [*cols, "local kWh", "peak import kW"]:
        table.add_column(Text(terminal_text(c)), justify="left" if c in params else "right")
    for r in rows:
        suff = r.get("self_sufficiency")
        table.add_row(
            str(r["case"]),
            *[Text(terminal_text(str(r[p]))) for p in params],
            Text(terminal_text(str(r["status"]))),
            _num(r.get("total_cost")),
            _num(r.get("grid_import_kwh"), digits=1),
            _num(None if suff is None else 100 * suff, " %", 1),
            _num(r.get("local_trade_kwh"), digits=1),
            _num(r.get("peak_import_kw"), digits=1),
        )
    console.print(table)
    for case in result.failed:
        assert case.error is not None
        console.print(Text(f"case {case.index} failed:", style="bold red"))
        console.print(Text(terminal_text(case.error.render())))


def print_tailoring(t: Tailoring, console: Any = None, out: Path | None = None) -> None:
    """The ranking of a tailored design space (goals met first, cheapest first), the
    recommendation and its reasons, and the files written into `out`."""
    from rich.text import Text

    from pebdsl.study.tailor import ranking
    from pebdsl.study.verdict import amount

    console = _console(console)
    cases = ranking(t)
    space = f"{len(t.cases)} of {t.total} designs" + (" (a random sample)" if t.sampled else "")
    cached = sum(1 for c in t.cases if c.cached)
    console.print(
        Text(
            terminal_text(
                f"pebdsl tailor {t.file}: {space}; {t.solved_now} solved now, {cached} from "
                "the cache"
            )
        )
    )
    for g in t.goals:
        console.print(Text(terminal_text(f"  goal: {g['text']}")))
    console.print(Text("Ranking (designs meeting every goal first, then by real cost):"))
    for i, c in enumerate(cases, start=1):
        rec = c.record
        if rec is None:
            line = f"  –  {c.label}: {c.status}"
        else:
            share = rec.get("pv_surplus_local_share")
            peak = rec.get("peak_import_kw")
            line = (
                f"{i:>3}. {c.label}: {amount(rec['total_cost'])} {t.currency}, PV surplus local "
                f"{'–' if share is None else f'{100 * share:.0f} %'}, peak "
                f"{'–' if peak is None else f'{peak:,.1f} kW'}, local trade "
                f"{amount(rec['local_trade_kwh'])} kWh"
                + ("" if c.meets_goals else ", misses a goal")
                + (", on the front" if c.pareto else "")
            )
        console.print(Text(terminal_text(line)))
    if t.recommended is None:
        console.print(Text("No design solved: nothing to recommend.", style="bold red"))
        return
    console.print(Text(terminal_text(f"Recommended: {t.recommended.label}"), style="bold"))
    sizes = (t.recommended.record or {}).get("investments") or {}
    if sizes:
        chosen = ", ".join(f"{p} {v['value']:,.2f} {v['unit']}" for p, v in sizes.items())
        console.print(Text(terminal_text(f"  sizes chosen: {chosen}")))
    for r in t.reasons:
        console.print(Text(terminal_text(f"  {r}")))
    if out is not None:
        names = ("tailor.html", "tailor.json", "tailor.parquet", "recommended.peb")
        console.print(Text(terminal_text("written: " + ", ".join(str(out / n) for n in names))))


def print_stochastic(r: StochasticResults, design: Design, sentences: list[str]) -> None:
    """A stochastic solve: status, EVPI and VSS in words, notes, one row per scenario."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    title = design.title + (f" — {design.variant}" if design.variant else "")
    line = Text(terminal_text(title), style="bold")
    line.append(terminal_text(f": {r.status}, two-stage stochastic"), style="")
    console.print(line)
    for sentence in sentences:
        console.print(Text(terminal_text(sentence)))
    for note in r.notes:
        console.print(Text(terminal_text("note: " + note)))
    table = Table("scenario", "probability", f"cost {r.currency}", f"alone {r.currency}")
    for s in r.scenarios:
        table.add_row(
            Text(terminal_text(s.name)),
            f"{100 * s.probability:.3g} %",
            f"{s.cost:.2f}",
            f"{s.alone:.2f}",
        )
    console.print(table)


def print_rolling(r: RollingResults, design: Design) -> None:
    """A rolling solve: its cost, the perfect-foresight cost and the gap."""
    share = "" if r.gap_share is None else f" ({100 * r.gap_share:.2f} %)"
    title = design.title + (f" — {design.variant}" if design.variant else "")
    k = max(1, len(r.scenarios))
    n = len(r.windows) // k
    print(terminal_text(f"{title}: rolling solution, {n} window{'' if n == 1 else 's'}"))
    costs = "costs"
    if r.scenarios:  # rolling over forecasts: expectations over the scenarios
        what = "the scenario draws" if r.decide == "scenarios" else "the forecast"
        if r.correlation:
            what += f" updated from the errors seen (ρ = {r.correlation:g})"
        print(
            terminal_text(
                f"each window decides on {what} and realises on each of {k} scenarios "
                "as the actuals"
            )
        )
        costs = "costs in expectation"
    print(
        terminal_text(
            f"committing {r.period_h:g} h per window with {r.lookahead_h:g} h lookahead {costs} "
            f"{r.rolling_cost:.2f} {r.currency}; perfect foresight {r.perfect_cost:.2f} "
            f"{r.currency}; gap {r.gap:.2f} {r.currency}{share}"
        )
    )


def print_decomposed(r: Decomposed, design: Design) -> None:
    """Progressive hedging: the bounds on the expected cost, their gap, the consensus."""
    title = design.title + (f" — {design.variant}" if design.variant else "")
    cur = design.currency
    print(
        terminal_text(
            f"{title}: progressive hedging (mpi-sppy), {r.scenarios} scenarios, "
            f"{r.iterations} iterations"
        )
    )
    share = f" ({100 * r.gap / abs(r.upper_bound):.2f} %)" if abs(r.upper_bound) > 1e-9 else ""
    print(
        terminal_text(
            f"expected cost between {r.lower_bound:.4g} and {r.upper_bound:.4g} {cur}: "
            f"gap {r.gap:.3g} {cur}{share} ({r.bound} lower bound; the upper bound is the "
            "consensus day-ahead position evaluated in every scenario)"
        )
    )
    for bidder, kwh in r.day_ahead_kwh.items():
        print(terminal_text(f"  {bidder}: day-ahead {float(kwh.sum()):.4g} kWh in all"))
    secs = ", ".join(f"{k} {v:.2f} s" for k, v in r.seconds.items())
    print(terminal_text(f"times: {secs}"))
