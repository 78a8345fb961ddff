"""The `pebdsl` command line (Typer).

Input: file paths and options. Output: exit codes 0 (ok), 1 (design errors, infeasible model,
or warnings under `check --deny-warnings`, an output the OS refused to write (E903), a
`compare` or `sweep` with any failed case), 2 (usage: a missing input file E901, an
`--out`/`-o` target that cannot be used E902); diagnostics on stderr, results on stdout or in
`--out DIR`. Every `PebdslError` is rendered like a compiler; any other exception is a bug and
keeps its traceback. Check-time warnings (W1xx, `pebdsl.resolve.lint`) are rendered the same
way, as `warning[W101]: …`: `check` prints them and exits 0, `solve` and `compare` print them
to stderr and go on.
`--out DIR` is checked before anything is solved and written as one set (fsutil.replace_dir).
Text from designs, data and paths reaches the terminal only through `safetext.terminal_text`
and as rich `Text` (never as markup), so it cannot drive the terminal.
Heavy modules are imported inside the commands so `check` and `fmt` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.safetext import terminal_text

app = typer.Typer(
    name="pebdsl",
    help="Check, compile, solve and compare local electricity market designs (*.peb).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


# Codes that are usage errors: the command line exits 2 for them, as for a bad option.
USAGE_CODES = frozenset({"E901", "E902"})


def _fail(err: PebdslError) -> NoReturn:
    print(err.render(color=_color()), file=sys.stderr)
    n = len(err.diagnostics) + err.truncated
    print(f"\n{n} error{'s' if n != 1 else ''}", file=sys.stderr)
    raise typer.Exit(2 if set(err.codes) <= USAGE_CODES else 1)


def _existing(path: Path) -> Path:
    if not path.is_file():
        print(f"error[E901]: no such file: {terminal_text(str(path))}", file=sys.stderr)
        raise typer.Exit(2)
    return path


def _write_error(path: Path, exc: OSError) -> PebdslError:
    """E903: the OS refused to write an output (read-only, permission, no space, …)."""
    reason = exc.strerror or str(exc)
    return PebdslError(
        error(
            "E903",
            f"cannot write `{path}`: {reason}",
            hints=("nothing was written; an earlier output at this path is unchanged",),
        )
    )


def _check_out(out: Path | None) -> None:
    """E902 / E903 for an `--out` folder before anything is solved (fsutil.check_out_dir), so
    a bad target costs no solve time."""
    if out is None:
        return
    from pebdsl.fsutil import check_out_dir

    try:
        check_out_dir(out)
    except PebdslError as e:
        _fail(e)
    above = next((p for p in [out.absolute(), *out.absolute().parents] if p.exists()), None)
    if above is not None and not os.access(above, os.W_OK | os.X_OK):
        where = out if above == out.absolute() else above
        _fail(_write_error(out, PermissionError(13, f"`{where}` is not writable")))


def _check_out_file(path: Path) -> None:
    """E902 for `-o PATH` naming a folder (a file is wanted)."""
    if path.is_dir():
        _fail(
            PebdslError(
                error(
                    "E902",
                    f"output file `{path}` is an existing folder",
                    hints=("-o names the file to write, e.g. -o model.lp",),
                )
            )
        )


class Backend(StrEnum):
    highs = "highs"
    pyomo = "pyomo"


class Prices(StrEnum):
    midpoint = "midpoint"
    dual = "dual"


PricesOpt = Annotated[
    Prices,
    typer.Option(
        help="Degenerate local prices (a market clearing at a kink): the midpoint of the valid "
        "dual interval, or the solver's dual (skips two extra LP solves). "
        "docs/model.md, Extraction and settlement."
    ),
]


class Emit(StrEnum):
    ir = "ir"
    lp = "lp"
    mps = "mps"
    math = "math"


FilesArg = Annotated[list[Path], typer.Argument(help="Design files (*.peb).")]
FileArg = Annotated[Path, typer.Argument(help="A design file (*.peb).")]
VariantOpt = Annotated[
    str | None, typer.Option("--variant", "-v", help="A variant of the design (default: the base).")
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
    typer.Option("--set", help="An edit applied on top, as in a variant: 'alice.pv.peak = 8 kWp'."),
]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _warn(warnings: Sequence[Diagnostic]) -> None:
    """Print check-time warnings to stderr, like errors, with a count."""
    if warnings:
        print("\n\n".join(w.render(color=_color()) for w in warnings), file=sys.stderr)
        print(f"\n{_plural(len(warnings), 'warning')}", file=sys.stderr)


@app.command()
def check(
    files: FilesArg,
    variant: VariantOpt = None,
    deny_warnings: Annotated[
        bool, typer.Option("--deny-warnings", help="Treat warnings as errors (exit 1).")
    ] = False,
    allow_outside: OutsideOpt = False,
) -> None:
    """Check design files: syntax, names, units and rules. Exit 0 valid (warnings are printed),
    1 errors (or warnings with --deny-warnings), 2 usage.

    Without --variant the base design and every variant are checked; a warning that a variant's
    edits cause on the base's text (a link its `without market` leaves unused) shows only when
    that variant is checked on its own (--variant NAME)."""
    from pebdsl.design import Design
    from pebdsl.load import load, load_all
    from pebdsl.resolve.lint import merge

    errors: list[PebdslError] = []
    warnings: list[Diagnostic] = []
    for f in files:
        _existing(f)
        try:
            designs: dict[str | None, Design] = (
                {variant: load(str(f), variant=variant, allow_outside=allow_outside)}
                if variant
                else load_all(str(f), allow_outside=allow_outside)
            )
        except PebdslError as e:
            errors.append(e)
            continue
        found = merge(designs)
        if deny_warnings and found:
            warnings += [replace(w, severity="error") for w in found]
            continue
        warnings += found
        names = ", ".join("base" if k is None else k for k in designs)
        print(terminal_text(f"ok: {f} ({names})"))
    if errors or (deny_warnings and warnings):
        diags = [d for e in errors for d in e.diagnostics]
        _fail(PebdslError([*diags, *warnings]))
    _warn(warnings)


@app.command()
def fmt(
    files: FilesArg,
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report files that would change (exit 1).")
    ] = False,
) -> None:
    """Format design files in the canonical layout (comments kept, idempotent)."""
    from pebdsl.front.formatter import format_source

    changed = []
    for f in files:
        text = _existing(f).read_text(encoding="utf-8", errors="replace")
        try:
            new = format_source(text, str(f))
        except PebdslError as e:
            _fail(e)
        if new != text:
            changed.append(f)
            if not check_only:
                if not os.access(f, os.W_OK):  # rename would replace it: respect read-only
                    _fail(_write_error(f, PermissionError(13, "the file is read-only")))
                _atomic_write(f, new)
    for f in changed:
        print(terminal_text(f"{'would reformat' if check_only else 'reformatted'} {f}"))
    if check_only and changed:
        raise typer.Exit(1)


@app.command("compile")
def compile_cmd(
    file: FileArg,
    emit: Annotated[Emit, typer.Option("--emit", help="What to write.")] = Emit.lp,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to PATH.")] = None,
    variant: VariantOpt = None,
    sets: SetOpt = None,
    allow_outside: OutsideOpt = False,
) -> None:
    """Compile a design into its model without solving: IR summary, LP or MPS file, or math."""
    from pebdsl.load import load
    from pebdsl.present.emit import emit as _emit

    if output is not None:
        _check_out_file(output)
    try:
        design = load(str(_existing(file)), variant=variant, sets=sets, allow_outside=allow_outside)
        text = _emit(design, emit.value)
    except PebdslError as e:
        _fail(e)
    if output is None:
        sys.stdout.write(terminal_text(text))
    else:
        _atomic_write(output, text)
        print(terminal_text(f"wrote {output}"), file=sys.stderr)


@app.command()
def explain(file: FileArg, variant: VariantOpt = None, allow_outside: OutsideOpt = False) -> None:
    """The formulation of this design as readable math, in its own names and units."""
    from pebdsl.load import load
    from pebdsl.present.explain import explain as _explain

    try:
        print(
            terminal_text(
                _explain(load(str(_existing(file)), variant=variant, allow_outside=allow_outside))
            )
        )
    except PebdslError as e:
        _fail(e)


@app.command()
def solve(
    file: FileArg,
    variant: VariantOpt = None,
    backend: Annotated[Backend, typer.Option(help="Model backend.")] = Backend.highs,
    solver: Annotated[
        str | None,
        typer.Option(
            help="Pyomo backend: any installed Pyomo solver (default highs). HiGHS backend: "
            "its method, simplex | ipm | pdlp (default: HiGHS chooses)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write results.json, CSVs, report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results.json to stdout.")] = False,
    sets: SetOpt = None,
    with_reference: Annotated[
        bool,
        typer.Option(
            "--reference/--no-reference",
            help="With --out, also solve the design's reference variant so the report shows "
            "savings against it.",
        ),
    ] = True,
    prices: PricesOpt = Prices.midpoint,
    allow_outside: OutsideOpt = False,
) -> None:
    """Solve one design (or one variant): results, bills, KPIs and the report."""
    from pebdsl.load import load
    from pebdsl.load import reference as reference_variant
    from pebdsl.present.output import results_json, write_outputs
    from pebdsl.solve import solve as _solve

    argv = "pebdsl " + " ".join(sys.argv[1:])
    _check_out(out)
    try:
        design = load(str(_existing(file)), variant=variant, sets=sets, allow_outside=allow_outside)
        _warn(design.warnings)
        results = _solve(design, backend=backend.value, solver=solver, prices=prices.value)
        if out is not None:
            reference = None
            if with_reference and design.reference and design.reference != design.variant:
                # The same edits apply to the reference, so the savings compare like with like.
                ref_design, skipped = reference_variant(
                    str(file), design.reference, sets or [], allow_outside
                )
                if skipped:
                    print(
                        terminal_text(
                            f"note: the reference `{design.reference}` has nothing for these "
                            "--set edits to change, so it is solved without them: "
                            + ", ".join(f"`{s}`" for s in skipped)
                        ),
                        file=sys.stderr,
                    )
                if ref_design.time == design.time:
                    reference = _solve(
                        ref_design, backend=backend.value, solver=solver, prices=prices.value
                    )
                else:  # e.g. a year-long variant and a one-week reference: costs do not compare
                    print(
                        f"note: the reference `{design.reference}` has another horizon; "
                        "the report shows no savings",
                        file=sys.stderr,
                    )
            _write(out, lambda: write_outputs(results, out, command=argv, reference=reference))
    except PebdslError as e:
        _fail(e)
    doc = results_json(results)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        _print_summary(doc)
        if out is not None:
            print(terminal_text(f"report: {out / 'report.html'}"))


def _write(out: Path, write: Any) -> None:
    """Run `write()`; an OSError (read-only target, no space, …) becomes E903."""
    try:
        write()
    except OSError as e:
        _fail(_write_error(out, e))


def _print_summary(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    obj = doc["objective"]
    title = doc["design"]["title"] + (f" — {doc['variant']}" if doc.get("variant") else "")
    # Design text as Text, never as markup: `[/]` or `[link=…]` in a title is shown as written.
    line = Text(terminal_text(title), style="bold")
    line.append(
        terminal_text(f": {doc['status']}, total cost {obj['value']:.2f} {obj['unit']}"),
        style="",
    )
    console.print(line)
    table = Table("participant", "bill", "grid import kWh", "grid export kWh", "local kWh")
    for name, p in doc.get("participants", {}).items():
        table.add_row(
            Text(terminal_text(name)),
            f"{p['bill']['total']:.2f}",
            f"{p['energy']['grid_import_kwh']:.1f}",
            f"{p['energy']['grid_export_kwh']:.1f}",
            f"{p['energy']['local_bought_kwh']:.1f}",
        )
    console.print(table)


WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Worker processes (default: the CPUs, at most one per solve; 1 for a small run, "
        "where starting workers costs more than it saves). 1 solves in this process.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Address of a Dask scheduler (tcp://host:8786) to solve on instead."),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Start a Dask cluster for this run and solve on it: `local` (worker processes "
        "here) or `slurm` (batch jobs through dask-jobqueue); --workers sets its size "
        "(default: the CPUs here). See docs/scale.md.",
    ),
]
ClusterOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cluster-option",
        help="KEY=VALUE for --cluster (slurm: queue, account, walltime, cores, memory, …; "
        "repeatable).",
    ),
]


@app.command()
def compare(
    files: FilesArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write compare.html and per-variant results.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    backend: Annotated[Backend, typer.Option(help="Model backend.")] = Backend.highs,
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-v",
            help="Compare only these cases (repeatable; `base` is the base design), also "
            "variants written `compare = false`.",
        ),
    ] = None,
    prices: PricesOpt = Prices.midpoint,
    allow_outside: OutsideOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    cluster: ClusterOpt = None,
    cluster_options: ClusterOptionOpt = None,
) -> None:
    """Solve every variant of each file and compare them side by side.

    Variants written `compare = false` (e.g. a year-long one) are left out unless named with
    --variant."""
    from pebdsl.console import print_comparison, progress
    from pebdsl.present.studies import comparison_json, write_comparison
    from pebdsl.study import compare as study
    from pebdsl.study.cluster import solve_on

    argv = "pebdsl " + " ".join(sys.argv[1:])
    _check_out(out)
    try:
        plan = study.plan([str(_existing(f)) for f in files], variants or None, allow_outside)
        n = plan.auto_workers() if workers is None else workers
        with solve_on(scheduler, cluster, workers, cluster_options) as address:
            solve = partial(study.solve_plan, plan, backend.value, prices.value, n, address)
            if as_json:
                comparison = solve()
            else:
                where = address or min(n, max(len(plan.jobs), 1))
                with progress("solving", len(plan.jobs), where) as bar:
                    comparison = solve(on_done=bar)
        if out is not None:
            write_comparison(comparison, out, command=argv)
    except PebdslError as e:
        _fail(e)
    except OSError as e:
        _fail(_write_error(out or Path("."), e))
    _warn(comparison.warnings)
    if as_json:
        print(json.dumps(comparison_json(comparison), indent=2))
    else:
        print_comparison(comparison)
        if out is not None:
            print(terminal_text(f"report: {out / 'compare.html'}"))
    if comparison.failed:
        raise typer.Exit(1)  # the table is printed; the status says not every case solved


@app.command()
def sweep(
    file: FileArg,
    sets: Annotated[
        list[str],
        typer.Option("--set", help="PATH=V1,V2,… e.g. 'alice.pv.peak=4 kWp,8 kWp' (repeatable)."),
    ],
    variant: VariantOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    cluster: ClusterOpt = None,
    cluster_options: ClusterOptionOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write sweep.csv/json.")] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Result cache folder: cases solved before are read back, not solved again, "
            "and each case is stored as it finishes (run again to resume a stopped sweep)."
        ),
    ] = None,
    allow_outside: OutsideOpt = False,
) -> None:
    """Solve the cartesian product of parameter values in parallel (locally or on Dask)."""
    from pebdsl.console import print_sweep, progress
    from pebdsl.present.studies import write_sweep
    from pebdsl.study import sweep as study
    from pebdsl.study.cluster import solve_on

    _check_out(out)
    try:
        planned = study.plan(str(_existing(file)), sets, variant, allow_outside)
        n = planned.auto_workers() if workers is None else workers
        todo = sum(c.design is not None for c in planned.cases)
        with (
            solve_on(scheduler, cluster, workers, cluster_options) as address,
            progress("sweep", todo, address or min(n, max(todo, 1))) as bar,
        ):
            result = study.solve_plan(
                planned, workers=n, scheduler=address, on_done=bar, cache=cache
            )
        if out is not None:
            write_sweep(result, out)
    except PebdslError as e:
        _fail(e)
    except OSError as e:
        _fail(_write_error(out or Path("."), e))
    print_sweep(result)
    if cache is not None:
        hits = sum(c.cached for c in result.cases)
        print(terminal_text(f"{hits} case(s) read from the cache {cache}, the rest solved"))
    if out is not None:
        print(terminal_text(f"wrote {out / 'sweep.csv'} and sweep.json"))
    if result.failed:
        raise typer.Exit(1)  # the table is printed; the status says not every case solved


def _atomic_write(path: Path, text: str) -> None:
    from pebdsl.fsutil import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as e:
        _fail(_write_error(path, e))


def _print_version(value: bool) -> None:
    if value:
        from pebdsl import __version__

        print(f"pebdsl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Check, compile, solve and compare local electricity market designs (*.peb)."""


def main() -> None:
    """Console entry point; usage errors exit 2 (Click's convention)."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
