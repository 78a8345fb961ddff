"""The design's own attributes and the variant's: `design "title" { … }`, `variant v { … }`.

Input: the `design` declaration's attributes and the chosen variant's attributes (not its
edits), read through a `Reader`. Output: the currency (set on the reader, so every later value
reads in it), the description, the variant's description and `compare` flag, and the design's
reference variant (`reference = v`, else a variant named `reference`, else none; a variant's
own `reference = v` replaces the design's for that variant, resolve/passes.py).
Errors: E307 a currency not in `units.CURRENCIES`, a description that is not a string, a
`compare` that is not true or false; E101 a `reference` that names no variant; E104/E109 from
`Reader.attrs`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pebdsl import units as U
from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader, text_of
from pebdsl.resolve.series import strip
from pebdsl.source import NO_SPAN

__all__ = ["design_attributes", "reference", "variant_attributes"]


def design_attributes(r: Reader, items: list[Any]) -> tuple[dict[str, S.Attribute], str]:
    """The `design` attributes by name and its description; sets `r.currency`."""
    dattrs = r.attrs(items, "design")
    with contextlib.suppress(Failed):
        if "currency" in dattrs:
            r.currency = r.word(dattrs["currency"], U.CURRENCIES, "currency")
    description = ""
    if "description" in dattrs:
        v = strip(dattrs["description"].value)
        if isinstance(v, S.String):
            description = v.value
        else:
            r.errs.add(error("E307", "description must be a string", v.span))
    return dattrs, description


def variant_attributes(r: Reader, items: list[S.Attribute]) -> tuple[str, bool]:
    """The variant's `description` (a string) and `compare` (true or false)."""
    vattrs = r.attrs(items, "variant")
    description = ""
    if "description" in vattrs:
        v = strip(vattrs["description"].value)
        if isinstance(v, S.String):
            description = v.value
        else:
            r.errs.add(
                error(
                    "E307",
                    "a variant's description must be a string",
                    v.span,
                    "not a string",
                    ('write `description = "…"`',),
                )
            )
    in_compare = True
    if "compare" in vattrs:
        v = strip(vattrs["compare"].value)
        if isinstance(v, S.Bool):
            in_compare = v.value
        else:
            shown = v.span.text if v.span is not NO_SPAN else text_of(v)
            r.errs.add(
                error(
                    "E307",
                    f"a variant's `compare` must be `true` or `false`; got `{shown}`",
                    v.span,
                    "not true or false",
                    (
                        "`compare = false` leaves the variant out of `pebdsl compare` "
                        "unless it is named with `--variant`",
                    ),
                )
            )
    return description, in_compare


# -- horizon ------------------------------------------------------------------------------


def reference(r: Reader, dattrs: dict[str, S.Attribute]) -> str | None:
    """The design's reference variant: `reference = v` (E101 unless v is a variant), else
    the variant named `reference` when there is one, else None."""
    if "reference" in dattrs:
        a = dattrs["reference"]
        v = strip(a.value)
        if isinstance(v, S.Ref) and v.name in r.m.variants:
            return v.name
        r.errs.add(
            error(
                "E101",
                f"unknown variant `{text_of(v)}`",
                a.value.span,
                "not a variant",
                did_you_mean(text_of(v), r.m.variants),
            )
        )
        return None
    if "reference" in r.m.variants:
        return "reference"
    return None
