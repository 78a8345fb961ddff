"""`pebdsl export FILE --to pypsa OUT`: a design written as another tool's model.

Part of the command line: cli.py registers the command that `command(...)` returns, handing in
its own error rendering (`fail`, exit 1, or 2 for usage codes), its E901 file check and its E902
check of an output file, so this module needs nothing else from cli.py. Input: a design file,
an optional variant and `--set` edits, the target (`pypsa`: a netCDF file PyPSA reads,
pebdsl.bridges.pypsa, docs/pypsa.md) and the output path. Output: the file, written whole or not
at all, and `wrote OUT` on stderr. Errors: the design's own (E0xx–E4xx), E906 for each construct
the bridge does not translate, E905 without the `pypsa` extra (exit 2), E902/E903 for the
output path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from pebdsl.cliargs import FileArg, OutsideOpt, SetOpt, VariantOpt
from pebdsl.diagnostics import PebdslError
from pebdsl.safetext import terminal_text


class Target(StrEnum):
    pypsa = "pypsa"


TargetOpt = Annotated[
    Target,
    typer.Option(
        "--to",
        metavar="[pypsa]",
        help="The tool: pypsa (a PyPSA network as netCDF; needs pip install 'pebdsl[pypsa]').",
    ),
]
OutArg = Annotated[Path, typer.Argument(metavar="OUT", help="The file to write (e.g. net.nc).")]


def command(
    fail: Callable[[PebdslError], NoReturn],
    existing: Callable[[Path], Path],
    check_out_file: Callable[[Path], None],
) -> Callable[..., None]:
    """The `export` command, rendering errors through cli.py's `fail`."""

    def export(
        file: FileArg,
        out: OutArg,
        to: TargetOpt = Target.pypsa,
        variant: VariantOpt = None,
        sets: SetOpt = None,
        allow_outside: OutsideOpt = False,
    ) -> None:
        """Write the physical part of a design as a PyPSA network (docs/pypsa.md): buses,
        loads, PV, batteries, grid and block connections. Markets and other constructs the
        bridge does not cover are refused (E906)."""
        from pebdsl.bridges.pypsa import write_netcdf
        from pebdsl.load import load

        check_out_file(out)
        path = existing(file)
        try:
            design: Any = load(str(path), variant=variant, sets=sets, allow_outside=allow_outside)
            write_netcdf(design, out)
        except PebdslError as e:
            fail(e)
        print(terminal_text(f"wrote {out} ({to.value})"), file=sys.stderr)

    return export
