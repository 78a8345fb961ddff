"""What the command line prints for studies: progress bars and the compare and sweep tables;
and for solves under uncertainty: a stochastic solve's value measures and scenario table, a
rolling solve's gap to perfect foresight.

Part of the command line (cli.py imports it; nothing below the CLI does). Input: a solved
`Comparison` or `Sweep` (pebdsl.study), or a count of solves for a progress bar. Output: rich
tables on stdout (160 columns wide when piped, so that a table is not squeezed into 80), the
failed cases with their rendered errors below the table, and a transient progress bar on
stderr. Design text (labels, descriptions, parameter values, errors) goes to rich as `Text`
through `safetext.terminal_text`: no markup, no escape sequence reaches the terminal.
Raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.safetext import terminal_text

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.stochastic import RollingResults, StochasticResults
    from pebdsl.study.compare import Comparison
    from pebdsl.study.sweep import Sweep

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
        if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
            console = Console(width=160)
    return console


def _num(x: Any, unit: str = "", digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}{unit}"


@contextmanager
def progress(what: str, total: int, workers: int | str) -> Iterator[Callable[..., None]]:
    """A transient progress bar on stderr; yields `advance(*_)`, a callback for each solve.
    `workers`: a count, or where the solves run (a Dask scheduler's address)."""
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


def print_comparison(comparison: Comparison, console: Any = None) -> None:
    """The comparison as a rich table, case descriptions and failed cases below it."""
    from rich.table import Table
    from rich.text import Text

    console = _console(console)
    cases = comparison.cases
    currencies = sorted({c.summary["currency"] for c in cases if c.summary.get("currency")})
    table = Table(
        title=f"pebdsl compare (costs and savings in {', '.join(currencies) or '–'}; "
        "total cost = real money, shadow cost = priced flexibility and premiums, not paid)",
        title_justify="left",
    )
    # Two-line headers and one row per case: the table stays readable in 120 columns.
    for col in COMPARE_COLUMNS:
        table.add_column(
            col, justify="left" if col in ("case", "status") else "right", no_wrap=True
        )
    one_file = len(comparison.files) == 1
    for c in cases:
        label = c.label if one_file else f"{Path(c.file).stem}/{c.label}"
        table.add_row(
            Text(terminal_text(label)),
            Text(terminal_text(str(c.summary.get("status", "")))),
            *_compare_cells(c.summary),
        )
    console.print(table)
    for c in cases:
        if c.description:
            label = c.label if one_file else f"{Path(c.file).stem}/{c.label}"
            console.print(Text(terminal_text(f"{label}: {c.description}")))
    for c in cases:
        if c.error is not None:
            console.print(Text(terminal_text(f"{c.label}"), style="bold red") + " failed:")
            console.print(Text(terminal_text(c.error.render())))


def _compare_cells(s: dict[str, Any]) -> list[str]:
    """The number columns of one compare row (COMPARE_COLUMNS after case and status)."""
    v = s.get("values") or {}
    share = v.get("pv_surplus_local_share")
    return [
        _num(s.get("total_cost")),
        _num(s.get("shadow_cost")),
        _num(s.get("saving")),
        f"{s['saving_pct']:.1f}" if s.get("saving_pct") is not None else "–",
        _num(s.get("saving_trade")),
        _num(s.get("saving_storage")),
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
    n = len(r.windows)
    print(terminal_text(f"{title}: rolling solution, {n} window{'' if n == 1 else 's'}"))
    print(
        terminal_text(
            f"committing {r.period_h:g} h per window with {r.lookahead_h:g} h lookahead costs "
            f"{r.rolling_cost:.2f} {r.currency}; perfect foresight {r.perfect_cost:.2f} "
            f"{r.currency}; gap {r.gap:.2f} {r.currency}{share}"
        )
    )
