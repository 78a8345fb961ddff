"""Solver options: a time limit, threads, the solver's own log, and any option by name.

Input: a mapping of option names to values, as `pebdsl.solve(..., solver_options={...})` or
the command line (`--time-limit`, `--threads`, `--solver-log`, `--solver-option KEY=VALUE`)
give it. The names are HiGHS's own (`time_limit` in seconds, `threads`, `log_file`, and any
other HiGHS option such as `mip_rel_gap` or `presolve`); values may be text ("10", "off"),
which HiGHS converts to the option's type. Output: `apply_highs(h, options)` sets them on a
HiGHS instance (`log_file` also turns HiGHS's log on, into the file only, never the console);
`pyomo_options(solver, options)` translates them for a Pyomo `SolverFactory` solver (its own
names for the time limit and threads; `log_file` goes to `solve(logfile=…)`).
Raises PebdslError E507 for an option HiGHS does not know or a value it refuses (with the
closest option names as a hint); `check_highs(options)` raises it before anything is solved.
A leaf of the backends room: imports highspy lazily, nothing else of the room.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pebdsl.diagnostics import PebdslError, error

# Options that decide where HiGHS writes its log: set by `log_file`, never by the caller, so
# a solve stays silent on the console (the CLI's output and progress line own the terminal).
_LOG_OWNED = ("output_flag", "log_to_console")

# The time limit and thread count under each Pyomo solver's own option names (others: as given).
_PYOMO_NAMES: dict[str, dict[str, str]] = {
    "glpk": {"time_limit": "tmlim"},
    "cbc": {"time_limit": "sec", "threads": "threads"},
    "gurobi": {"time_limit": "TimeLimit", "threads": "Threads"},
    "cplex": {"time_limit": "timelimit", "threads": "threads"},
    "ipopt": {"time_limit": "max_cpu_time"},
    "appsi_highs": {},
}


def _option_error(message: str, hints: tuple[str, ...] = ()) -> PebdslError:
    return PebdslError(error("E507", message, hints=hints))


def apply_highs(h: Any, options: Mapping[str, Any], solving: bool = True) -> None:
    """Set `options` on the HiGHS instance `h` (E507 for one it refuses); `solving` False
    only checks them (the thread pool is left alone)."""
    import highspy

    for key, value in options.items():
        if key in _LOG_OWNED:
            raise _option_error(
                f"the HiGHS option `{key}` is set by pebdsl",
                ("write the solver's log to a file with --solver-log FILE (log_file=FILE)",),
            )
        if key == "log_file":
            continue
        if key == "threads" and solving:
            # HiGHS runs one thread pool per process, made at the first solve; a different
            # count is refused (kError at run) unless the pool is made anew.
            highspy.Highs.resetThreadScheduler(True)  # True: wait for the old pool's threads
        if h.setOptionValue(key, value) != highspy.HighsStatus.kError:
            continue
        names = sorted(n for n in dir(h.getOptions()) if not n.startswith("_"))
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            raise _option_error(
                f"HiGHS has no option `{key}`",
                (
                    f"did you mean {' or '.join(f'`{c}`' for c in close)}?"
                    if close
                    else "the HiGHS documentation lists its options (highs.dev, Options)",
                ),
            )
        raise _option_error(f"HiGHS refused the value `{value}` for its option `{key}`")
    log_file = options.get("log_file")
    if log_file and solving:
        # The log goes to the file only; HiGHS appends to it, so each solve's log follows on.
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(log_file))
        h.setOptionValue("output_flag", True)


def check_highs(options: Mapping[str, Any]) -> None:
    """Raise E507 now (before a long lower and build) for an option HiGHS would refuse."""
    if not options:
        return
    from pebdsl.backends.session import new_highs

    apply_highs(new_highs(), options, solving=False)


def pyomo_options(solver: str, options: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the options under `solver`'s own names, the log file) for a Pyomo SolverFactory."""
    names = _PYOMO_NAMES.get(solver, {})
    out = {names.get(k, k): v for k, v in options.items() if k != "log_file"}
    log = options.get("log_file")
    return out, (str(log) if log else None)


def parse_pairs(pairs: list[str] | None) -> dict[str, str]:
    """`KEY=VALUE` texts (the command line's --solver-option) as a mapping; E507 otherwise."""
    out: dict[str, str] = {}
    for text in pairs or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise _option_error(
                f"--solver-option takes KEY=VALUE, not `{text}`",
                ("e.g. --solver-option mip_rel_gap=1e-4",),
            )
        out[key.strip()] = value.strip()
    return out
