"""pebdsl: a declarative language and compiler for local electricity market designs.

The public API mirrors the pipeline (parse → resolve → lower → solve → settle → report):

    >>> import pebdsl
    >>> design = pebdsl.load("designs/sunny_street.peb")            # validated Design
    >>> designs = pebdsl.load_all("designs/sunny_street.peb")       # {None: base, "no_trade": …}
    >>> results = pebdsl.solve(design)                              # Results (bills, KPIs, …)
    >>> design.warnings                                             # check-time warnings (W1xx)
    >>> results.notes                                               # post-solve notes (N1xx)

Heavy modules (Pyomo, highspy, pandas-based reporting) are imported lazily, so `pebdsl check`
and `pebdsl fmt` start fast.
"""

from __future__ import annotations

from typing import Any

from pebdsl.diagnostics import Diagnostic, PebdslError

# Bound eagerly: once imported, the submodules `pebdsl.load` and `pebdsl.solve` would otherwise
# hide the functions of the same name. pebdsl/solve.py imports its heavy parts lazily.
from pebdsl.load import load, load_all
from pebdsl.solve import solve

__version__ = "0.1.0"

__all__ = ["Diagnostic", "PebdslError", "__version__", "load", "load_all", "parse", "solve"]


def parse(text: str, path: str = "<string>") -> Any:
    """Parse design text into its syntax tree (`pebdsl.front.syntax.File`)."""
    from pebdsl.front.parser import parse as _parse

    return _parse(text, path)
