"""Source files and spans.

Input: design text. Output: `SourceFile` (text + line table) and `Span` (a region of one file).
Every later stage keeps the `Span` of the text that produced an object, so that a late error
(an infeasible block, a wrong unit) points at the line that caused it. Raises nothing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """One design file (or an in-memory snippet) with a line-start table for position lookups."""

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    @classmethod
    def read(cls, path: str | Path) -> SourceFile:
        """Read a UTF-8 file; undecodable bytes are replaced so the parser can report them."""
        data = Path(path).read_bytes()
        return cls(str(path), data.decode("utf-8", errors="replace"))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    @property
    def directory(self) -> Path:
        return Path(self.path).parent

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, end)

    def __reduce__(self) -> str | tuple[type[SourceFile], tuple[str, str]]:
        # Pickled (to a worker process and back) as path and text: the line table is rebuilt,
        # and the placeholder of generated objects stays the one `UNKNOWN_SOURCE`.
        if self is UNKNOWN_SOURCE:
            return "UNKNOWN_SOURCE"
        return (SourceFile, (self.path, self.text))


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) in one source file."""

    source: SourceFile = field(compare=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def location(self) -> str:
        """`path:line:col`, the form editors and terminals turn into links."""
        line, col = self.source.line_col(self.start)
        return f"{self.source.path}:{line}:{col}"

    def merge(self, other: Span) -> Span:
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"Span({self.location()})"

    def __reduce__(self) -> str | tuple[type[Span], tuple[SourceFile, int, int]]:
        # `NO_SPAN` is tested by identity (`span is NO_SPAN`): it unpickles as itself.
        if self is NO_SPAN:
            return "NO_SPAN"
        return (Span, (self.source, self.start, self.end))


UNKNOWN_SOURCE = SourceFile("<generated>", "")
NO_SPAN = Span(UNKNOWN_SOURCE, 0, 0)
