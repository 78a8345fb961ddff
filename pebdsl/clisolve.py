"""What `pebdsl solve` runs besides the plain solve: the design's reference variant (for the
savings), the typical days of `--aggregate` (pebdsl/aggregate.py), and solves under
uncertainty: `--rolling` (limited foresight; over forecasts for a design with scenarios),
`--decompose ph` (progressive hedging through mpi-sppy, with bounds) or a design with scenarios
(the extensive form of a two-stage stochastic design), docs/stochastic.md.

Called by pebdsl/cli.py's `solve`; prints through pebdsl.console and writes through
pebdsl.present.stochastic. Raises PebdslError as the solves do (the caller renders it), and
E307 for `--decompose` with another method than `ph` or together with `--rolling`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pebdsl.clilog import end_progress, quiet
from pebdsl.diagnostics import PebdslError, error
from pebdsl.fsutil import write_error
from pebdsl.safetext import terminal_text


def _write(out: Path, write: Any) -> None:
    """Run `write()`; an OSError (read-only target, no space, …) becomes E903."""
    try:
        write()
    except OSError as e:
        raise write_error(out, e) from None


def typical_days(design: Any, text: str | None, rolling: str | None) -> Any:
    """`solve --aggregate Nd`: the design on N typical days (pebdsl/aggregate.py); the design
    itself without the option. E604 with --rolling (windows of typical days mean nothing)."""
    if text is None:
        return design
    from pebdsl.aggregate import aggregate, refuse

    if rolling is not None:
        raise refuse("windows of --rolling (use one or the other)")
    return aggregate(design, text)


def solve_uncertain(
    design: Any,
    how: tuple[str | None, str, str | None, int, dict[str, Any], str],
    backend: str,
    solver: str | None,
    out: Path | None,
    as_json: bool,
    argv: str,
) -> None:
    """`--rolling` (limited foresight), `--decompose ph` or a design with scenarios (the
    extensive form): docs/stochastic.md. `how`: (rolling period, lookahead, decomposition
    method, its iteration limit, solver options, the price rule of the scenarios' degenerate
    local prices); solver options do not reach these solves
    yet, so they are refused (E507) rather than ignored."""
    from pebdsl import console
    from pebdsl.present import stochastic as present
    from pebdsl.stochastic import solve_rolling, solve_stochastic
    from pebdsl.stochastic.rolling import hours_of

    period, lookahead, method, iterations, options, prices = how
    if options:
        raise PebdslError(
            error(
                "E507",
                "solver options (--time-limit, --threads, --solver-option, --solver-log) do "
                "not reach rolling or stochastic solves yet",
                hints=("solve without them, or solve a variant without scenarios",),
            )
        )
    if method is not None:
        _decompose(design, method, iterations, period, out, as_json, argv)
        return
    if period is not None:
        hours = hours_of(period, "--rolling"), hours_of(lookahead, "--lookahead")
        roll = solve_rolling(design, *hours, backend, solver)
        if out is not None:
            _write(out, lambda: present.write_rolling(roll, design, out, command=argv))
        end_progress()  # before anything is printed
        if as_json:
            print(json.dumps(present.rolling_json(roll, design), indent=2))
        else:
            console.print_rolling(roll, design)
        return
    r = solve_stochastic(design, backend=backend, solver=solver, prices=prices)
    if out is not None:
        _write(out, lambda: present.write_stochastic(r, design, out, command=argv))
    end_progress()
    if as_json:
        print(json.dumps(present.stochastic_json(r, design), indent=2))
        return
    console.print_stochastic(r, design, present.value_in_words(r))
    if out is not None:
        print(terminal_text(f"report: {out / 'report.html'}"))


def _decompose(
    design: Any,
    method: str,
    iterations: int,
    period: str | None,
    out: Path | None,
    as_json: bool,
    argv: str,
) -> None:
    """`--decompose ph`: progressive hedging (pebdsl.stochastic.decompose) and its bounds."""
    from pebdsl import console
    from pebdsl.diagnostics import PebdslError, error
    from pebdsl.present import stochastic as present

    if method != "ph" or period is not None:
        what = f"`--decompose {method}`" if method != "ph" else "--decompose with --rolling"
        raise PebdslError(
            error(
                "E307",
                f"{what} is not a way to solve",
                hints=("--decompose ph (progressive hedging), without --rolling",),
            )
        )
    from pebdsl.stochastic.decompose import solve_decomposed

    dec = solve_decomposed(design, max_iterations=iterations)
    if out is not None:
        _write(out, lambda: present.write_decomposed(dec, design, out, command=argv))
    if as_json:
        print(json.dumps(present.decomposed_json(dec, design), indent=2))
    else:
        console.print_decomposed(dec, design)


def solve_reference(file: Path, design: Any, sets: list[str], allow_outside: bool, run: Any) -> Any:
    """The results of `design`'s reference variant (None when its horizon differs: the costs
    would not compare), solved by `run` with the same `--set` edits so the savings compare
    like with like; notes on stderr name the edits it cannot take."""
    from pebdsl.load import reference as reference_variant

    ref_design, skipped = reference_variant(str(file), design.reference, sets, allow_outside)
    if skipped and not quiet():
        print(
            terminal_text(
                f"note: the reference `{design.reference}` has nothing for these "
                "--set edits to change, so it is solved without them: "
                + ", ".join(f"`{s}`" for s in skipped)
            ),
            file=sys.stderr,
        )
    if ref_design.time == design.time:
        return run(ref_design)
    # e.g. a year-long variant and a one-week reference: costs do not compare
    if not quiet():
        print(
            f"note: the reference `{design.reference}` has another horizon; "
            "the report shows no savings",
            file=sys.stderr,
        )
    return None


def solver_options(
    time_limit: float | None, threads: int | None, pairs: list[str] | None, log: Path | None
) -> dict[str, Any]:
    """The solver options of `solve`'s --time-limit, --threads, --solver-option KEY=VALUE and
    --solver-log FILE (HiGHS's names: backends/options.py); FILE is emptied first, so it holds
    this run's log only (HiGHS appends). E507 for a malformed KEY=VALUE, E903 for a FILE that
    cannot be written."""
    from pebdsl.backends.options import parse_pairs

    opts: dict[str, Any] = dict(parse_pairs(pairs))
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    if threads is not None:
        opts["threads"] = int(threads)
    if log is not None:
        try:
            log.write_text("", encoding="utf-8")
        except OSError as e:
            raise write_error(log, e) from None
        opts["log_file"] = str(log)
    return opts
