"""Parse design text into the syntax tree.

Input: design text (and the path it came from, for spans). Output: `pebdsl.front.syntax.File`,
every node with an accurate `Span`; comments are collected in `File.comments`; `dump_tree` gives
a stable span-free text dump of a tree.

The grammar is `grammars/pebdsl.lark` (lark LALR with the contextual lexer, `front.grammar`); a
small post-lexer (`front.postlex.Separators`) turns newlines and `;` into statement separators,
and the tree is built while parsing (lark's embedded transformer), so no intermediate parse tree
is made. Parse errors are put in words by `front.diagnose`.

Raises `PebdslError` and nothing else, on any input:
  E001 unexpected token          E002 unexpected character (or a bad escape in a string)
  E003 unexpected end of input / unterminated string
  E004 invalid name range (`house[6..1]`)     E005 invalid number or date
  E006 expression or nesting too deep
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path as _FsPath

from lark.exceptions import UnexpectedInput

from pebdsl.diagnostics import PebdslError
from pebdsl.front import syntax as s
from pebdsl.front.diagnose import diagnose
from pebdsl.front.grammar import get_parser
from pebdsl.front.postlex import MAX_DEPTH, Fault, state, too_deep
from pebdsl.source import SourceFile, Span

__all__ = ["MAX_DEPTH", "dump_tree", "parse", "parse_file"]


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def parse(text: str, path: str = "<string>") -> s.File:
    """Parse design text. An empty text is a `File` without declarations."""
    source = SourceFile(path, text)
    return _parse_source(source)


def parse_file(path: str | _FsPath) -> s.File:
    """Read (UTF-8; undecodable bytes are replaced and then reported) and parse a design file."""
    return _parse_source(SourceFile.read(path))


def _parse_source(source: SourceFile) -> s.File:
    parser = get_parser()
    ctx = state
    ctx.source = source
    ctx.comments = []
    ctx.prev = ctx.last = None
    ctx.open_braces = []
    try:
        try:
            tree = parser.parse(source.text)
        except Fault as f:
            raise PebdslError(f.diagnostic) from None
        except UnexpectedInput as e:
            raise PebdslError(
                diagnose(e, source, ctx.prev, ctx.last, list(ctx.open_braces))
            ) from None
        except RecursionError:
            raise PebdslError(too_deep(Span(source, 0, 0))) from None
        if not isinstance(tree, s.File):  # pragma: no cover - the grammar's start rule
            raise TypeError(f"parser produced {type(tree).__name__}")
        _check_depth(tree)
        comments = tuple(
            s.Comment(str(t).rstrip("\r"), Span(source, t.start_pos or 0, t.end_pos or 0))
            for t in ctx.comments
        )
        return s.File(tree.decls, comments, tree.span)
    finally:
        ctx.source = SourceFile("<string>", "")
        ctx.comments = []
        ctx.prev = ctx.last = None
        ctx.open_braces = []


def dump_tree(node: object) -> str:
    """A stable, readable, span-free dump of a syntax tree (golden parse files, debugging)."""
    lines: list[str] = []

    def scalar(v: object) -> bool:
        return not isinstance(v, tuple) and not hasattr(v, "__dataclass_fields__")

    def leaf(x: object) -> str | None:
        if isinstance(x, s.Name):
            return f"Name {x.value}"
        if isinstance(x, s.Number):
            return f"Number {x.value!r} {x.text!r}"
        if isinstance(x, s.Quantity):
            return f"Quantity {x.number.value!r} {x.number.text!r} {x.unit.text}"
        if isinstance(x, s.Unit):
            return f"Unit {x.text}"
        if isinstance(x, s.UnitValue):
            return f"UnitValue {x.unit.text}"
        if isinstance(x, s.String):
            return f"String {x.value!r}"
        if isinstance(x, s.Bool):
            return f"Bool {x.value}"
        if isinstance(x, s.DateTime):
            return f"DateTime {x.text}"
        if isinstance(x, s.Ref):
            return f"Ref {x.path}"
        if isinstance(x, s.Path):
            return f"Path {x}"
        if isinstance(x, s.RangeName):
            return f"RangeName {x.stem}[{x.first}..{x.last}]"
        if isinstance(x, s.Comment):
            return f"Comment {x.text!r}"
        return None

    def rec(x: object, label: str, depth: int) -> None:
        pad = "  " * depth
        one = leaf(x)
        if one is not None:
            lines.append(f"{pad}{label}{one}")
            return
        if isinstance(x, s.Attribute):
            value = leaf(x.value)
            if value is not None:
                lines.append(f"{pad}{label}Attribute {x.name.value} = {value}")
                return
            lines.append(f"{pad}{label}Attribute {x.name.value} =")
            rec(x.value, "", depth + 1)
            return
        if not hasattr(x, "__dataclass_fields__"):
            lines.append(f"{pad}{label}{x!r}")
            return
        fields = [(n, getattr(x, n)) for n in getattr(x, "__dataclass_fields__", ()) if n != "span"]
        head = f"{pad}{label}{type(x).__name__}"
        nested = []
        for n, v in fields:
            text = leaf(v)
            if text is not None or v is None or isinstance(v, (str, int, float)):
                head += f" {n}={text if text is not None else repr(v)}"
            else:
                nested.append((n, v))
        lines.append(head)
        for n, v in nested:
            if isinstance(v, tuple):
                lines.append(f"{pad}  {n}: [{']' if not v else ''}")
                for item in v:
                    rec(item, "", depth + 2)
                if v:
                    lines.append(f"{pad}  ]")
            else:
                rec(v, f"{n}: ", depth + 1)

    rec(node, "", 0)
    return "\n".join(lines) + "\n"


def _children(node: object) -> Iterator[object]:
    for name in getattr(node, "__dataclass_fields__", ()):
        if name == "span":
            continue
        v = getattr(node, name)
        if isinstance(v, tuple):
            yield from v
        elif v is not None and hasattr(v, "__dataclass_fields__"):
            yield v


def _check_depth(tree: s.File) -> None:
    """Reject trees deeper than MAX_DEPTH (long `a + b + …` chains, `- - - x`), iteratively."""
    stack: list[tuple[object, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            span = getattr(node, "span", None)
            raise PebdslError(
                too_deep(span if isinstance(span, Span) else Span(tree.span.source, 0, 0))
            )
        for child in _children(node):
            if not isinstance(child, (s.Number, s.String, s.Unit, s.Name, s.Path)):
                stack.append((child, depth + 1))
