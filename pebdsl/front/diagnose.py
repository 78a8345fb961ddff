"""Syntax errors in words: lark's parse errors turned into coded diagnostics.

Input: lark's `UnexpectedInput` with the tokens around it (from `postlex.state`). Output: a
`Diagnostic` naming what was expected and what was found, with a hint where one helps (labelled
bad snippets, an unclosed `{`). Codes: E001 unexpected token, E002 unexpected character (or a
bad escape in a string), E003 unexpected end of input / unterminated string.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from pebdsl.diagnostics import Diagnostic, error
from pebdsl.front.grammar import get_parser
from pebdsl.front.postlex import Fault, span_tok, state
from pebdsl.source import SourceFile, Span

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
        "GOALS",
        "CHOICE",
        "SCENARIOS",
    }
)
# `day_ahead` and `intraday` (grid stages) parse as asset kinds, so they group with them.
_ASSET_KINDS = frozenset(
    {"LOAD", "PV", "WIND", "BATTERY", "FLEXIBLE", "CONNECTION", "DAY_AHEAD", "INTRADAY"}
)
_EXPR_START = frozenset(
    {
        "NUMBER",
        "STRING",
        "NAME",
        "LSQB",
        "LPAR",
        "MINUS",
        "DAILY",
        "BY_SCENARIO",
        "TRUE",
        "FALSE",
        "DATETIME",
    }
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
    for term in get_parser().terminals:
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
        parser = get_parser()
        saved = (state.source, state.comments, state.prev, state.last, state.open_braces)
        try:
            for snippet, by_type, hint in _EXAMPLES:
                state.source = SourceFile("<example>", snippet)
                state.comments = []
                try:
                    parser.parse(snippet)
                except UnexpectedToken as ut:
                    key = (_state_key(ut), ut.token.type if by_type else None)
                    table.setdefault(key, hint)
                except (UnexpectedInput, Fault):  # pragma: no cover - examples are tokens
                    pass
        finally:
            state.source, state.comments, state.prev, state.last, state.open_braces = saved
        _hints = table
    return _hints


def _state_key(ut: UnexpectedToken) -> Any:
    state = ut.state
    return getattr(state, "position", state)


def diagnose(
    e: UnexpectedInput,
    source: SourceFile,
    prev: Token | None,
    last: Token | None,
    open_braces: list[Token],
) -> Diagnostic:
    """The diagnostic of a parse error: `prev` and `last` are the last two tokens the post-lexer
    handed to the parser, `open_braces` the brackets still open when it failed."""
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
        return _unexpected_end(expected, source, last, open_braces)
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
    hints = _token_hints(e, source, before, open_braces)
    return error("E001", message, _token_span(tok, source), f"unexpected {found}", hints)


def _unexpected_end(
    expected: str, source: SourceFile, last: Token | None, open_braces: list[Token]
) -> Diagnostic:
    """E003 at the end of input: at the innermost bracket still open, else where input ends."""
    at = last.end_pos if last is not None and last.end_pos is not None else len(source.text)
    if open_braces:
        ob = open_braces[-1]
        closer = {"LBRACE": "}", "LPAR": ")", "LSQB": "]"}[ob.type]
        line, col = source.line_col(ob.start_pos or 0)
        return error(
            "E003",
            f"unexpected end of input: expected {expected}",
            span_tok(ob),
            f"this `{ob}` is never closed",
            (f"add the missing `{closer}` (the `{ob}` opened at {line}:{col})",),
        )
    return error(
        "E003",
        f"unexpected end of input: expected {expected}",
        Span(source, at, at),
        "input ends here",
    )


_TOP_WORDS = frozenset(
    {
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
)


def _token_hints(
    e: UnexpectedToken, source: SourceFile, before: Token | None, open_braces: list[Token]
) -> list[str]:
    """The hint of the labelled snippet failing in the same state; replaced by "a `}` may be
    missing" when a top-level declaration starts inside a `{` that is still open."""
    tok = e.token
    hints: list[str] = []
    hints_table = _example_hints()
    key = _state_key(e)
    hint = hints_table.get((key, tok.type)) or hints_table.get((key, None))
    if hint:
        hints.append(hint)
    at_top = tok.type in _TOP_KEYWORDS or (
        before is not None and str(before) in _TOP_WORDS and tok.type in ("NAME", "UNIT")
    )
    if at_top and any(b.type == "LBRACE" for b in open_braces):
        ob = next(b for b in reversed(open_braces) if b.type == "LBRACE")
        line, col = source.line_col(ob.start_pos or 0)
        hints.clear()
        hints.append(f"a `}}` may be missing: the `{{` at {line}:{col} is still open")
    return hints


def _token_span(tok: Token, source: SourceFile) -> Span:
    """Where an unexpected token is shown: at least one character, except a separator made of
    no text (after `}`) or one starting at a newline, shown as a point."""
    if tok.type == "_SEP" and not str(tok):
        span = Span(source, tok.start_pos or 0, tok.end_pos or 0)
    else:
        span = Span(source, tok.start_pos or 0, max(tok.end_pos or 0, (tok.start_pos or 0) + 1))
    if tok.type in ("_SEP", "_NL") and str(tok).startswith("\n"):
        span = Span(source, tok.start_pos or 0, tok.start_pos or 0)
    return span


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
