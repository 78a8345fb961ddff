"""Format design files in the canonical layout.

Input: design text (`format_source`) or a parsed `syntax.File` with the text it came from
(`format_file`). Output: canonical text. Raises `PebdslError` (the parser's E0xx codes) and
nothing else; formatting is idempotent and keeps the syntax tree (`parse(format(x)) == parse(x)`)
and every comment, in order.

Layout (docs/syntax.md has the full list):
- 2-space indent; one statement per line; `=` aligned over a run of consecutive attributes (and
  asset keywords over a run of one-line assets); a blank line in the source breaks a run.
- One blank line between top-level declarations, except consecutive `series`, which keep the
  source's choice. Blank lines inside bodies are kept (at most one), never after `{` or before `}`.
- Asset, link and flexibility bodies of at most four attributes that fit in 100 columns (and
  hold no comment) are written on one line: `pv { profile = solar; peak = 6 kWp }`.
- A list that is a statement's value keeps the source's rows (items per line), continuation
  lines aligned after the `[`; a row (or a one-line list) too long for 100 columns is wrapped
  greedily. Comments at the end of a row, or on their own line between rows, stay there.
- A call that is a statement's value and does not fit in 100 columns gets one argument per line
  (one level deeper, trailing comma) and `)` on its own line.
- Numbers, units and names exactly as written; strings re-escaped; operators spaced (`a + b`),
  parentheses as written (plus any needed to keep the meaning of a hand-built tree).
- A variant's attributes (`description`, `compare`) are written first in its body, with their
  comments (the parser lists them first too, so the tree round-trips).
- Comments: own-line comments stay before the statement that follows them; a trailing comment
  stays at the end of its line (aligned over consecutive commented lines, two spaces after the
  longest code, or at the author's column if further right and the line kept its code); comments
  at the end of a body stay before its `}`; other comments inside an expression move to the
  line before it.

This module holds the rules (expressions, statements, alignment, lists, bodies); the lines they
produce, the cursor over the source's comments and the final rendering are `front.layout`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as s
from pebdsl.front.exprs import _arg, _decl_name, _string, _target, format_expr
from pebdsl.front.layout import (
    INDENT,
    LINE_WIDTH,
    CommentCursor,
    Line,
    blank_line,
    comment_text,
    render,
)
from pebdsl.source import Span

__all__ = ["INDENT", "LINE_WIDTH", "format_expr", "format_file", "format_source"]

INLINE_MAX_ITEMS = 4


def format_source(text: str, path: str = "<string>") -> str:
    """Parse `text` and return it in the canonical layout."""
    from pebdsl.front.parser import parse

    return format_file(parse(text, path), text)


def format_file(file: s.File, source_text: str = "") -> str:
    """The canonical text of a parsed file; `source_text` (the text it was parsed from) supplies
    the comments' neighbourhood and the blank lines to keep. A hand-built tree (no spans) formats
    without either."""
    moved = _variant_attributes_first(file, source_text)
    if moved is not None:
        return format_source(moved, file.span.source.path)
    try:
        return _Formatter(file, source_text).run()
    except RecursionError:
        raise PebdslError(
            error("E006", "expression nested too deeply", file.span, "cannot format this file")
        ) from None


_REST_OF_LINE = re.compile(r"[ \t\r\f;]*(#[^\n]*)?")


def _variant_attributes_first(file: s.File, text: str) -> str | None:
    """The source text with the attributes of each variant moved before its edits, or None when
    nothing moves. The parser already lists a variant's attributes first (`syntax.VariantDecl`);
    moving their source lines too (with the comments and blank lines above them and a trailing
    comment) keeps every comment next to its statement. A variant whose statements do not each
    own whole lines (`variant v { set a.b = 1; compare = false }`) is left to the formatter,
    which writes the attributes first all the same; only its comments may not follow them."""
    src = file.span.source
    if not text or src.text != text:
        return None
    edits: list[tuple[int, int, str]] = []
    for d in file.decls:
        if not isinstance(d, s.VariantDecl) or any(it.span.source is not src for it in d.items):
            continue
        starts = [it.span.start for it in d.items]
        if starts == sorted(starts):
            continue
        close = d.span.end - 1  # the `}`
        brace = text.find("{", d.name.span.end, close)
        lo = text.find("\n", brace, close) + 1 if brace >= 0 else 0
        if lo <= 0:
            continue
        regions: list[tuple[Any, int, int]] = []
        for it in sorted(d.items, key=lambda x: x.span.start):
            line_start = text.rfind("\n", 0, it.span.start) + 1
            eol = text.find("\n", it.span.end, close)
            rest = _REST_OF_LINE.match(text, it.span.end, max(eol, it.span.end))
            if (
                line_start < lo
                or text[line_start : it.span.start].strip()
                or eol < 0
                or rest is None
                or rest.end() != eol
            ):
                break
            regions.append((it, lo, eol + 1))
            lo = eol + 1
        else:
            moved = [r for r in regions if isinstance(r[0], s.Attribute)]
            moved += [r for r in regions if not isinstance(r[0], s.Attribute)]
            edits.append((regions[0][1], regions[-1][2], "".join(text[a:b] for _, a, b in moved)))
    if not edits:
        return None
    for a, b, new in reversed(edits):
        text = text[:a] + new + text[b:]
    return text


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------


class _Formatter(CommentCursor):
    """The rules: each statement kind, alignment of runs, lists and bodies, as `Line`s."""

    def __init__(self, file: s.File, text: str) -> None:
        super().__init__(file, text)
        # Set while formatting a statement whose list keeps the comments between its rows.
        self.row_comments = False
        self.row_last_comment: s.Comment | None = None

    # -- driver ---------------------------------------------------------------------------------
    def run(self) -> str:
        lines = self._items(self.file.decls, 0, 0, len(self.text) + 1, top=True)
        while self.ci < len(self.comments):  # defensive: never lose a comment
            lines.append(Line(0, "", comment_text(self.comments[self.ci])))
            self.ci += 1
        return render(lines)

    def _items(
        self, items: Sequence[Any], depth: int, open_end: int, close_pos: int, top: bool = False
    ) -> list[Line]:
        """The lines of a sequence of statements (a body's or the file's), with their comments."""
        out: list[Line] = []
        self.last_end = max(self.last_end, open_end)
        widths = self._align(items, depth)
        prev: Any = None
        for i, item in enumerate(items):
            span: Span = item.span
            has_span = self.src is not None and span.source is self.src
            start = span.start if has_span else self.last_end
            # A blank line before the first element after a top-level declaration (series may
            # stay grouped), then blank lines wherever the source had them.
            force = (
                top
                and prev is not None
                and not (isinstance(prev, s.SeriesDecl) and isinstance(item, s.SeriesDecl))
            )
            first_elem = True
            for c in self._take_before(start):
                if self._gap_blank(self.last_end, c.span.start) or (force and first_elem):
                    blank_line(out, depth)
                first_elem = False
                self._own_line(out, depth, c)
            if self._gap_blank(self.last_end, start) or (force and first_elem):
                blank_line(out, depth)
            nxt = items[i + 1].span.start if i + 1 < len(items) else close_pos
            if has_span and i + 1 < len(items) and items[i + 1].span.source is not self.src:
                nxt = close_pos
            # Comments inside the statement but outside any nested body move before it, unless
            # they sit between the rows of its list (which keeps them in place).
            self.row_comments = has_span and self._row_comments_ok(item, nxt)
            self.row_last_comment = None
            if not self.row_comments:
                inner_limit = self._inner_limit(item) if has_span else start
                for c in self._take_before(inner_limit):
                    out.append(Line(depth, "", comment_text(c)))
            lines = self._item(item, depth, widths[i])
            self.row_comments = False
            if has_span:
                self.last_end = max(self.last_end, span.end)
                trailing = self._take_trailing(span.end, nxt)
                if trailing is not None:
                    self._attach(lines[-1], trailing)
                    self.last_end = trailing.span.end
                self.last_trailing = trailing or self.row_last_comment
            out.extend(lines)
            prev = item
        # Comments after the last statement stay inside the body, before its `}`.
        for c in self._take_before(close_pos):
            if self._gap_blank(self.last_end, c.span.start):
                blank_line(out, depth)
            self._own_line(out, depth, c)
        return out

    def _inner_limit(self, item: Any) -> int:
        """Comments before this offset belong before the statement (leaf: its whole span;
        a declaration with a body: its header)."""
        if isinstance(item, (s.VariantDecl, s.ChoiceDecl)):
            return self._open_brace(item.name.span.end, item.span.end)
        if isinstance(item, (s.FeesTable, s.GoalsDecl)):
            return self._open_brace(item.span.start, item.span.end)
        body = getattr(item, "body", None)
        if isinstance(body, s.Body):
            return int(body.span.start)
        return int(item.span.end)

    # -- alignment ------------------------------------------------------------------------------
    def _align(self, items: Sequence[Any], depth: int) -> list[int]:
        """Key width for each item: the widest key in its run of same-class statements."""
        classes = [self._align_class(it, depth) for it in items]
        widths = [0] * len(items)
        i = 0
        while i < len(items):
            cls = classes[i]
            j = i + 1
            while (
                cls is not None
                and j < len(items)
                and classes[j] == cls
                and not self._breaks_run(items[j - 1], items[j])
            ):
                j += 1
            width = max(len(self._key(items[k])) for k in range(i, j)) if cls else 0
            for k in range(i, j):
                widths[k] = width
            i = j
        return widths

    def _breaks_run(self, a: Any, b: Any) -> bool:
        if self.src is None or a.span.source is not self.src or b.span.source is not self.src:
            return False
        return self._gap_blank(a.span.end, b.span.start)

    def _align_class(self, item: Any, depth: int) -> str | None:
        if isinstance(item, s.Attribute):
            return "attr"
        if isinstance(item, s.PairFee):
            return "fee"
        if isinstance(item, s.SeriesDecl):
            return "series"
        if (
            isinstance(item, s.Asset)
            and item.name is None
            and self._inline(item.body, depth, item.kind) is not None
        ):
            return "asset"
        return None

    @staticmethod
    def _key(item: Any) -> str:
        if isinstance(item, s.Attribute):
            return item.name.value
        if isinstance(item, s.PairFee):
            return f"{item.seller.value} -> {item.buyer.value}"
        if isinstance(item, s.SeriesDecl):
            return item.name.value
        if isinstance(item, s.Asset):
            return item.kind
        return ""  # pragma: no cover

    # -- statements -----------------------------------------------------------------------------
    def _item(self, item: Any, depth: int, width: int) -> list[Line]:
        if isinstance(item, s.Attribute):
            return self._assign(item.name.value.ljust(width), item.value, depth)
        if isinstance(item, s.SeriesDecl):
            return self._assign("series " + item.name.value.ljust(width), item.value, depth)
        if isinstance(item, s.PairFee):
            key = f"{item.seller.value} -> {item.buyer.value}".ljust(width)
            return self._assign(key, item.value, depth)
        if isinstance(item, s.SetEdit):
            return self._assign("set " + _target(item.kind, item.target), item.value, depth)
        if isinstance(item, s.Without):
            return [Line(depth, "without " + _target(item.kind, item.target))]
        if isinstance(item, s.Asset):
            head = item.kind.ljust(width) if item.name is None else item.kind
            if item.name is not None:
                head += " " + item.name.value
            return self._with_body(head, item.body, depth, inline_ok=True)
        if isinstance(item, s.Participant):
            head = "participant " + _decl_name(item.name)
            if item.template is not None:
                head += " from " + item.template.value
            return self._with_body(head, item.body, depth)
        if isinstance(item, s.Link):
            head = f"link {item.a.value} -- {item.b.value}"
            return self._with_body(head, item.body, depth, inline_ok=True)
        if isinstance(item, s.Flexibility):
            return self._with_body(
                f"flexibility {item.block.value}", item.body, depth, inline_ok=True
            )
        if isinstance(item, s.FeesTable):
            return self._block(
                "fees",
                item.entries,
                item.span,
                depth,
                self._open_brace(item.span.start, item.span.end),
            )
        if isinstance(item, s.DesignDecl):
            return self._with_body("design " + _string(item.title.value), item.body, depth)
        if isinstance(item, s.HorizonDecl):
            return self._with_body("horizon", item.body, depth)
        if isinstance(item, s.GridDecl):
            return self._with_body("grid", item.body, depth)
        if isinstance(item, s.ScenariosDecl):
            return self._with_body("scenarios", item.body, depth)
        if isinstance(item, s.DsoDecl):
            return self._with_body("dso", item.body, depth)
        if isinstance(item, s.TemplateDecl):
            return self._with_body("template " + item.name.value, item.body, depth)
        if isinstance(item, s.BlockDecl):
            return self._with_body("block " + item.name.value, item.body, depth)
        if isinstance(item, s.MarketDecl):
            return self._with_body("market " + item.name.value, item.body, depth)
        if isinstance(item, s.ProductDecl):
            return self._with_body("product " + item.name.value, item.body, depth)
        if isinstance(item, (s.GoalsDecl, s.Goal, s.ChoiceDecl)):
            return self._tailoring(item, depth)
        if isinstance(item, s.VariantDecl):
            return self._block(
                "variant " + item.name.value,
                item.items,
                item.span,
                depth,
                self._open_brace(item.name.span.end, item.span.end),
            )
        raise TypeError(f"not a statement: {type(item).__name__}")  # pragma: no cover

    def _tailoring(self, item: s.GoalsDecl | s.Goal | s.ChoiceDecl, depth: int) -> list[Line]:
        """`goals { … }`, one goal, and `choice NAME { variant … }` (docs/tailor.md)."""
        if isinstance(item, s.GoalsDecl):
            return self._block(
                "goals",
                item.goals,
                item.span,
                depth,
                self._open_brace(item.span.start, item.span.end),
            )
        if isinstance(item, s.Goal):
            head = ("prefer " if item.prefer else "") + str(item.metric.path)
            return [Line(depth, f"{head} {item.op} {format_expr(item.value)}")]
        return self._block(
            "choice " + item.name.value,
            item.options,
            item.span,
            depth,
            self._open_brace(item.name.span.end, item.span.end),
        )

    def _assign(self, key: str, value: s.Expr, depth: int) -> list[Line]:
        head = f"{key} = "
        if isinstance(value, (s.List, s.Daily)):
            return self._list_lines(head, value, depth)
        text = format_expr(value)
        if (
            isinstance(value, s.Call)
            and value.args
            and len(INDENT) * depth + len(head) + len(text) > LINE_WIDTH
        ):
            # One argument per line, one level deeper, trailing comma, `)` on its own line.
            args = [Line(depth + 1, _arg(a) + ",") for a in value.args]
            return [Line(depth, f"{head}{value.func.value}("), *args, Line(depth, ")")]
        return [Line(depth, head + text)]

    # -- lists ----------------------------------------------------------------------------------
    def _rows(self, lst: s.List) -> list[list[int]]:
        """The item indices of each source row of a list: a new row starts at an item on a later
        line than the end of the item before it. Without source positions: one row."""
        items = lst.items
        if not items or self.src is None or lst.span.source is not self.src:
            return [list(range(len(items)))]
        rows = [[0]]
        prev_line = self._line_of(items[0].span.end - 1)
        for k in range(1, len(items)):
            if self._line_of(items[k].span.start) > prev_line:
                rows.append([k])
            else:
                rows[-1].append(k)
            prev_line = self._line_of(items[k].span.end - 1)
        return rows

    def _multirow(self, value: s.Expr) -> bool:
        lst = value.values if isinstance(value, s.Daily) else value
        return isinstance(lst, s.List) and len(self._rows(lst)) > 1

    def _row_comments_ok(self, item: Any, nxt: int) -> bool:
        """Can every comment inside this statement stay where it is: at the end of a row of its
        list, or on its own line between two rows? (Otherwise they all move before it, which
        keeps their order.) The last row's comment becomes the statement's trailing comment, so
        the statement must not have one of its own."""
        if not isinstance(item, (s.Attribute, s.SeriesDecl, s.PairFee, s.SetEdit)):
            return False
        value = item.value
        lst = value.values if isinstance(value, s.Daily) else value
        if not isinstance(lst, s.List) or not lst.items or lst.span.source is not self.src:
            return False
        end = int(item.span.end)
        inner = []
        k = self.ci
        while k < len(self.comments) and self.comments[k].span.start < end:
            inner.append(self.comments[k])
            k += 1
        if not inner:
            return False
        items = lst.items
        starts = [x.span.start for x in items]
        last_row_comment = False
        for c in inner:
            pos = c.span.start
            j = bisect.bisect_right(starts, pos) - 1
            if j < 0 or pos < items[j].span.end:
                return False  # before the first item, or inside an item
            row_line = self._line_of(items[j].span.end - 1)
            if j + 1 == len(items):
                if self._line_of(pos) != row_line:
                    return False  # on its own line after the last item
                last_row_comment = True
            elif self._line_of(items[j + 1].span.start) <= row_line:
                return False  # pragma: no cover - a comment runs to the end of its line
        return not (last_row_comment and self._peek_trailing(end, nxt))

    def _list_lines(self, head: str, value: s.List | s.Daily, depth: int) -> list[Line]:
        """A list value: the source's rows kept (one line each), a row too long for the width
        wrapped greedily, continuation lines aligned after the `[`."""
        lst = value.values if isinstance(value, s.Daily) else value
        prefix = head + ("daily [" if isinstance(value, s.Daily) else "[")
        pad = " " * len(prefix)
        limit = LINE_WIDTH - len(INDENT) * depth
        items = [format_expr(i) for i in lst.items]
        end = "]" + (f" {lst.unit.text}" if lst.unit is not None else "")
        rows = self._rows(lst)
        lines: list[Line] = []
        for r, row in enumerate(rows):
            current = prefix if r == 0 else pad
            fresh = True
            for k in row:
                piece = items[k] + ("," if k + 1 < len(items) else end)
                if not fresh and len(current) + 1 + len(piece) > limit:
                    lines.append(Line(depth, current))
                    current = pad + piece
                else:
                    current += piece if fresh else " " + piece
                fresh = False
            if not items:
                current += end
            lines.append(Line(depth, current))
            if self.row_comments:
                bound = lst.items[rows[r + 1][0]].span.start if r + 1 < len(rows) else lst.span.end
                row_line = self._line_of(lst.items[row[-1]].span.end - 1)
                for c in self._take_before(bound):
                    if self._line_of(c.span.start) == row_line:
                        self._attach(lines[-1], c)
                        self.row_last_comment = c if r + 1 == len(rows) else None
                    else:
                        lines.append(Line(depth, "", comment_text(c), pad=len(pad)))
        return lines

    def _inline(self, body: s.Body, depth: int, head: str = "") -> str | None:
        """The one-line form `{ a = 1; b = 2 }` of a small attribute body, or None."""
        items = [i for i in body.items if isinstance(i, s.Attribute)]
        if not items or len(items) > INLINE_MAX_ITEMS or len(items) != len(body.items):
            return None
        if any(self._multirow(i.value) for i in items):
            return None
        if (
            self.src is not None
            and body.span.source is self.src
            and self._has_comment(body.span.start, body.span.end)
        ):
            return None
        text = "{ " + "; ".join(f"{i.name.value} = {format_expr(i.value)}" for i in items) + " }"
        if len(INDENT) * depth + len(head) + 1 + len(text) > LINE_WIDTH:
            return None
        return text

    def _with_body(
        self, head: str, body: s.Body, depth: int, inline_ok: bool = False
    ) -> list[Line]:
        has_span = self.src is not None and body.span.source is self.src
        if inline_ok:
            one = self._inline(body, depth, head.rstrip())
            if one is not None:
                if has_span:
                    self._take_before(body.span.end)  # none inside (checked); keeps the cursor
                    self.last_end = max(self.last_end, body.span.end)
                return [Line(depth, f"{head} {one}")]
        return self._block(head, body.items, body.span, depth, body.span.start)

    def _block(
        self, head: str, items: Sequence[Any], span: Span, depth: int, open_pos: int
    ) -> list[Line]:
        has_span = self.src is not None and span.source is self.src
        close_pos = span.end - 1 if has_span else self.last_end
        open_end = open_pos + 1 if has_span else self.last_end
        has_comments = has_span and self._has_comment(open_pos, close_pos)
        if not items and not has_comments:
            if has_span:
                self.last_end = max(self.last_end, span.end)
            return [Line(depth, head + " { }")]
        first = Line(depth, head + " {")
        if has_span:
            self.last_end = max(self.last_end, open_end)
            limit = items[0].span.start if items else close_pos
            trailing = self._take_trailing(open_end, limit)
            if trailing is not None:
                self._attach(first, trailing)
                self.last_end = trailing.span.end
            self.last_trailing = None
        inner = self._items(items, depth + 1, open_end, close_pos)
        if has_span:
            self.last_end = max(self.last_end, span.end)
        return [first, *inner, Line(depth, "}")]
