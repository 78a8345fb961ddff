"""The command line's shared arguments and options (Typer `Annotated` types), one place.

Used by pebdsl/cli.py for every command that takes a design file, a variant, `--set` edits,
`--allow-outside`, a price rule, workers or a Dask scheduler, so that each reads the same and
has the same help; `solve`'s solver options; and `root`, the callback of the `pebdsl` group
with its own options (--version, -v/--verbose, -q/--quiet: it sets up logging, clilog.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pebdsl.console import Prices

PricesOpt = Annotated[
    Prices,
    typer.Option(
        metavar="[midpoint|dual]",
        help="Degenerate local prices (a market clearing at a kink): the midpoint of the valid "
        "dual interval, or the solver's dual (skips two extra LP solves). "
        "docs/model.md, Extraction and settlement.",
    ),
]


FilesArg = Annotated[
    list[Path], typer.Argument(help="Design files (*.peb); - reads one from stdin.", metavar="FILE")
]
FileArg = Annotated[Path, typer.Argument(help="A design file (*.peb).", metavar="FILE")]
VariantOpt = Annotated[
    str | None,
    typer.Option(
        "--variant", "-v", metavar="NAME", help="A variant of the design (default: the base)."
    ),
]
OutsideOpt = Annotated[
    bool,
    typer.Option(
        "--allow-outside",
        help="Let csv() read files outside the design file's folder (refused by default, E411).",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="EDIT",
        help="An edit applied on top, as in a variant: 'alice.pv.peak = 8 kWp' (repeatable).",
    ),
]


WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        metavar="N",
        help="Worker processes (default: the CPUs, at most one per solve, and no more than the "
        "available memory holds at an estimated 200 MiB + 20 KiB per step x participant x "
        "scenario of the largest solve; 1 for a small run, where starting workers costs more "
        "than it saves). 1 solves in this process.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Address of a Dask scheduler (tcp://host:8786) to solve on instead "
        "(needs the cluster extra: pip install 'pebdsl[cluster]').",
    ),
]


RollingOpt = Annotated[
    str | None,
    typer.Option(
        "--rolling",
        metavar="PERIOD",
        help="Operate window by window with limited foresight: commit this period "
        "(e.g. 1d, 12h) per window and report the gap to perfect foresight.",
    ),
]
LookaheadOpt = Annotated[
    str,
    typer.Option(
        metavar="PERIOD",
        help="With --rolling: how far past its period each window sees (e.g. 1d).",
    ),
]
AggregateOpt = Annotated[
    str | None,
    typer.Option(
        "--aggregate",
        metavar="Nd",
        help="Solve on N typical days (e.g. 12d; tsam, the aggregate extra) with the batteries' "
        "state of charge kept across the days; results.json's `aggregation` gives the whole "
        "horizon's objective and the series error (12d,check: also solves the full horizon "
        "for the objective's error and the speed-up). See docs/scale.md.",
    ),
]
NoCsvOpt = Annotated[
    bool,
    typer.Option(
        "--no-csv",
        help="With --out, write the tables as Parquet only (a year of 15-minute steps "
        "makes CSVs of hundreds of MB).",
    ),
]


# Solver options of `solve` (pebdsl/backends/options.py; docs/cli.md, "Solver options").
TimeLimitOpt = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        min=0,
        metavar="SECONDS",
        help="Stop the solver after this long. A solve stopped before its optimum reports "
        "status time_limit (E506, exit 1) and no results.",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", min=1, metavar="N", help="Threads the solver may use."),
]
SolverOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--solver-option",
        metavar="KEY=VALUE",
        help="Any solver option by its own name, e.g. mip_rel_gap=1e-4 or presolve=off "
        "(repeatable; HiGHS options are checked, E507).",
    ),
]
SolverLogOpt = Annotated[
    Path | None,
    typer.Option(
        "--solver-log", metavar="FILE", help="Write the solver's own log to FILE (replaced)."
    ),
]
WarmStartOpt = Annotated[
    str,
    typer.Option(
        "--warm-start",
        metavar="off|auto|Nd",
        help="Start HiGHS's simplex from the basis of the horizon's chunks (e.g. 2d) solved "
        "alone; the same optimum, found faster on long horizons. auto: from 14 days of horizon, "
        "chunks of 2 to 7 days. See docs/scale.md.",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="Log more on stderr: each stage of a solve (-v), details (-vv). Before the "
        "command; after it, -v is --variant.",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print only errors (and --json/--format documents); same exit codes."
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from pebdsl import __version__

        print(f"pebdsl {__version__}")
        raise typer.Exit(0)


def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Check, compile, solve and compare local electricity market designs (*.peb)."""
    from pebdsl.clilog import configure

    ctx.call_on_close(configure(verbose, quiet))


ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="local|slurm",
        help="Start a Dask cluster for this run and solve on it: `local` (worker processes "
        "here) or `slurm` (batch jobs through dask-jobqueue); --workers sets its size "
        "(default: the CPUs here). See docs/scale.md.",
    ),
]
ClusterOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cluster-option",
        metavar="KEY=VALUE",
        help="KEY=VALUE for --cluster (slurm: queue, account, walltime, cores, memory, …; "
        "repeatable).",
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        help="Result cache folder: cases solved before are read back, not solved again, "
        "and each case is stored as it finishes (run again to resume a stopped sweep).",
    ),
]
DecomposeOpt = Annotated[
    str | None,
    typer.Option(
        "--decompose",
        metavar="ph",
        help="Solve a design with scenarios by progressive hedging (mpi-sppy: the stochastic "
        "extra) instead of the extensive form, with bounds on the expected cost and their gap.",
    ),
]
IterationsOpt = Annotated[
    int,
    typer.Option(
        "--iterations", min=1, metavar="N", help="With --decompose ph: the iteration limit."
    ),
]
SolverOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="Pyomo backend: any installed Pyomo solver (default highs). HiGHS backend: "
        "its method, simplex | ipm | pdlp (default: HiGHS chooses).",
    ),
]
