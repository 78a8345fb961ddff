"""The parse in progress: per-thread state, the separator post-lexer, limits, faults.

Input: the token stream of lark's contextual lexer. Output: the same tokens with newlines and
`;` turned into statement separators (`Separators`), the comments collected and the open
brackets tracked in the per-thread `state` (read by `front.diagnose` for its messages).
Raises `Fault` (a diagnostic raised inside lark callbacks, turned into `PebdslError` by
`front.parser.parse`): E006 for brackets nested deeper than `MAX_BRACKETS`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from lark import Token
from lark.lark import PostLex

from pebdsl.diagnostics import Diagnostic, error
from pebdsl.source import SourceFile, Span

MAX_DEPTH = 150
"""Deepest syntax tree accepted (nodes from `File` down). Deeper input is E006, so later stages
(formatter, resolver) may recurse over the tree freely."""
MAX_BRACKETS = 64
"""Deepest nesting of `(`, `[` and `{` accepted (E006); checked while lexing."""


class ParseState(threading.local):
    """Per-thread state of the parse in progress (the Lark instance is shared)."""

    def __init__(self) -> None:
        """No parse in progress: an empty source, no tokens seen."""
        self.source: SourceFile = SourceFile("<string>", "")
        self.comments: list[Token] = []
        self.prev: Token | None = None  # the token before `last`
        self.last: Token | None = None  # the last token handed to the parser
        self.open_braces: list[Token] = []


state = ParseState()

_SEPARATORS = frozenset({"_NL", "SEMI"})
_OPENERS = frozenset({"LPAR", "LSQB", "LBRACE"})
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}


class Separators(PostLex):
    """Newlines and `;` → one `_SEP` per run; newlines vanish inside `( )` and `[ ]`;
    separators after `{` vanish; every `}` is followed by a `_SEP`. Also tracks open brackets
    (for "`{` never closed" messages) and bounds their nesting (E006).

    No look-ahead: the contextual lexer lexes each token in the parser state reached after the
    previous one, which units (`5 kW`) depend on."""

    always_accept = ("_NL", "SEMI")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """The token stream with separators folded (lark calls this once per parse)."""
        ctx = state
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
                    raise Fault(too_deep(span_tok(tok)))
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


def collect_comment(tok: Token) -> Token:
    """Keep a comment token for `File.comments` (lark's lexer callback)."""
    state.comments.append(tok)
    return tok


class Fault(Exception):
    """A diagnostic raised from inside lark callbacks; `parse` turns it into a PebdslError."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        """Carry `diagnostic` out of lark."""
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def span_tok(tok: Token) -> Span:
    """The span of a token in the source being parsed."""
    return Span(state.source, tok.start_pos or 0, tok.end_pos or 0)


def too_deep(span: Span) -> Diagnostic:
    """E006 at `span`: nesting beyond `MAX_BRACKETS` or `MAX_DEPTH`."""
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
