"""The console entry point (`pebdsl`, `python -m pebdsl`), and `check` without Typer.

Input: the command line. `pebdsl check FILE… [--variant NAME] [--deny-warnings]
[--allow-outside] [-q]` (the text format, the everyday case) is run here without importing
Typer, Click or pydantic (about a third of the start-up of `check`: benchmarks/check_speed.py);
any other command line, and any `check` option not listed here (`--json`, `--format`, `-h`,
`-`), goes to the Typer app (`pebdsl.cli.main`), which behaves the same for these. Output and
exit codes are those of cli.py's `check`: `ok: FILE (cases)` on stdout, diagnostics and
warnings on stderr, exit 0 valid, 1 errors (or warnings under --deny-warnings), 2 usage (a
missing file, E901). The rendering helpers (`fail_code`, `print_warnings`, `existing`,
`check_text`) are shared with cli.py so the two paths cannot drift.
Part of the command line layer; raises nothing (it exits).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pebdsl.clilog import configure, quiet
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
        if not existing(f):
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


def _fast_check(args: list[str]) -> int | None:
    """Run `check ARGS` here when every argument is one this path knows; None otherwise."""
    files: list[Path] = []
    flags: set[str] = set()
    variant: str | None = None
    it = iter(args)
    for a in it:
        if a in ("--deny-warnings", "--allow-outside", "-q", "--quiet"):
            flags.add(a)
        elif a in ("-v", "--variant"):
            variant = next(it, None)
            if variant is None or variant.startswith("-"):
                return None
        elif a.startswith("--variant="):
            variant = a.split("=", 1)[1]
        elif a.startswith("-"):  # --json, --format, -h, `-` (stdin), …: Typer's
            return None
        else:
            files.append(Path(a))
    if not files:
        return None
    configure(0, bool(flags & {"-q", "--quiet"}))
    return check_text(files, variant, "--deny-warnings" in flags, "--allow-outside" in flags)


def main() -> None:
    """The `pebdsl` command: `check` in text form here, everything else through Typer."""
    args = sys.argv[1:]
    if args[:1] == ["check"]:
        try:
            code = _fast_check(args[1:])
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        if code is not None:
            sys.exit(code)
    from pebdsl.cli import main as typer_main

    typer_main()


if __name__ == "__main__":  # pragma: no cover - `python -m pebdsl` runs pebdsl/__main__.py
    main()
