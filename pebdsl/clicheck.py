"""What `pebdsl check` prints in the text format, and how the command line renders errors.

Shared by the Typer app (pebdsl/cli.py) and the console entry point's fast path
(pebdsl/entry.py), so the two cannot drift; imports neither Typer nor rich. `check_text` is
the whole text `check`: `ok: FILE (cases)` on stdout, diagnostics and warnings on stderr, the
exit code returned (0 valid, 1 errors or warnings under --deny-warnings, 2 a missing file E901).
`fail_code` prints a `PebdslError` like a compiler and returns its exit code (2 for the usage
codes E901, E902, E904, E905, else 1); `print_warnings` prints W1xx (not under -q).
Raises nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pebdsl.clilog import quiet
from pebdsl.safetext import terminal_text

if TYPE_CHECKING:
    from pebdsl.diagnostics import Diagnostic, PebdslError

# Codes that are usage errors: the command line exits 2 for them, as for a bad option.
USAGE_CODES = frozenset({"E901", "E902", "E904", "E905"})


def color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def fail_code(err: PebdslError) -> int:
    """Print `err` like a compiler, with a count, on stderr; the exit code it calls for."""
    print(err.render(color=color()), file=sys.stderr)
    n = len(err.diagnostics) + err.truncated
    print(f"\n{n} error{'s' if n != 1 else ''}", file=sys.stderr)
    return 2 if set(err.codes) <= USAGE_CODES else 1


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def print_warnings(warnings: Sequence[Diagnostic]) -> None:
    """Print check-time warnings to stderr, like errors, with a count (not under -q)."""
    if warnings and not quiet():
        print("\n\n".join(w.render(color=color()) for w in warnings), file=sys.stderr)
        print(f"\n{plural(len(warnings), 'warning')}", file=sys.stderr)


def existing(path: Path) -> bool:
    """Whether `path` is a file; E901 on stderr when not (the caller exits 2)."""
    if path.is_file():
        return True
    print(f"error[E901]: no such file: {terminal_text(str(path))}", file=sys.stderr)
    return False


def check_text(
    files: Sequence[Path], variant: str | None, deny_warnings: bool, allow_outside: bool
) -> int:
    """`pebdsl check` in the text format: the exit code (see the module docstring)."""
    from pebdsl.diagnostics import PebdslError
    from pebdsl.load import check as check_file

    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for f in files:
        if str(f) != "-" and not existing(f):  # `-`: the design on stdin (load.check)
            return 2
        try:
            cases, found = check_file(str(f), variant, allow_outside=allow_outside)
        except PebdslError as e:
            errors += e.diagnostics
            continue
        if deny_warnings:
            errors += [replace(w, severity="error") for w in found]
        else:
            warnings += found
        if not (deny_warnings and found):
            print(terminal_text(f"ok: {f} ({', '.join(cases)})"))
    if errors:
        return fail_code(PebdslError(errors))
    print_warnings(warnings)
    return 0


_FLAGS = {"--deny-warnings": "deny_warnings", "--allow-outside": "allow_outside"}
