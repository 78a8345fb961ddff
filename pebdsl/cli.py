"""The `pebdsl` command line (Typer).

Input: file paths and options. Output: exit codes 0 (ok), 1 (design errors, infeasible model,
a solve stopped by its time limit E506, a refused solver option E507, or warnings under
`check --deny-warnings`, an output the OS refused to write (E903), a `compare` or `sweep`
with any failed case), 2 (usage: a missing input file E901, an
`--out`/`-o` target that cannot be used E902, `new NAME` on an existing file E904);
diagnostics on stderr, results on stdout or in `--out DIR`; `check --json` / `--format sarif`
print the diagnostics as one JSON document on stdout instead (pebdsl.present.check_report).
Conventions: `-h` and `--help` everywhere, plain help with values named by metavar (FILE, DIR,
NAME), shell completion (`--install-completion`), numbers printed with thousands separators.
Every `PebdslError` is rendered like a compiler; any other exception is a bug and keeps its
traceback. Check-time warnings (W1xx, `pebdsl.resolve.lint`) are rendered the same
way, as `warning[W101]: …`: `check` prints them and exits 0, `solve` and `compare` print them
to stderr and go on.
`--out DIR` is checked before anything is solved and written as one set (fsutil.replace_dir).
Design text reaches the terminal only through `safetext.terminal_text` and as rich `Text`.
Heavy modules are imported inside the commands so `check` and `fmt` start fast; a text `check`
from the console script does not come here at all (pebdsl/entry.py). Root options `-v`/`-q`
and the progress line of `solve`: pebdsl/clilog.py; solver options: pebdsl/clisolve.py.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from pebdsl.cliargs import (
    AggregateOpt,
    CacheOpt,
    ClusterOpt,
    ClusterOptionOpt,
    DecomposeOpt,
    FileArg,
    FilesArg,
    IterationsOpt,
    LookaheadOpt,
    NoCsvOpt,
    OutsideOpt,
    PricesOpt,
    RollingOpt,
    SchedulerOpt,
    SetOpt,
    SolverLogOpt,
    SolverOpt,
    SolverOptionOpt,
    ThreadsOpt,
    TimeLimitOpt,
    VariantOpt,
    WarmStartOpt,
    WorkersOpt,
    root,
)
from pebdsl.clicheck import USAGE_CODES, check_text, existing, fail_code
from pebdsl.clicheck import print_warnings as _warn
from pebdsl.cliexport import command as export_command
from pebdsl.clilog import begin, end_progress, progress
from pebdsl.clisolve import solve_reference, solve_uncertain, solver_options, typical_days
from pebdsl.console import Backend, CheckFormat, Emit, Prices, RootGroup
from pebdsl.console import HelpCommand as _Command
from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.safetext import terminal_text

app = typer.Typer(
    name="pebdsl",
    help="Check, compile, solve and compare local electricity market designs (*.peb).",
    no_args_is_help=True,
    # `pebdsl --install-completion` / `--show-completion`: bash, zsh, fish, PowerShell.
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help (as click prints it): flags without a `<bool>`, values by their metavar.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=RootGroup,  # -q/--quiet/--verbose also after the command
)


def _fail(err: PebdslError) -> NoReturn:
    end_progress()
    raise typer.Exit(fail_code(err))


def _existing(path: Path) -> Path:
    if not existing(path):
        raise typer.Exit(2)
    return path


def _write_error(path: Path, exc: OSError) -> PebdslError:
    from pebdsl.fsutil import write_error

    return write_error(path, exc)


def _check_out(out: Path | None) -> None:
    """E902 / E903 for an `--out` folder before anything is solved (fsutil.check_out_target)."""
    from pebdsl.fsutil import check_out_target

    try:
        if out is not None:
            check_out_target(out)
    except PebdslError as e:
        _fail(e)


def _check_out_file(path: Path) -> None:
    """E902 for `-o PATH` naming a folder (a file is wanted)."""
    from pebdsl.fsutil import check_out_file

    try:
        check_out_file(path)
    except PebdslError as e:
        _fail(e)


@app.command(cls=_Command)
def check(
    files: FilesArg,
    variant: VariantOpt = None,
    deny_warnings: Annotated[
        bool, typer.Option("--deny-warnings", help="Treat warnings as errors (exit 1).")
    ] = False,
    allow_outside: OutsideOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            metavar="[text|json|sarif]",
            help="text: compiler-style on stderr; json: pebdsl's document (docs/cli.md) on "
            "stdout; sarif: SARIF 2.1.0 on stdout, for editors and CI. Same exit codes.",
        ),
    ] = CheckFormat.text,
) -> None:
    """Check design files: syntax, names, units and rules. Exit 0 valid (warnings are printed),
    1 errors (or warnings with --deny-warnings), 2 usage.

    Without --variant the base design and every variant are checked; a warning that a variant's
    edits cause on the base's text (a link its `without market` leaves unused) shows only when
    that variant is checked on its own (--variant NAME)."""
    from pebdsl import __version__
    from pebdsl.console import print_check_document
    from pebdsl.load import check as check_file

    structured = CheckFormat.json if as_json else fmt
    if structured is CheckFormat.text:  # shared with the fast path, pebdsl/entry.py
        raise typer.Exit(check_text(files, variant, deny_warnings, allow_outside))
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    checked: list[tuple[str, list[str]]] = []
    for f in files:
        if str(f) == "-":  # the design on standard input (`load.check` reads it)
            pass
        elif not f.is_file():  # a document says so, as E901 without a span (still exit 2)
            errors.append(error("E901", f"no such file: {f}"))
            checked.append((str(f), []))
            continue
        try:
            cases, found = check_file(str(f), variant, allow_outside=allow_outside)
        except PebdslError as e:
            errors += e.diagnostics
            checked.append((str(f), []))
            continue
        checked.append((str(f), cases))
        if deny_warnings:
            errors += [replace(w, severity="error") for w in found]
        else:
            warnings += found
    print_check_document(structured.value, checked, [*errors, *warnings], __version__)
    if errors:
        raise typer.Exit(2 if {d.code for d in errors} & USAGE_CODES else 1)


@app.command(cls=_Command)
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


@app.command("compile", cls=_Command)
def compile_cmd(
    file: FileArg,
    emit: Annotated[
        Emit, typer.Option("--emit", metavar="[ir|lp|mps|math]", help="What to write.")
    ] = Emit.lp,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write to FILE.")
    ] = None,
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


@app.command(cls=_Command)
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


app.command("export", cls=_Command)(export_command(_fail, _existing, _check_out_file))


@app.command(cls=_Command)
@progress("solving")
def solve(
    file: FileArg,
    variant: VariantOpt = None,
    backend: Annotated[
        Backend, typer.Option(metavar="[highs|pyomo]", help="Model backend.")
    ] = Backend.highs,
    solver: SolverOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Write results.json, CSVs, report.html."),
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
    no_csv: NoCsvOpt = False,
    rolling: RollingOpt = None,
    lookahead: LookaheadOpt = "0h",
    decompose: DecomposeOpt = None,
    iterations: IterationsOpt = 50,
    time_limit: TimeLimitOpt = None,
    threads: ThreadsOpt = None,
    solver_option: SolverOptionOpt = None,
    solver_log: SolverLogOpt = None,
    aggregate: AggregateOpt = None,
    warm_start: WarmStartOpt = "auto",
) -> None:
    """Solve one design (or one variant): results, bills, KPIs and the report."""
    from pebdsl.load import load
    from pebdsl.present.output import results_json, write_outputs
    from pebdsl.solve import solve as _solve

    argv = "pebdsl " + " ".join(sys.argv[1:])
    _check_out(out)
    try:
        opts = solver_options(time_limit, threads, solver_option, solver_log)
        design = load(str(_existing(file)), variant=variant, sets=sets, allow_outside=allow_outside)
        _warn(design.warnings)
        design = typical_days(design, aggregate, rolling)
        if rolling is not None or decompose is not None or design.stochastic is not None:
            how = (rolling, lookahead, decompose, iterations, opts, prices.value)
            solve_uncertain(design, how, backend.value, solver, out, as_json, argv)
            return
        run = partial(_solve, backend=backend.value, solver=solver, prices=prices.value)
        run = partial(run, solver_options=opts, warm=warm_start)
        results = run(design)
        if out is not None:
            reference = None
            if with_reference and design.reference and design.reference != design.variant:
                reference = solve_reference(file, design, sets or [], allow_outside, run)
            begin("write", str(out))
            _write(
                out,
                lambda: write_outputs(
                    results, out, command=argv, reference=reference, csv=not no_csv
                ),
            )
    except PebdslError as e:
        _fail(e)
    end_progress()
    doc = results_json(results)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        from pebdsl.console import print_summary

        print_summary(doc)
        if out is not None:
            print(terminal_text(f"report: {out / 'report.html'}"))


def _write(out: Path, write: Any) -> None:
    """Run `write()`; an OSError (read-only target, no space, …) becomes E903."""
    try:
        write()
    except OSError as e:
        _fail(_write_error(out, e))


@app.command(cls=_Command)
def compare(
    files: FilesArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Write compare.html and per-variant results."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    backend: Annotated[
        Backend, typer.Option(metavar="[highs|pyomo]", help="Model backend.")
    ] = Backend.highs,
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-v",
            metavar="NAME",
            help="Compare only these cases (repeatable; `base` is the base design), also "
            "variants written `compare = false`.",
        ),
    ] = None,
    prices: PricesOpt = Prices.midpoint,
    allow_outside: OutsideOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Print every column of the table, however wide (default: fit the terminal).",
        ),
    ] = False,
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
        print_comparison(comparison, wide=wide)
        if out is not None:
            print(terminal_text(f"report: {out / 'compare.html'}"))
    if comparison.failed:
        raise typer.Exit(1)  # the table is printed; the status says not every case solved


@app.command(cls=_Command)
def tailor(
    file: FileArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the Pareto data, the page, recommended.peb and the "
            "case cache (a rerun solves only the cases not yet there).",
        ),
    ] = Path("tailor-out"),
    backend: Annotated[Backend, typer.Option(help="Model backend.")] = Backend.highs,
    prices: PricesOpt = Prices.midpoint,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    max_cases: Annotated[
        int, typer.Option("--max-cases", help="Solve a random sample of this many (seeded).")
    ] = 64,
) -> None:
    """Solve every combination of the design's `choice`s and recommend one.

    Prints the ranking and the reasons, and writes tailor.json, tailor.parquet, tailor.html and
    recommended.peb into --out (docs/tailor.md)."""
    from pebdsl.console import print_tailoring, progress
    from pebdsl.present.tailor import write_tailoring
    from pebdsl.study import tailor as study

    _check_out(out)
    be, pr = backend.value, prices.value
    try:
        t = study.plan(str(_existing(file)), max_cases, backend=be, prices=pr)
        todo, n = study.pending(t, out / "cases", workers)
        with progress("tailoring", todo, scheduler or max(1, min(n, todo))) as bar:
            study.solve_space(
                t, out / "cases", workers=n, scheduler=scheduler, on_done=bar, backend=be, prices=pr
            )
        write_tailoring(t, out, command="pebdsl " + " ".join(sys.argv[1:]))
    except PebdslError as e:
        _fail(e)
    except OSError as e:
        _fail(_write_error(out, e))
    print_tailoring(t, out=out)
    if t.recommended is None:
        raise typer.Exit(1)


@app.command(cls=_Command)
def sweep(
    file: FileArg,
    sets: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="EDIT",
            help="PATH=V1,V2,… e.g. 'alice.pv.peak=4 kWp,8 kWp' (repeatable).",
        ),
    ],
    variant: VariantOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    cluster: ClusterOpt = None,
    cluster_options: ClusterOptionOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="DIR", help="Write sweep.csv/json.")
    ] = None,
    cache: CacheOpt = None,
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


@app.command(cls=_Command)
def new(
    name: Annotated[Path, typer.Argument(metavar="NAME", help="Writes NAME.peb.")],
) -> None:
    """Write a commented starter design NAME.peb that checks and solves; never overwrites."""
    from pebdsl.present.starter import write_starter

    try:
        path = write_starter(name)
    except PebdslError as e:
        _fail(e)
    except OSError as e:
        _fail(_write_error(name, e))
    print(terminal_text(f"wrote {path}; next: pebdsl check {path}"))


def _atomic_write(path: Path, text: str) -> None:
    from pebdsl.fsutil import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as e:
        _fail(_write_error(path, e))


@app.command()
def lsp() -> None:
    """Serve the language server over stdin/stdout (for editors; needs the `lsp` extra)."""
    try:
        from pebdsl.lsp import serve

        serve()
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        hint = ("pip install 'pebdsl[lsp]'",)  # E905 as for every optional extra
        _fail(PebdslError(error("E905", "`pebdsl lsp` needs pygls, not installed", hints=hint)))


app.callback()(root)


def main() -> None:
    """Console entry point; usage errors exit 2 (Click's convention)."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
