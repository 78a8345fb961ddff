"""The grammar, the syntax tree built while parsing it, and the one shared parser.

Input: `grammars/pebdsl.lark` (shipped inside the wheel, or read from the repository in an
editable install). Output: `grammar_text()` and `get_parser()`, the cached thread-safe Lark
instance: LALR with the contextual lexer and the `postlex.Separators` post-lexer, and lark's
embedded transformer `_Builder` (one method per grammar rule or alias, called on every
reduction), so the parse returns `front.syntax` nodes, each with its `Span`, and no
intermediate parse tree is made. Raises `postlex.Fault` while parsing: E004 invalid name range
(`house[6..1]`, more than `MAX_RANGE` names), E005 invalid number or date.
"""

from __future__ import annotations

import datetime as _dt
import importlib.resources
import math
import threading
from collections.abc import Iterable
from pathlib import Path as _FsPath
from typing import Any

from lark import Lark, Token

from pebdsl.diagnostics import error
from pebdsl.front import syntax as s
from pebdsl.front.postlex import Fault, Separators, collect_comment, span_tok, state
from pebdsl.source import Span

MAX_RANGE = 10_000
"""Most names one range may declare (`house[1..10000]`)."""

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
    return Span(state.source, _start_of(first), _end_of(last if last is not None else first))


def _nodes(children: Iterable[Item]) -> tuple[Any, ...]:
    return tuple(c for c in children if not isinstance(c, Token))


def _name(tok: Token) -> s.Name:
    return s.Name(str(tok), span_tok(tok))


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
        src = state.source
        return s.File(_nodes(c), span=Span(src, 0, len(src.text)))

    def design(self, c: list[Item]) -> s.DesignDecl:
        return s.DesignDecl(self.string([c[1]]), c[2], _span(c[0], c[-1]))

    def horizon(self, c: list[Item]) -> s.HorizonDecl:
        return s.HorizonDecl(c[1], _span(c[0], c[-1]))

    def series(self, c: list[Item]) -> s.SeriesDecl:
        return s.SeriesDecl(_name(c[1]), c[3], _span(c[0], c[-1]))

    def grid(self, c: list[Item]) -> s.GridDecl:
        return s.GridDecl(c[1], _span(c[0], c[-1]))

    def scenarios(self, c: list[Item]) -> s.ScenariosDecl:
        return s.ScenariosDecl(c[1], _span(c[0], c[-1]))

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

    def goals(self, c: list[Item]) -> s.GoalsDecl:
        return s.GoalsDecl(_nodes(c), _span(c[0], c[-1]))

    def goal(self, c: list[Item]) -> s.Goal:
        return s.Goal(c[0], str(c[1]), c[2], False, _span(c[0], c[-1]))

    def prefer_goal(self, c: list[Item]) -> s.Goal:
        return s.Goal(c[1], str(c[2]), c[3], True, _span(c[0], c[-1]))

    def choice(self, c: list[Item]) -> s.ChoiceDecl:
        options = tuple(x for x in c[2:] if isinstance(x, s.VariantDecl))
        return s.ChoiceDecl(_name(c[1]), options, _span(c[0], c[-1]))

    def plain_name(self, c: list[Item]) -> s.Name:
        return _name(c[0])

    def range_name(self, c: list[Item]) -> s.RangeName:
        stem, lo, hi = c[0], c[2], c[4]
        span = _span(c[0], c[-1])
        bounds = []
        for tok in (lo, hi):
            text = str(tok)
            if not text.isdigit():
                raise Fault(
                    error(
                        "E004",
                        f"invalid name range: `{text}` is not a whole number",
                        span_tok(tok),
                        "expected a whole number",
                        ("a range is written `house[1..6]` and declares house1 … house6",),
                    )
                )
            bounds.append(int(text))
        first, last = bounds
        if first > last:
            raise Fault(
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
            raise Fault(
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
            raise Fault(
                error("E005", f"invalid number `{tok}`: out of range", span_tok(tok), "too large")
            )
        return s.Number(value, str(tok), span_tok(tok))

    def quantity(self, c: list[Item]) -> s.Quantity:
        return s.Quantity(self.number([c[0]]), s.Unit(str(c[1]), span_tok(c[1])), _span(c[0], c[1]))

    def string(self, c: list[Item]) -> s.String:
        tok = c[0]
        return s.String(_unescape(str(tok)), span_tok(tok))

    def true(self, c: list[Item]) -> s.Bool:
        return s.Bool(True, span_tok(c[0]))

    def false(self, c: list[Item]) -> s.Bool:
        return s.Bool(False, span_tok(c[0]))

    def datetime(self, c: list[Item]) -> s.DateTime:
        tok = c[0]
        text = str(tok)
        try:
            if "T" in text:
                _dt.datetime.fromisoformat(text)
            else:
                _dt.date.fromisoformat(text)
        except ValueError:
            raise Fault(
                error(
                    "E005",
                    f"invalid date `{text}`",
                    span_tok(tok),
                    "not a calendar date/time",
                    ("dates are written `2021-06-07` or `2021-06-07T06:00`",),
                )
            ) from None
        return s.DateTime(text, span_tok(tok))

    def ref(self, c: list[Item]) -> s.Ref:
        parts = tuple(str(t) for t in c if t.type == "NAME")
        path = s.Path(parts, _span(c[0], c[-1]))
        return s.Ref(path, path.span)

    def list_lit(self, c: list[Item]) -> s.List:
        return s.List(_nodes(c), None, _span(c[0], c[-1]))

    def list_unit(self, c: list[Item]) -> s.List:
        unit_tok = c[-1]
        return s.List(_nodes(c), s.Unit(str(unit_tok), span_tok(unit_tok)), _span(c[0], c[-1]))

    def daily(self, c: list[Item]) -> s.Daily:
        return s.Daily(c[1], _span(c[0], c[1]))

    def by_scenario(self, c: list[Item]) -> s.ByScenario:
        return s.ByScenario(c[1], _span(c[0], c[1]))

    def call(self, c: list[Item]) -> s.Call:
        return s.Call(_name(c[0]), _nodes(c), _span(c[0], c[-1]))

    def paren(self, c: list[Item]) -> s.Paren:
        return s.Paren(c[1], _span(c[0], c[2]))

    def pos_arg(self, c: list[Item]) -> s.Arg:
        return s.Arg(None, c[0], c[0].span)

    def kw_arg(self, c: list[Item]) -> s.Arg:
        return s.Arg(_name(c[0]), c[2], _span(c[0], c[2]))

    def unit_arg(self, c: list[Item]) -> s.Arg:
        unit = s.Unit(str(c[2]), span_tok(c[2]))
        return s.Arg(_name(c[0]), s.UnitValue(unit, unit.span), _span(c[0], c[2]))


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


_parser_lock = threading.Lock()
_parser: Lark | None = None


def get_parser() -> Lark:
    """The shared LALR parser, built once per process (thread-safe)."""
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
        postlex=Separators(),
        transformer=_Builder(),
        lexer_callbacks={"COMMENT": collect_comment},
        propagate_positions=False,
        maybe_placeholders=False,
    )
    text = grammar_text()
    try:
        return Lark(text, cache=True, **kwargs)
    except OSError:  # pragma: no cover - unwritable temp dir: build without the cache
        return Lark(text, **kwargs)
