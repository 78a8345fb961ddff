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

from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import Diagnostic, PebdslError

# Bound eagerly: once imported, the submodule `pebdsl.load` would otherwise hide the function.
from pebdsl.load import load, load_all

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results

__all__ = ["Diagnostic", "PebdslError", "__version__", "load", "load_all", "parse", "solve"]


def parse(text: str, path: str = "<string>") -> Any:
    """Parse design text into its syntax tree (`pebdsl.front.syntax.File`)."""
    from pebdsl.front.parser import parse as _parse

    return _parse(text, path)


def solve(
    design: Design, backend: str = "highs", solver: str | None = None, prices: str = "midpoint"
) -> Results:
    """Compile, solve, settle and score one design. `prices`: how degenerate local prices are
    chosen, "midpoint" of the valid dual interval (the default) or "dual" (the solver's pick)."""
    from pebdsl.pipeline import solve as _solve

    return _solve(design, backend=backend, solver=solver, prices=prices)
