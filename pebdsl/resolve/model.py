"""The syntax-level model that the resolve passes share before objects are built.

Input: declarations taken from a `syntax.File` (by `namespace.collect`) and edited in place by a
variant or `--set` (`variants.py`). Output: `Model`, one namespace of mutable `Node`s (syntax
nodes inside stay immutable) plus the singleton declarations (`design`, `horizon`, `grid`,
`dso`); `Errors`, the diagnostics a pass collects instead of raising them one by one.
Raises nothing itself; `Errors.raise_if_any` raises the collected diagnostics together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from pebdsl.diagnostics import Diagnostic, PebdslError
from pebdsl.front import syntax as S
from pebdsl.source import NO_SPAN, Span

__all__ = ["Errors", "Failed", "Model", "Node", "Single", "dedupe"]


@dataclass
class Node:
    """A named declaration, mutable while edits apply. Syntax nodes inside stay immutable."""

    kind: str  # participant | block | battery | market | product | series | template | variant
    name: str
    name_span: Span
    span: Span
    items: list[Any] = field(default_factory=list)
    template: S.Name | None = None  # participant: `from TEMPLATE`
    block: str | None = None  # participant, battery: the enclosing block
    removed: set[tuple[str, ...]] = field(default_factory=set)  # tombstones over the template
    decl: Any = None  # series: SeriesDecl; variant: VariantDecl

    def copy(self) -> Node:
        """A copy whose item list and tombstones can be edited without touching this one."""
        return replace(self, items=list(self.items), removed=set(self.removed))


@dataclass
class Single:
    """A singleton declaration (design, horizon, grid, dso)."""

    span: Span
    items: list[Any] = field(default_factory=list)
    title: str = ""

    def copy(self) -> Single:
        """A copy whose item list can be edited without touching this one."""
        return replace(self, items=list(self.items))


@dataclass
class Model:
    """Every declaration of one design, by name, in declaration order."""

    singles: dict[str, Single] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)  # one namespace, declaration order
    variants: list[str] = field(default_factory=list)
    removed_names: set[str] = field(default_factory=set)  # removed by a variant edit
    file_span: Span = NO_SPAN
    # `choice NAME { variant … }` declarations (pebdsl tailor's design space), by name; their
    # options are not variants of the file (compare does not run them).
    choices: dict[str, S.ChoiceDecl] = field(default_factory=dict)

    def copy(self) -> Model:
        """A deep enough copy for a variant's edits (the base stays as collected)."""
        return Model(
            {k: v.copy() for k, v in self.singles.items()},
            {k: v.copy() for k, v in self.nodes.items()},
            list(self.variants),
            set(self.removed_names),
            self.file_span,
            dict(self.choices),
        )

    def of_kind(self, kind: str) -> dict[str, Node]:
        """The nodes of one kind, in declaration order."""
        return {k: n for k, n in self.nodes.items() if n.kind == kind}


class Errors:
    """Diagnostics collected by the passes, raised together (deduplicated) at set points."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []

    def add(self, d: Diagnostic) -> None:
        """Record one diagnostic."""
        self.diags.append(d)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Record the diagnostics of a `PebdslError` raised inside and go on."""
        try:
            yield
        except PebdslError as e:
            self.diags.extend(e.diagnostics)

    def raise_if_any(self) -> None:
        """Raise every diagnostic recorded so far, if any."""
        if self.diags:
            raise PebdslError(dedupe(self.diags))


class Failed(Exception):
    """A value could not be built; its diagnostic is already recorded."""


def dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """`diags` without repeats (same code, file, position and message), first kept."""
    seen: set[tuple[str, str, int, str]] = set()
    out = []
    for d in diags:
        key = (d.code, d.span.source.path, d.span.start, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
