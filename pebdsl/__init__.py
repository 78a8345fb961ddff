"""pebdsl: a declarative language and compiler for local electricity market designs.

The public API mirrors the pipeline (parse → resolve → lower → solve → settle → report):

    >>> import pebdsl
    >>> design = pebdsl.load("designs/sunny_street.peb")            # validated Design
    >>> design = pebdsl.loads(text, data={"home": series})          # from text, in-memory data
    >>> designs = pebdsl.load_all("designs/sunny_street.peb")       # {None: base, "no_trade": …}
    >>> results = pebdsl.solve(design)                              # Results (bills, KPIs, …)
    >>> design.warnings                                             # check-time warnings (W1xx)
    >>> results.notes                                               # post-solve notes (N1xx)
    >>> results.to_xarray(); results.to_netcdf("run.nc")            # (pebdsl[xarray])
    >>> pebdsl.read_results("out/sunny_street")                     # a results folder, reloaded
    >>> pebdsl.compare(["a.peb"]).to_frame(); pebdsl.sweep("a.peb", sets).to_frame()

Logging: module loggers under `pebdsl` (a `NullHandler` here, so nothing shows unless you
configure logging; `logging.basicConfig(level=logging.INFO)` shows each stage of a solve).
Solver options: `pebdsl.solve(design, solver_options={"time_limit": 60, "threads": 2,
"log_file": "highs.log"})`, any HiGHS option by name (docs/cli.md, "Solver options");
`warm="off"` (or "auto", "4d") sets the simplex's temporal warm start (docs/scale.md).

Heavy modules (Pyomo, highspy, pandas-based reporting) are imported lazily, so `pebdsl check`
and `pebdsl fmt` start fast.
"""

from __future__ import annotations

import logging
from typing import Any

from pebdsl.diagnostics import Diagnostic, PebdslError

# Bound eagerly: once imported, the submodules `pebdsl.load` and `pebdsl.solve` would otherwise
# hide the functions of the same name. pebdsl/solve.py imports its heavy parts lazily.
from pebdsl.load import load, load_all, loads
from pebdsl.solve import solve

__version__ = "0.1.0"

# The library logs through module loggers under `pebdsl` (pebdsl/logs.py) and prints nothing:
# without a handler of the user's own, nothing is shown (not even warnings).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Diagnostic",
    "PebdslError",
    "__version__",
    "compare",
    "load",
    "load_all",
    "loads",
    "parse",
    "read_results",
    "solve",
    "sweep",
]


def parse(text: str, path: str = "<string>") -> Any:
    """Parse design text into its syntax tree (`pebdsl.front.syntax.File`)."""
    from pebdsl.front.parser import parse as _parse

    return _parse(text, path)


def read_results(folder: Any, design: Any = None, **kwargs: Any) -> Any:
    """A results folder (`results.json` + Parquet, as `pebdsl solve` writes it) as `Results`,
    without solving. `design`: the Design solved (default: rebuilt from the text results.json
    keeps); keywords `data`, `base_dir`, `allow_outside` as for `loads`
    (`pebdsl.present.reload.read_results`)."""
    from pebdsl.present.reload import read_results as _read

    return _read(folder, design, **kwargs)


def compare(paths: Any, *args: Any, **kwargs: Any) -> Any:
    """Solve every variant of the design files and set them side by side: a `Comparison`
    (`pebdsl.study.compare.compare`; `.to_frame()` for a DataFrame)."""
    from pebdsl.study.compare import compare as _compare

    return _compare([paths] if isinstance(paths, str) else paths, *args, **kwargs)


def sweep(path: str, sets: Any, *args: Any, **kwargs: Any) -> Any:
    """Solve a design over the grid of `--set` values: a `Sweep` (`pebdsl.study.sweep.sweep`;
    `.to_frame()` for a DataFrame)."""
    from pebdsl.study.sweep import sweep as _sweep

    return _sweep(path, sets, *args, **kwargs)
