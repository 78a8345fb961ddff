"""Logging conventions of the library: module loggers under `pebdsl`, and solve stages.

Every library module logs through `logging.getLogger(__name__)` (no prints below the command
line); `pebdsl/__init__.py` puts a `NullHandler` on the `pebdsl` logger, so a library user sees
nothing unless they configure logging (`logging.basicConfig(level=logging.INFO)` shows each
stage of a solve). A record that starts a stage of a solve carries `extra=stage(NAME)`, NAME
one of `STAGES`: the command line's progress line (pebdsl/clilog.py) reads the attribute
`pebdsl_stage` from it, and a library user can too. Raises nothing.
"""

from __future__ import annotations

# The stages of `pebdsl solve`, in order: resolve (load.py), lower (solve.py), hand-off and
# solve (the backend), settle (invert, settle, KPIs, notes: solve.py), write (the CLI's output).
STAGES = ("resolve", "lower", "hand-off", "solve", "settle", "write")

STAGE_ATTR = "pebdsl_stage"


def stage(name: str) -> dict[str, str]:
    """The `extra` of a log record that starts stage `name` (one of STAGES)."""
    assert name in STAGES, name
    return {STAGE_ATTR: name}
