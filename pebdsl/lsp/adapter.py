"""The language server's one door into the compiler (parse, resolve, lint, format).

Input: design text and the path it belongs to. Output: `Analysis` (the syntax tree when the
text parses, and every diagnostic `pebdsl check FILE` would print for it: errors of the base
design and of every variant, then warnings), `format_text` (what `pebdsl fmt` writes), and the
resolver's tables (`ATTRIBUTES`, `ASSETS`). Raises nothing for bad design text:
that is what the diagnostics are for.

Every import of a compiler module that is not the public API (`pebdsl.parse`) sits here, so
when modules move only this file changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pebdsl import PebdslError
from pebdsl import parse as _parse
from pebdsl.diagnostics import Diagnostic
from pebdsl.front import syntax as S
from pebdsl.resolve.namespace import ASSETS
from pebdsl.resolve.reader import ATTRIBUTES
from pebdsl.source import SourceFile

__all__ = [
    "ASSETS",
    "ATTRIBUTES",
    "Analysis",
    "S",
    "analyse",
    "base_value",
    "format_text",
    "parse",
]


@dataclass
class Analysis:
    """One version of a document, as the compiler sees it."""

    text: str
    tree: Any | None  # pebdsl syntax `File`, None when the text does not parse
    diagnostics: list[Diagnostic] = field(default_factory=list)
    resolved: bool = False  # False: only the parse ran (syntax diagnostics so far)


def parse(text: str, path: str) -> Analysis:
    """The syntax tree, or the syntax errors (E0xx): fast, run on every keystroke."""
    try:
        return Analysis(text, _parse(text, path))
    except PebdslError as e:
        return Analysis(text, None, list(e.diagnostics), resolved=True)


def resolve(parsed: Analysis, path: str, base_only: bool = False) -> Analysis:
    """Names, units, rules and warnings of the base design and every variant, as `pebdsl check
    FILE` (without --variant) reports them; `base_only`: of the base design alone (a first
    answer in a fraction of the time: most edits are checked there, variants repeat it)."""
    from pebdsl.resolve import resolve as resolve_one
    from pebdsl.resolve import resolve_all
    from pebdsl.resolve.lint import merge

    if parsed.tree is None:
        return parsed
    tree = parsed.tree
    # An empty file's tree has no span (so no source): give the resolver one to point into.
    source = tree.span.source if tree.span.source.path == path else SourceFile(path, parsed.text)
    try:
        designs: dict[str | None, Any] = (
            {None: resolve_one(tree, source)} if base_only else resolve_all(tree, source)
        )
    except PebdslError as e:
        return Analysis(parsed.text, tree, list(e.diagnostics), resolved=not base_only)
    return Analysis(parsed.text, tree, list(merge(designs)), resolved=not base_only)


def analyse(text: str, path: str) -> Analysis:
    """Parse and resolve."""
    return resolve(parse(text, path), path)


def format_text(text: str, path: str) -> str | None:
    """`pebdsl fmt`'s output for this text, or None when it does not parse."""
    from pebdsl.front.formatter import format_source

    try:
        return format_source(text, path)
    except PebdslError:
        return None


def base_value(number: str, unit: str) -> tuple[float, str] | None:
    """`number unit` in the canonical unit of its dimension (`45 EUR/MWh` -> (0.045,
    "EUR/kWh"), `95 %` -> (0.95, ""), `120 EUR/kW/year` -> (10.0, "EUR/kW/month")), or None
    for a unit the language does not know."""
    from fractions import Fraction

    from pebdsl import units as U

    try:
        info = U.parse_unit(unit)
        value = Fraction(number)
    except (PebdslError, ValueError):
        return None
    cur = next((k.removeprefix("currency_") for k, _ in info.dims if "currency_" in k), None)
    targets = ["kWh", "kW", "h", "deg"]
    if cur:
        # A capacity charge is written with a power and a time unit (its dims are a price's).
        cap = [f"{cur}/kW/month"] if info.has_power and info.has_time else []
        targets = [*cap, f"{cur}/kWh", cur, *targets]
    if not info.dims:
        return float(value * info.factor), ""
    for t in targets:
        target = U.parse_unit(t)
        if target.dims == info.dims:
            return float(value * info.factor / target.factor), t
    return None
