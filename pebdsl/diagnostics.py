"""Diagnostics: the one error type users see, and its compiler-style rendering.

Input: a code, a message and the `Span` it concerns. Output: `Diagnostic` values, collected into
one `PebdslError`, rendered like a compiler (`error[E201]: …  --> file:line:col`, a caret excerpt,
`= help:` hints). Codes: E0xx syntax, E1xx names, E2xx units, E3xx rules and values,
E4xx data (series, CSV), E5xx model (infeasible, unbounded, solver), E9xx internal/usage.
Every code is documented in docs/errors.md. Rendering shows design text (messages, labels,
hints, the source line, the file name) through `safetext.terminal_text`, so escape sequences
in a design are shown as `\x1b` and never act on the terminal; the caret stays under the
escaped text. A `PebdslError` pickles whole (its diagnostics with their spans and source
text), so it crosses process boundaries (pebdsl.study.runner) as itself, not as text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pebdsl.safetext import terminal_text as _safe
from pebdsl.source import NO_SPAN, Span

MAX_REPORTED = 50


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span = NO_SPAN
    label: str = ""
    hints: tuple[str, ...] = ()
    severity: str = "error"  # "error" | "warning" | "note"
    related: tuple[tuple[Span, str], ...] = field(default=())

    def render(self, color: bool = False) -> str:
        return render(self, color=color)


class PebdslError(Exception):
    """Raised by every stage for bad input; carries one or more diagnostics, sorted by position."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]):
        diags = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        if not diags:
            raise ValueError("PebdslError needs at least one diagnostic")
        diags.sort(key=_sort_key)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diags[:MAX_REPORTED])
        self.truncated = max(0, len(diags) - MAX_REPORTED)
        super().__init__(self.render())

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def __reduce__(self) -> tuple[type[PebdslError], tuple[tuple[Diagnostic, ...]], dict[str, Any]]:
        # Rebuilt from its diagnostics (Exception's default would pass the rendered text back
        # to __init__), so an error crosses to and from a worker process whole: codes, spans,
        # hints and the count of diagnostics left out.
        return (type(self), (self.diagnostics,), dict(self.__dict__))

    def render(self, color: bool = False) -> str:
        parts = [render(d, color=color) for d in self.diagnostics]
        if self.truncated:
            parts.append(f"... and {self.truncated} more errors")
        return "\n\n".join(parts)


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    return (d.span.source.path, d.span.start, d.code)


def error(
    code: str,
    message: str,
    span: Span = NO_SPAN,
    label: str = "",
    hints: Iterable[str] = (),
) -> Diagnostic:
    return Diagnostic(code, message, span, label, tuple(hints))


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    best = suggest(name, candidates)
    return (f"did you mean `{best}`?",) if best else ()


_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m"}
_BLUE = "\x1b[1;34m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


def render(d: Diagnostic, color: bool = False) -> str:
    """Render like rustc: header, location arrow, numbered source line and a caret underline."""

    def c(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    head = c(_COLORS.get(d.severity, ""), f"{d.severity}[{d.code}]") + c(
        _BOLD, f": {_safe(d.message)}"
    )
    lines = [head]
    span = d.span
    if span is not NO_SPAN and span.source.path != "<generated>":
        line, col = span.source.line_col(span.start)
        gutter = " " * len(str(line))
        lines.append(f"{gutter}{c(_BLUE, '-->')} {_safe(span.location())}")
        raw = span.source.line_text(line).replace("\t", " ")
        src = _safe(raw)
        lines.append(f"{gutter} {c(_BLUE, '|')}")
        lines.append(f"{c(_BLUE, str(line))} {c(_BLUE, '|')} {src}")
        width = max(1, min(span.end - span.start, len(raw) - col + 1))
        # A span that crosses lines is underlined to the end of its first line.
        first_line_text = span.text.split("\n", 1)[0]
        width = max(1, min(width, len(first_line_text) or 1))
        # Measured in the escaped line: an escaped control is wider than one column.
        lead = len(_safe(raw[: col - 1]))
        width = max(1, len(_safe(raw[col - 1 : col - 1 + width])))
        caret = " " * lead + "^" * width
        label = f" {_safe(d.label)}" if d.label else ""
        lines.append(f"{gutter} {c(_BLUE, '|')} {c(_COLORS.get(d.severity, ''), caret + label)}")
        for rspan, rlabel in d.related:
            lines.append(
                f"{gutter} {c(_BLUE, '=')} note: {_safe(rlabel)} at {_safe(rspan.location())}"
            )
    elif d.label:
        lines.append(f"  = {_safe(d.label)}")
    for h in d.hints:
        gutter = " " * (len(str(span.line)) if span is not NO_SPAN else 1)
        lines.append(f"{gutter} {c(_BLUE, '=')} help: {_safe(h)}")
    return "\n".join(lines)
