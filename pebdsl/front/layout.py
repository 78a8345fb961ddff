"""Layout of formatted text: lines, the cursor over the source's comments, rendering.

Input: the parsed `syntax.File` and the text it came from (`CommentCursor`), and the `Line`s the
formatter's rules (`front.formatter`) produce. Output: `render(lines)`, the final text: 2-space
indent (`INDENT`), trailing comments of consecutive lines aligned to one column, no blank lines
at either end. The cursor hands out each comment once, in source order, so formatting keeps
every comment; it also answers where the source had blank lines. Raises nothing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from pebdsl.front import syntax as s

INDENT = "  "
LINE_WIDTH = 100
_BLANK = re.compile(r"\n[ \t\r\f\ufeff]*\n")


@dataclass
class Line:
    """One output line: code at a depth, a comment, or both (neither: a blank line)."""

    depth: int
    code: str  # "" and comment None: a blank line
    comment: str | None = None
    cont: bool = False  # an own-line comment continuing the trailing comment above it
    # The source column (0-based) of a trailing comment whose line kept its code (only spacing
    # changed): the comment may stay there, if that is right of the code (`render`).
    src_col: int | None = None
    pad: int = 0  # extra indentation of an own-line comment (one inside a list: after the `[`)

    @property
    def blank(self) -> bool:
        """A blank line: neither code nor a comment."""
        return not self.code and self.comment is None


class CommentCursor:
    """The source's comments in order, handed out once each as formatting walks the tree, and
    the source positions the layout asks about (line numbers, blank lines, the `{` of a body).
    Spans are only trusted when they index the given text (not for a hand-built tree)."""

    def __init__(self, file: s.File, text: str) -> None:
        """Start before the first comment of `file`, parsed from `text`."""
        self.file = file
        self.text = text
        src = file.span.source
        # Spans are only trusted when they index the given text (not a hand-built tree).
        self.src = src if src.text == text and text else None
        self.comments: list[s.Comment] = sorted(
            (c for c in file.comments if self.src is not None and c.span.source is src),
            key=lambda c: c.span.start,
        )
        self.starts = [c.span.start for c in self.comments]
        self.ci = 0
        self.last_end = 0
        self.last_trailing: s.Comment | None = None

    def _has_comment(self, a: int, b: int) -> bool:
        """Is there a comment starting strictly between a and b?"""
        k = bisect.bisect_right(self.starts, a)
        return k < len(self.starts) and self.starts[k] < b

    # -- comments and blank lines -------------------------------------------------------------
    def _line_of(self, pos: int) -> int:
        assert self.src is not None
        return self.src.line_col(pos)[0]

    def _gap_blank(self, a: int, b: int) -> bool:
        return self.src is not None and a < b and _BLANK.search(self.text, a, b) is not None

    def _take_before(self, pos: int) -> list[s.Comment]:
        out = []
        while self.ci < len(self.comments) and self.comments[self.ci].span.start < pos:
            out.append(self.comments[self.ci])
            self.ci += 1
        return out

    def _take_trailing(self, end: int, limit: int) -> s.Comment | None:
        """The comment on the line where `end` is, after it and before `limit`, if any."""
        if self.src is None or self.ci >= len(self.comments):
            return None
        c = self.comments[self.ci]
        if end <= c.span.start < limit and self._line_of(c.span.start) == self._line_of(
            max(end - 1, 0)
        ):
            self.ci += 1
            return c
        return None

    def _peek_trailing(self, end: int, limit: int) -> bool:
        """Is there a comment after `end`, before `limit`, on the line where `end` is?"""
        k = bisect.bisect_left(self.starts, end)
        return (
            k < len(self.starts)
            and self.starts[k] < limit
            and self._line_of(self.starts[k]) == self._line_of(max(end - 1, 0))
        )

    def _attach(self, line: Line, c: s.Comment) -> None:
        """Make `c` the trailing comment of `line`; remember its source column when the source
        line held the same code (spacing aside)."""
        line.comment = comment_text(c)
        col = c.span.column - 1
        code = self.text[c.span.start - col : c.span.start]
        if _squash(code) == _squash(line.code):
            line.src_col = col

    def _own_line(self, out: list[Line], depth: int, c: s.Comment) -> None:
        """An own-line comment; one right under a trailing comment, in the same column,
        continues it (and stays aligned with it)."""
        prev = self.last_trailing
        cont = (
            prev is not None
            and bool(out)
            and (out[-1].code or out[-1].cont)
            and out[-1].comment is not None
            and self._line_of(c.span.start) == self._line_of(prev.span.start) + 1
            and c.span.column == prev.span.column
        )
        out.append(Line(depth, "", comment_text(c), cont=cont))
        self.last_trailing = c if cont else None
        self.last_end = max(self.last_end, c.span.end)

    def _open_brace(self, after: int, end: int) -> int:
        """The position of the first `{` in the source between `after` and `end` (else `after`)."""
        if self.src is None:
            return after
        pos = self.text.find("{", after, end)
        return pos if pos >= 0 else after


def blank_line(out: list[Line], depth: int) -> None:
    """Append a blank line unless `out` already ends with one."""
    if out and not out[-1].blank:
        out.append(Line(depth, ""))


def comment_text(c: s.Comment) -> str:
    """A comment's text as written, without trailing white space."""
    return c.text.rstrip()


def _squash(code: str) -> str:
    return "".join(code.split())


def render(lines: list[Line]) -> str:
    """Join lines; trailing comments of consecutive lines are aligned to one column."""
    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if line.comment is not None and line.code:
            j = i
            while (
                j < n
                and lines[j].comment is not None
                and (lines[j].code or lines[j].cont)
                and lines[j].depth == line.depth
            ):
                j += 1
            # Two spaces after the longest code of the run, or further right where the author
            # put a comment of the run whose line kept its code.
            col = max(
                max(
                    len(INDENT) * lines[k].depth + len(lines[k].code)
                    for k in range(i, j)
                    if lines[k].code
                )
                + 2,
                *(lines[k].src_col or 0 for k in range(i, j) if lines[k].code),
            )
            for k in range(i, j):
                code = INDENT * lines[k].depth + lines[k].code if lines[k].code else ""
                out.append(code.ljust(col) + lines[k].comment)  # type: ignore[operator]
            i = j
            continue
        if line.blank:
            out.append("")
        elif line.code:
            out.append(INDENT * line.depth + line.code)
        else:
            out.append(INDENT * line.depth + " " * line.pad + (line.comment or ""))
        i += 1
    # No blank lines at the start or the end.
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return "\n".join(out) + "\n" if out else ""
