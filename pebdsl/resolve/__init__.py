"""Resolve: a parsed design file into validated `design.Design` objects, as a tuple of passes.

Input: a `syntax.File` (from the parser), the chosen variant (None = the base design) and
`sets` (extra `set` edits as text, from `--set` and `sweep`). Output: `design.Design` with
floats in canonical units, series as numpy arrays on the horizon's grid, the `Span` of every
declaration and the check-time warnings. Reading files is `pebdsl.load`'s job.

The room, by pass (`passes.PASSES` gives the order, `state.State` what they share):

    namespace.py   names and declarations of a file, did-you-mean (`model.py`: the syntax-level
                   model the passes edit; `templates.py`: template merging)
    variants.py    a variant's edits and `--set` overrides
    heading.py     the design's and the variant's own attributes, the reference variant
    reader.py      reading attribute values (constants, series, words) for every builder
    time.py  grid.py  participants.py  loads.py  generation.py  batteries.py  blocks.py
    markets.py     builders per concept
    series.py      series expressions (`calls.py` generator calls, `csvread.py` CSV files,
                   `csvalign.py` csv() on the horizon's steps)
    checks.py      cross-object rules;  lint.py  check-time warnings (W1xx)

Errors: E101 unknown name, E102 duplicate name, E103 wrong kind of name, E104 unknown
attribute, E105 unknown template, E106 a cycle of series, E107 reserved name, E108 unknown
variant, E109 attribute given twice, E2xx units (`units.py`), E301 missing attribute, E302 value
out of range, E303 step does not divide, E304 misplaced declaration, E305 market with < 2
members, E306 bad link, E307 wrong kind of value, E308 member listed twice / not a member, E309
empty block, E310 battery states, E311 unknown timezone, E312 `flexibility` as a market product,
E313 a market across DSO links with members outside every block (`checks.py`), E314 a horizon
outside the supported dates (1678 … 2261), E4xx data (`series.py`, `csvread.py`,
`csvalign.py`). Warnings (W1xx, `lint.py`) do not stop a design: they are kept on
`Design.warnings`.
"""

from __future__ import annotations

from pebdsl.resolve.passes import PASSES, resolve, resolve_all
from pebdsl.resolve.variants import variant_compare_flags

__all__ = ["PASSES", "resolve", "resolve_all", "variant_compare_flags"]
