"""LSP positions (line, character in the client's code units) <-> offsets into design text.

Input: a text and pygls's `PositionCodec` (UTF-16 unless the client agreed on another
encoding). Output: offsets, `Range`s, and `Diagnostic`s converted from pebdsl's (code,
severity, message with label and `help:` hints, related spans). Lines end at `\\n`, `\\r\\n`
or `\\r`, as the protocol says. Raises nothing: positions beyond the text are clamped.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from lsprotocol import types as T

from pebdsl.diagnostics import Diagnostic

__all__ = ["Positions"]

_BREAK = re.compile(r"\r\n|\r|\n")
_SEVERITY = {
    "error": T.DiagnosticSeverity.Error,
    "warning": T.DiagnosticSeverity.Warning,
    "note": T.DiagnosticSeverity.Information,
}


class Positions:
    def __init__(self, text: str, codec: Any) -> None:
        self.text = text
        self.codec = codec
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]

    def _line_end(self, line: int) -> int:
        """Offset of the end of `line`'s content (before its line break)."""
        if line + 1 < len(self.starts):
            nxt = self.starts[line + 1]
            return nxt - (2 if self.text[nxt - 2 : nxt] == "\r\n" else 1)
        return len(self.text)

    def offset(self, p: T.Position) -> int:
        line = min(max(p.line, 0), len(self.starts) - 1)
        start, end = self.starts[line], self._line_end(line)
        units = 0
        i = start
        while i < end and units < p.character:
            units += self.codec.client_num_units(self.text[i])
            i += 1
        return i

    def position(self, offset: int) -> T.Position:
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return T.Position(line=line, character=self.codec.client_num_units(self.text[start:offset]))

    def range(self, start: int, end: int) -> T.Range:
        return T.Range(start=self.position(start), end=self.position(end))

    def diagnostic(self, d: Diagnostic, path: str, uri: str) -> T.Diagnostic:
        """A pebdsl diagnostic for this document; one about another file (a CSV it reads) or
        about no place sits at the document's start and names its place in the message."""
        here = d.span.source.path == path and d.span.end <= len(self.text)
        rng = self.range(d.span.start, d.span.end) if here else self.range(0, 0)
        msg = d.message
        if not here and d.span.source.path not in ("<generated>", "<string>"):
            msg = f"{d.span.location()}: {d.message}"
        lines = [msg]
        if d.label:
            lines.append(d.label)
        lines += [f"help: {h}" for h in d.hints]
        related = [
            T.DiagnosticRelatedInformation(
                location=T.Location(uri=uri, range=self.range(s.start, s.end)), message=label
            )
            for s, label in d.related
            if s.source.path == path
        ]
        return T.Diagnostic(
            range=rng,
            message="\n".join(lines),
            severity=_SEVERITY.get(d.severity, T.DiagnosticSeverity.Error),
            code=d.code,
            source="pebdsl",
            related_information=related or None,
        )
