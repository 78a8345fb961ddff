"""Parse design text into the syntax tree.

Input: design text (and the path it came from, for spans). Output: `pebdsl.front.syntax.File`, every
node with an accurate `Span`; comments are collected in `File.comments`.

The grammar is `grammars/pebdsl.lark` (lark LALR with the contextual lexer); a small post-lexer
(`_Separators`) turns newlines and `;` into statement separators, and the tree is built while
parsing (lark's embedded transformer), so no intermediate parse tree is made.

Raises `PebdslError` and nothing else, on any input:
  E001 unexpected token          E002 unexpected character (or a bad escape in a string)
  E003 unexpected end of input / unterminated string
  E004 invalid name range (`house[6..1]`)     E005 invalid number or date
  E006 expression or nesting too deep
"""

from __future__ import annotations

import datetime as _dt
import importlib.resources
import math
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path as _FsPath
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.front import syntax as s
from pebdsl.source import SourceFile, Span

__all__ = ["MAX_DEPTH", "MAX_RANGE", "dump_tree", "grammar_text", "parse", "parse_file"]

MAX_DEPTH = 150
"""Deepest syntax tree accepted (nodes from `File` down). Deeper input is E006, so later stages
(formatter, resolver) may recurse over the tree freely."""
MAX_BRACKETS = 64
"""Deepest nesting of `(`, `[` and `{` accepted (E006); checked while lexing."""
MAX_RANGE = 10_000
"""Most names one range may declare (`house[1..10000]`)."""

# ---------------------------------------------------------------------------------------------
# Grammar loading and the cached Lark instance
# ---------------------------------------------------------------------------------------------


def grammar_text() -> str:
    """The grammar: shipped inside the wheel, or read from the repository (editable install)."""
    try:
        res = importlib.resources.files("pebdsl").joinpath("grammars/pebdsl.lark")
        if res.is_file():
            return res.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):  # pragma: no cover
        pass
    repo = _FsPath(__file__).resolve().parents[2] / "grammars" / "pebdsl.lark"
    return repo.read_text(encoding="utf-8")


class _Ctx(threading.local):
    """Per-thread state of the parse in progress (the Lark instance is shared)."""

    def __init__(self) -> None:
        self.source: SourceFile = SourceFile("<string>", "")
        self.comments: list[Token] = []
        self.prev: Token | None = None  # the token before `last`
        self.last: Token | None = None  # the last token handed to the parser
        self.open_braces: list[Token] = []


_ctx = _Ctx()

_SEPARATORS = frozenset({"_NL", "SEMI"})
_OPENERS = frozenset({"LPAR", "LSQB", "LBRACE"})
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}


class _Separators(PostLex):
    """Newlines and `;` → one `_SEP` per run; newlines vanish inside `( )` and `[ ]`;
    separators after `{` vanish; every `}` is followed by a `_SEP`. Also tracks open brackets
    (for "`{` never closed" messages) and bounds their nesting (E006).

    No look-ahead: the contextual lexer lexes each token in the parser state reached after the
    previous one, which units (`5 kW`) depend on."""

    always_accept = ("_NL", "SEMI")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        ctx = _ctx
        stack: list[Token] = []  # open brackets, innermost last
        ctx.open_braces = stack
        inside = 0  # open ( and [ (newlines are not separators there)
        sep_ok = False  # False: a separator here would be redundant (start, after `{`, `_SEP`)
        for tok in stream:
            t = tok.type
            if t in _SEPARATORS:
                if inside and t == "_NL":
                    continue
                if not inside:
                    if not sep_ok:
                        continue
                    tok = Token.new_borrow_pos("_SEP", tok.value, tok)
                    sep_ok = False
            elif t in _OPENERS:
                stack.append(tok)
                if len(stack) > MAX_BRACKETS:
                    raise _Fault(_too_deep(_span_tok(tok)))
                if t != "LBRACE":
                    inside += 1
                sep_ok = t != "LBRACE"
            elif t in _CLOSERS:
                if stack and stack[-1].type == _CLOSERS[t]:
                    stack.pop()
                    if t != "RBRACE":
                        inside -= 1
                sep_ok = True
            else:
                sep_ok = True
            ctx.prev, ctx.last = ctx.last, tok
            yield tok
            if t == "RBRACE" and not inside:
                sep = Token.new_borrow_pos("_SEP", "", tok)
                sep_ok = False
                ctx.prev, ctx.last = ctx.last, sep
                yield sep


