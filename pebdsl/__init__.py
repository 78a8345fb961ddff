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

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import Diagnostic, PebdslError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results

__all__ = ["Diagnostic", "PebdslError", "__version__", "load", "load_all", "parse", "solve"]


def parse(text: str, path: str = "<string>") -> Any:
    """Parse design text into its syntax tree (`pebdsl.front.syntax.File`)."""
    from pebdsl.front.parser import parse as _parse

    return _parse(text, path)


def load(
    path: str,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
) -> Design:
    """Read, check and resolve a design file; `variant` picks one alternative (None = base).

    `allow_outside=True` lets `csv()` read files outside the design file's folder (else E411)."""
    from pebdsl.resolve import load as _load

    return _load(path, variant=variant, sets=sets, allow_outside=allow_outside)


def load_all(
    path: str,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
) -> dict[str | None, Design]:
    """The base design and every variant, in declaration order (key None = the base design).

    `variants`: only those named; `for_compare`: without the variants written `compare = false`
    (unless named), as `pebdsl compare` solves them; `allow_outside`: as for `load`."""
    from pebdsl.resolve import load_all as _load_all

    return _load_all(path, variants, for_compare=for_compare, allow_outside=allow_outside)


def solve(
    design: Design, backend: str = "highs", solver: str | None = None, prices: str = "midpoint"
) -> Results:
    """Compile, solve, settle and score one design. `prices`: how degenerate local prices are
    chosen, "midpoint" of the valid dual interval (the default) or "dual" (the solver's pick)."""
    from pebdsl.pipeline import solve as _solve

    return _solve(design, backend=backend, solver=solver, prices=prices)
