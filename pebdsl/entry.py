"""The console entry point (`pebdsl`, `python -m pebdsl`), and `check` without Typer.

Input: the command line. `pebdsl check FILE… [--variant NAME] [--deny-warnings]
[--allow-outside] [-q]` (the text format, the everyday case) is run here without importing
Typer, Click or pydantic (about a third of the start-up of `check`: benchmarks/check_speed.py);
any other command line, and any `check` option not listed here (`--json`, `--format`, `-h`,
`-`), goes to the Typer app (`pebdsl.cli.main`), which behaves the same for these. Output and
exit codes are those of cli.py's `check`: `ok: FILE (cases)` on stdout, diagnostics and
warnings on stderr, exit 0 valid, 1 errors (or warnings under --deny-warnings), 2 usage (a
missing file, E901): `check_text` of pebdsl/clicheck.py, which cli.py's `check` runs too, so
the two paths cannot drift.
Part of the command line layer; raises nothing (it exits).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pebdsl.clicheck import check_text
from pebdsl.clilog import configure


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