def _collect_comment(tok: Token) -> Token:
    _ctx.comments.append(tok)
    return tok


class _Fault(Exception):
    """A diagnostic raised from inside lark callbacks; `parse` turns it into a PebdslError."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# ---------------------------------------------------------------------------------------------
# Building the syntax tree (called by lark on every reduction)
# ---------------------------------------------------------------------------------------------
Item = Any  # a lark Token or a syntax node


def _start_of(x: Item) -> int:
    if isinstance(x, Token):
        return x.start_pos or 0
    return int(x.span.start)


def _end_of(x: Item) -> int:
    if isinstance(x, Token):
        return x.end_pos or 0
    return int(x.span.end)


def _span(first: Item, last: Item | None = None) -> Span:
    return Span(_ctx.source, _start_of(first), _end_of(last if last is not None else first))


def _span_tok(tok: Token) -> Span:
    return Span(_ctx.source, tok.start_pos or 0, tok.end_pos or 0)


def _nodes(children: Iterable[Item]) -> tuple[Any, ...]:
    return tuple(c for c in children if not isinstance(c, Token))


def _name(tok: Token) -> s.Name:
    return s.Name(str(tok), _span_tok(tok))


def _too_deep(span: Span) -> Diagnostic:
    return error(
        "E006",
        "expression nested too deeply",
        span,
        "nesting starts to exceed the limit here",
        (
            f"at most {MAX_BRACKETS} nested brackets and {MAX_DEPTH} levels of syntax are allowed; "
            "split the expression into named series",
        ),
    )


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 1
    end = len(raw) - 1
    while i < end:
        ch = raw[i]
        if ch == "\\" and i + 1 < end:
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class _Builder:
    """The embedded transformer: one method per grammar rule (or alias)."""

    # -- top level ------------------------------------------------------------------------------
    def start(self, c: list[Item]) -> s.File:
        src = _ctx.source
        return s.File(_nodes(c), span=Span(src, 0, len(src.text)))

    def design(self, c: list[Item]) -> s.DesignDecl:
        return s.DesignDecl(self.string([c[1]]), c[2], _span(c[0], c[-1]))

    def horizon(self, c: list[Item]) -> s.HorizonDecl:
        return s.HorizonDecl(c[1], _span(c[0], c[-1]))

    def series(self, c: list[Item]) -> s.SeriesDecl:
        return s.SeriesDecl(_name(c[1]), c[3], _span(c[0], c[-1]))

    def grid(self, c: list[Item]) -> s.GridDecl:
        return s.GridDecl(c[1], _span(c[0], c[-1]))

    def template(self, c: list[Item]) -> s.TemplateDecl:
        return s.TemplateDecl(_name(c[1]), c[2], _span(c[0], c[-1]))

    def block(self, c: list[Item]) -> s.BlockDecl:
        return s.BlockDecl(_name(c[1]), c[2], _span(c[0], c[-1]))

    def participant(self, c: list[Item]) -> s.Participant:
        template = _name(c[3]) if len(c) == 5 else None
        return s.Participant(c[1], template, c[-1], _span(c[0], c[-1]))

    def market(self, c: list[Item]) -> s.MarketDecl:
        return s.MarketDecl(_name(c[1]), c[2], _span(c[0], c[-1]))

    def product(self, c: list[Item]) -> s.ProductDecl:
        return s.ProductDecl(_name(c[1]), c[2], _span(c[0], c[-1]))

    def dso(self, c: list[Item]) -> s.DsoDecl:
        return s.DsoDecl(c[1], _span(c[0], c[-1]))

    def variant(self, c: list[Item]) -> s.VariantDecl:
        items, _lb, rb = c[2]
        # The variant's attributes first (in source order), then its edits in order.
        attrs = tuple(it for it in items if isinstance(it, s.Attribute))
        edits = tuple(it for it in items if not isinstance(it, s.Attribute))
        return s.VariantDecl(_name(c[1]), attrs + edits, _span(c[0], rb))

    def plain_name(self, c: list[Item]) -> s.Name:
        return _name(c[0])

    def range_name(self, c: list[Item]) -> s.RangeName:
        stem, lo, hi = c[0], c[2], c[4]
        span = _span(c[0], c[-1])
        bounds = []
        for tok in (lo, hi):
            text = str(tok)
            if not text.isdigit():
                raise _Fault(
                    error(
                        "E004",
                        f"invalid name range: `{text}` is not a whole number",
                        _span_tok(tok),
                        "expected a whole number",
                        ("a range is written `house[1..6]` and declares house1 … house6",),
                    )
                )
            bounds.append(int(text))
        first, last = bounds
        if first > last:
            raise _Fault(
                error(
                    "E004",
                    f"invalid name range `{stem}[{lo}..{hi}]`: the first number is greater than "
                    "the last",
                    _span(lo, hi),
                    "empty range",
                    (f"write `{stem}[{hi}..{lo}]`",),
                )
            )
        if last - first + 1 > MAX_RANGE:
            raise _Fault(
                error(
                    "E004",
                    f"invalid name range `{stem}[{lo}..{hi}]`: more than {MAX_RANGE} names",
                    _span(lo, hi),
                    "too many names",
                )
            )
        return s.RangeName(str(stem), first, last, span)

    # -- bodies ---------------------------------------------------------------------------------
    def body(self, c: list[Item]) -> s.Body:
        return s.Body(_nodes(c), _span(c[0], c[-1]))

    def vbody(self, c: list[Item]) -> tuple[tuple[Any, ...], Token, Token]:
        return _nodes(c), c[0], c[-1]

    def attribute(self, c: list[Item]) -> s.Attribute:
        key = c[0]
        return s.Attribute(key, c[2], _span(key, c[2]))

    def attr_key(self, c: list[Item]) -> s.Name:
        return _name(c[0])

    def asset_kind(self, c: list[Item]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def asset(self, c: list[Item]) -> s.Asset:
        return s.Asset(str(c[0]), None, c[1], _span(c[0], c[1]))

    def named_asset(self, c: list[Item]) -> s.Asset:
        return s.Asset(str(c[0]), _name(c[1]), c[2], _span(c[0], c[2]))

    def fees(self, c: list[Item]) -> s.FeesTable:
        return s.FeesTable(_nodes(c), _span(c[0], c[-1]))

    def pair_fee(self, c: list[Item]) -> s.PairFee:
        return s.PairFee(_name(c[0]), _name(c[2]), c[4], _span(c[0], c[4]))

    def link(self, c: list[Item]) -> s.Link:
        return s.Link(_name(c[1]), _name(c[3]), c[4], _span(c[0], c[4]))

    def flexibility(self, c: list[Item]) -> s.Flexibility:
        return s.Flexibility(_name(c[1]), c[2], _span(c[0], c[2]))

    # -- variants -------------------------------------------------------------------------------
    def without(self, c: list[Item]) -> s.Without:
        return s.Without(None, c[1], _span(c[0], c[1]))

    def without_kind(self, c: list[Item]) -> s.Without:
        return s.Without(str(c[1]), c[2], _span(c[0], c[2]))

    def without_link(self, c: list[Item]) -> s.Without:
        path = s.Path((str(c[2]), str(c[4])), _span(c[2], c[4]))
        return s.Without("link", path, _span(c[0], c[4]))

    def set_edit(self, c: list[Item]) -> s.SetEdit:
        return s.SetEdit(None, c[1], c[3], _span(c[0], c[3]))

    def set_kind(self, c: list[Item]) -> s.SetEdit:
        return s.SetEdit(str(c[1]), c[2], c[4], _span(c[0], c[4]))

    def edit_kind(self, c: list[Item]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def target(self, c: list[Item]) -> s.Path:
        parts = tuple(str(t) for t in c if t.type != "DOT")
        return s.Path(parts, _span(c[0], c[-1]))

    def target_part(self, c: list[Item]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    # -- expressions ----------------------------------------------------------------------------
    def binop(self, c: list[Item]) -> s.BinOp:
        return s.BinOp(str(c[1]), c[0], c[2], _span(c[0], c[2]))

    def neg(self, c: list[Item]) -> s.Expr:
        minus, x = c
        span = _span(minus, x)
        # `-3` and `-3 kW` are literals: the sign folds into the number (as LANGUAGE.md lists
        # `-3` among numbers). `--3` stays a negation of `-3`.
        if isinstance(x, s.Number) and not x.text.startswith("-"):
            return s.Number(-x.value, "-" + x.text, span)
        if isinstance(x, s.Quantity) and not x.number.text.startswith("-"):
            n = x.number
            num = s.Number(-n.value, "-" + n.text, Span(span.source, span.start, n.span.end))
            return s.Quantity(num, x.unit, span)
        return s.Neg(x, span)

    def number(self, c: list[Item]) -> s.Number:
        tok = c[0]
        value = float(tok)
        if not math.isfinite(value):
            raise _Fault(
                error("E005", f"invalid number `{tok}`: out of range", _span_tok(tok), "too large")
            )
        return s.Number(value, str(tok), _span_tok(tok))

    def quantity(self, c: list[Item]) -> s.Quantity:
        return s.Quantity(
            self.number([c[0]]), s.Unit(str(c[1]), _span_tok(c[1])), _span(c[0], c[1])
        )

    def string(self, c: list[Item]) -> s.String:
        tok = c[0]
        return s.String(_unescape(str(tok)), _span_tok(tok))

    def true(self, c: list[Item]) -> s.Bool:
        return s.Bool(True, _span_tok(c[0]))

    def false(self, c: list[Item]) -> s.Bool:
        return s.Bool(False, _span_tok(c[0]))

    def datetime(self, c: list[Item]) -> s.DateTime:
        tok = c[0]
        text = str(tok)
        try:
            if "T" in text:
                _dt.datetime.fromisoformat(text)
            else:
                _dt.date.fromisoformat(text)
        except ValueError:
            raise _Fault(
                error(
                    "E005",
                    f"invalid date `{text}`",
                    _span_tok(tok),
                    "not a calendar date/time",
                    ("dates are written `2021-06-07` or `2021-06-07T06:00`",),
                )
            ) from None
        return s.DateTime(text, _span_tok(tok))

    def ref(self, c: list[Item]) -> s.Ref:
        parts = tuple(str(t) for t in c if t.type == "NAME")
        path = s.Path(parts, _span(c[0], c[-1]))
        return s.Ref(path, path.span)

    def list_lit(self, c: list[Item]) -> s.List:
        return s.List(_nodes(c), None, _span(c[0], c[-1]))

    def list_unit(self, c: list[Item]) -> s.List:
        unit_tok = c[-1]
        return s.List(_nodes(c), s.Unit(str(unit_tok), _span_tok(unit_tok)), _span(c[0], c[-1]))

    def daily(self, c: list[Item]) -> s.Daily:
        return s.Daily(c[1], _span(c[0], c[1]))

    def call(self, c: list[Item]) -> s.Call:
        return s.Call(_name(c[0]), _nodes(c), _span(c[0], c[-1]))

    def paren(self, c: list[Item]) -> s.Paren:
        return s.Paren(c[1], _span(c[0], c[2]))

    def pos_arg(self, c: list[Item]) -> s.Arg:
        return s.Arg(None, c[0], c[0].span)

    def kw_arg(self, c: list[Item]) -> s.Arg:
        return s.Arg(_name(c[0]), c[2], _span(c[0], c[2]))

    def unit_arg(self, c: list[Item]) -> s.Arg:
        unit = s.Unit(str(c[2]), _span_tok(c[2]))
        return s.Arg(_name(c[0]), s.UnitValue(unit, unit.span), _span(c[0], c[2]))


_parser_lock = threading.Lock()
_parser: Lark | None = None


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        with _parser_lock:
            if _parser is None:
                _parser = _build_parser()
    return _parser


def _build_parser() -> Lark:
    kwargs: dict[str, Any] = dict(
        parser="lalr",
        lexer="contextual",
        postlex=_Separators(),
        transformer=_Builder(),
        lexer_callbacks={"COMMENT": _collect_comment},
        propagate_positions=False,
        maybe_placeholders=False,
    )
    text = grammar_text()
    try:
        return Lark(text, cache=True, **kwargs)
    except OSError:  # pragma: no cover - unwritable temp dir: build without the cache
        return Lark(text, **kwargs)


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
    parser = _get_parser()
    ctx = _ctx
    ctx.source = source
    ctx.comments = []
    ctx.prev = ctx.last = None
    ctx.open_braces = []
    try:
        try:
            tree = parser.parse(source.text)
        except _Fault as f:
            raise PebdslError(f.diagnostic) from None
        except UnexpectedInput as e:
            raise PebdslError(
                _diagnose(e, source, ctx.prev, ctx.last, list(ctx.open_braces))
            ) from None
        except RecursionError:
            raise PebdslError(_too_deep(Span(source, 0, 0))) from None
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
                _too_deep(span if isinstance(span, Span) else Span(tree.span.source, 0, 0))
            )
        for child in _children(node):
            if not isinstance(child, (s.Number, s.String, s.Unit, s.Name, s.Path)):
                stack.append((child, depth + 1))


# ---------------------------------------------------------------------------------------------
# Syntax errors in words
# ---------------------------------------------------------------------------------------------


_TOP_KEYWORDS = frozenset(
    {
        "DESIGN",
        "HORIZON",
        "SERIES",
        "GRID",
        "TEMPLATE",
        "BLOCK",
        "MARKET",
        "PRODUCT",
        "DSO",
        "VARIANT",
    }
)
_ASSET_KINDS = frozenset({"LOAD", "PV", "WIND", "BATTERY", "FLEXIBLE", "CONNECTION"})
_EXPR_START = frozenset(
    {"NUMBER", "STRING", "NAME", "LSQB", "LPAR", "MINUS", "DAILY", "TRUE", "FALSE", "DATETIME"}
)
_OPERATORS = frozenset({"PLUS", "MINUS", "STAR", "SLASH"})
_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "UNIT": "a unit",
    "DATETIME": "a date",
    "_SEP": "the end of the statement",
    "_NL": "the end of the statement",
    "SEMI": "the end of the statement",
    "$END": "end of input",
}
# Groups of expected tokens described in one phrase: (must all be expected, removed, phrase).
_GROUPS: tuple[tuple[frozenset[str], frozenset[str], str], ...] = (
    (
        frozenset({"WITHOUT", "SET"}),
        frozenset({"WITHOUT", "SET", "PARTICIPANT", "NAME"}) | _TOP_KEYWORDS | _ASSET_KINDS,
        "a variant item (`without …`, `set …`, `name = value`, a declaration)",
    ),
    (
        frozenset({"DESIGN", "HORIZON", "MARKET"}),
        _TOP_KEYWORDS | _ASSET_KINDS | {"PARTICIPANT"},
        "a declaration (`design`, `horizon`, `series`, `participant`, `market`, …)",
    ),
    (
        frozenset({"FEES", "LINK", "FLEXIBILITY"}),
        _ASSET_KINDS | {"NAME", "PARTICIPANT", "FEES", "LINK", "FLEXIBILITY"},
        "a statement (`name = value`, `pv { … }`, `participant …`)",
    ),
    (frozenset({"NUMBER", "STRING", "LSQB"}), _EXPR_START, "a value"),
    (frozenset({"PLUS", "STAR", "SLASH"}), _OPERATORS, "an operator"),
)
_ORDER = (
    "EQ",
    "LBRACE",
    "RBRACE",
    "LPAR",
    "RPAR",
    "LSQB",
    "RSQB",
    "COMMA",
    "DOT",
    "DOTDOT",
    "ARROW",
    "DASHDASH",
    "FROM",
)


def _terminal_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    for term in _get_parser().terminals:
        if term.pattern.type == "str":
            texts[term.name] = f"`{term.pattern.value}`"
    return texts


def _describe_expected(expected: Iterable[str]) -> str:
    exp = set(expected)
    phrases: list[str] = []
    for need, remove, phrase in _GROUPS:
        if need <= exp:
            exp -= remove
            phrases.append(phrase)
    texts = _terminal_texts()
    words: list[str] = []
    for t in sorted(exp, key=lambda t: (_ORDER.index(t) if t in _ORDER else len(_ORDER), t)):
        w = _WORDS.get(t) or texts.get(t) or f"`{t.lower()}`"
        if w not in words and t != "$END":
            words.append(w)
    sep = "the end of the statement"
    items = [w for w in words if w != sep] + phrases + ([sep] if sep in words else [])
    if "$END" in exp:
        items.append("end of input")
    if not items:
        return "something else"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _short(text: str, limit: int = 24) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_token(tok: Token) -> str:
    t, v = tok.type, str(tok)
    if t == "$END":
        return "end of input"
    if t == "_SEP":
        return "`;`" if v == ";" else "end of line" if v else "end of the declaration"
    if t in ("_NL",):
        return "end of line"
    if t == "NAME" or (t == "UNIT" and v[:1].isalpha() and v.replace("_", "a").isalnum()):
        return f"name `{_short(v)}`"
    if t == "NUMBER":
        return f"number `{_short(v)}`"
    if t == "STRING":
        return f"string {_short(v)}"
    if t == "UNIT":
        return f"unit `{_short(v)}`"
    if t == "DATETIME":
        return f"date `{v}`"
    if v.isalpha():
        return f"keyword `{v}`"
    return f"`{_short(v)}`"


# Labelled bad snippets (after lark's examples/advanced/error_reporting_lalr.py): an error in the
# same parser state (and, where given, on the same kind of token) gets the snippet's hint.
_EXAMPLES: tuple[tuple[str, bool, str], ...] = (
    # (snippet, match the token type too, hint)
    ('design "t" { currency EUR }', False, "an attribute is written `name = value`"),
    ("template t { pv { peak 6 kWp } }", False, "an attribute is written `name = value`"),
    ("series s 5", False, "a series is declared `series NAME = EXPR`"),
    ("variant v { set a.b 8 kWp }", False, "an edit is written `set PATH = VALUE`"),
    ("series s = kW 5", True, "a quantity is written number first: `5 kW`"),
    ("series s = [kW 5]", True, "a quantity is written number first: `5 kW`"),
    ("series s = f(kW 5)", True, "a quantity is written number first: `5 kW`"),
    ("series s = [1 2]", True, "separate list items with `,`"),
    ("series s = [1 kW 2]", True, "separate list items with `,`"),
    ("series s = [x 2]", True, "separate list items with `,`"),
    ("series s = [x y]", True, "separate list items with `,`"),
    ('design "t" { a = 1 b = 2 }', True, "separate statements on one line with `;`"),
    ('design "t" { a = x b = 2 }', True, "separate statements on one line with `;`"),
    ('design "t" { a = "x" b = 2 }', True, "separate statements on one line with `;`"),
    ("series a = 1 series b = 2", True, "separate statements on one line with `;`"),
    ("series a = x series b = 2", True, "separate statements on one line with `;`"),
)
_hints: dict[tuple[Any, str | None], str] | None = None


def _example_hints() -> dict[tuple[Any, str | None], str]:
    global _hints
    if _hints is None:
        table: dict[tuple[Any, str | None], str] = {}
        parser = _get_parser()
        saved = (_ctx.source, _ctx.comments, _ctx.prev, _ctx.last, _ctx.open_braces)
        try:
            for snippet, by_type, hint in _EXAMPLES:
                _ctx.source = SourceFile("<example>", snippet)
                _ctx.comments = []
                try:
                    parser.parse(snippet)
                except UnexpectedToken as ut:
                    key = (_state_key(ut), ut.token.type if by_type else None)
                    table.setdefault(key, hint)
                except (UnexpectedInput, _Fault):  # pragma: no cover - examples are tokens
                    pass
        finally:
            _ctx.source, _ctx.comments, _ctx.prev, _ctx.last, _ctx.open_braces = saved
        _hints = table
    return _hints


def _state_key(ut: UnexpectedToken) -> Any:
    state = ut.state
    return getattr(state, "position", state)


def _diagnose(
    e: UnexpectedInput,
    source: SourceFile,
    prev: Token | None,
    last: Token | None,
    open_braces: list[Token],
) -> Diagnostic:
    text = source.text
    if isinstance(e, UnexpectedCharacters):
        return _bad_character(e.pos_in_stream or 0, source)
    if not isinstance(e, UnexpectedToken):  # pragma: no cover - LALR raises only these two
        pos = e.pos_in_stream or 0
        return error("E001", "syntax error", Span(source, pos, pos + 1))
    tok = e.token
    try:  # the exact continuations (LALR's `expected` includes merged-state look-aheads)
        accepts = set(e.accepts or ()) or set(e.expected)
    except Exception:  # pragma: no cover - defensive: fall back to the table's view
        accepts = set(e.expected)
    expected = _describe_expected(accepts)
    if tok.type == "$END":
        at = last.end_pos if last is not None and last.end_pos is not None else len(text)
        if open_braces:
            ob = open_braces[-1]
            closer = {"LBRACE": "}", "LPAR": ")", "LSQB": "]"}[ob.type]
            line, col = source.line_col(ob.start_pos or 0)
            return error(
                "E003",
                f"unexpected end of input: expected {expected}",
                _span_tok(ob),
                f"this `{ob}` is never closed",
                (f"add the missing `{closer}` (the `{ob}` opened at {line}:{col})",),
            )
        return error(
            "E003",
            f"unexpected end of input: expected {expected}",
            Span(source, at, at),
            "input ends here",
        )
    # The token before the offending one: lexer-level mismatches never reached the post-lexer.
    before = prev if last is not None and last.start_pos == tok.start_pos else last
    found = _describe_token(tok)
    if (
        before is not None
        and before.type != "LBRACE"
        and not (before.type == "_SEP" and str(before))
    ):
        shown = "}" if before.type == "_SEP" else _short(str(before))
        message = f"expected {expected} after `{shown}`, found {found}"
    else:
        message = f"expected {expected}, found {found}"
    hints: list[str] = []
    hints_table = _example_hints()
    key = _state_key(e)
    hint = hints_table.get((key, tok.type)) or hints_table.get((key, None))
    if hint:
        hints.append(hint)
    top_words = {
        "design",
        "horizon",
        "series",
        "grid",
        "template",
        "block",
        "market",
        "product",
        "dso",
        "variant",
    }
    at_top = tok.type in _TOP_KEYWORDS or (
        before is not None and str(before) in top_words and tok.type in ("NAME", "UNIT")
    )
    if at_top and any(b.type == "LBRACE" for b in open_braces):
        ob = next(b for b in reversed(open_braces) if b.type == "LBRACE")
        line, col = source.line_col(ob.start_pos or 0)
        hints.clear()
        hints.append(f"a `}}` may be missing: the `{{` at {line}:{col} is still open")
    if tok.type == "_SEP" and not str(tok):
        span = Span(source, tok.start_pos or 0, tok.end_pos or 0)
    else:
        span = Span(source, tok.start_pos or 0, max(tok.end_pos or 0, (tok.start_pos or 0) + 1))
    if tok.type in ("_SEP", "_NL") and str(tok).startswith("\n"):
        span = Span(source, tok.start_pos or 0, tok.start_pos or 0)
    return error("E001", message, span, f"unexpected {found}", hints)


def _bad_character(pos: int, source: SourceFile) -> Diagnostic:
    text = source.text
    ch = text[pos] if pos < len(text) else ""
    if ch == '"':
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        i = pos + 1
        while i < end:
            c = text[i]
            if c == "\\":
                nxt = text[i + 1] if i + 1 < end else ""
                if nxt not in ('"', "\\"):
                    shown = f"\\{nxt}" if nxt.isprintable() and nxt else "\\"
                    return error(
                        "E002",
                        f"invalid escape `{shown}` in a string",
                        Span(source, i, i + (2 if nxt else 1)),
                        "not an escape",
                        ('only `\\"` and `\\\\` are escapes in strings',),
                    )
                i += 2
                continue
            if c == '"':
                break
            i += 1
        else:
            return error(
                "E003",
                "unterminated string",
                Span(source, pos, end),
                "this string is not closed",
                ('a string ends with `"` on the same line',),
            )
        return error(
            "E002", "a string is not expected here", Span(source, pos, i + 1), "unexpected string"
        )
    hints: tuple[str, ...] = ()
    if ch == ":":
        hints = ("use `=` to set an attribute, not `:`",)
    elif ch == "'":
        hints = ('strings are written in double quotes: `"…"`',)
    elif ch == "\ufffd":
        hints = ("the file is not valid UTF-8 here",)
    if ch.isprintable() and not ch.isspace():
        shown = f"`{ch}`"
    else:
        shown = f"U+{ord(ch):04X}" if ch else "end of input"
    return error(
        "E002", f"unexpected character {shown}", Span(source, pos, pos + 1), "not valid here", hints
    )
