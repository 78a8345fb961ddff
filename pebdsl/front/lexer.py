"""A Pygments lexer for design files (`*.peb`) and the highlighted HTML the report shows.

Input: design text. Output: Pygments tokens (`PebLexer`, registered as the `peb` lexer through
the `pygments.lexers` entry point, so `pygmentize -l peb` and any Pygments-based tool find it),
and HTML: `highlight_lines` (one escaped, highlighted HTML fragment per source line, for the
report's numbered listing), `highlight_html` (one `<pre>`) with `stylesheet` (CSS classes, no
external file). Raises nothing: text the language does not allow becomes `Error` tokens.

The keyword set is the grammar's (`grammars/pebdsl.lark`, the terminals whose pattern is a
quoted word); tests/test_lexer.py checks that the two agree, so neither can drift.
Units follow the grammar's rule: a word is a unit right after a number, after the `]` of a
list and after `unit =` in a call (`5 kW`, `[1, 2] kW`, `unit = kW`), a name everywhere else.
"""

from __future__ import annotations

import html
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    STANDARD_TYPES,
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

__all__ = [
    "DECLARATION_KEYWORDS",
    "KEYWORDS",
    "PebLexer",
    "highlight_html",
    "highlight_lines",
    "stylesheet",
]

# The grammar's keyword terminals (DESIGN: "design", ...), grouped for colouring.
DECLARATION_KEYWORDS = (
    "design", "horizon", "series", "grid", "template", "block", "participant", "market",
    "product", "dso", "variant", "link", "flexibility", "fees", "goals", "choice",
    "scenarios", "by_scenario", "day_ahead", "intraday",
)  # fmt: skip
ASSET_KEYWORDS = ("load", "pv", "wind", "battery", "flexible", "connection")
OTHER_KEYWORDS = ("from", "without", "set", "daily", "unit", "prefer")
CONSTANTS = ("true", "false")
KEYWORDS = frozenset(DECLARATION_KEYWORDS + ASSET_KEYWORDS + OTHER_KEYWORDS + CONSTANTS)

# Patterns as in the grammar (NAME, UNIT, NUMBER, DATETIME, STRING).
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_UNIT = r"(?:%|[A-Za-z_°µøØ][A-Za-z0-9_°µøØ]*)(?:/[A-Za-z_°µøØ%][A-Za-z0-9_°µøØ]*)*"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_DATETIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_END = r"(?![A-Za-z0-9_])"  # a keyword is a whole word

UNIT_TOKEN = Keyword.Type
"""Units (`kW`, `EUR/kW/month`, `%`) are the language's types: a quantity's unit is its type."""


class PebLexer(RegexLexer):
    """Design files of pebdsl (local electricity market designs)."""

    name = "pebdsl"
    aliases: ClassVar[list[str]] = ["peb", "pebdsl"]
    filenames: ClassVar[list[str]] = ["*.peb"]
    mimetypes: ClassVar[list[str]] = ["text/x-peb"]

    tokens: ClassVar[dict[str, list]] = {  # type: ignore[type-arg]
        "root": [
            (r"[ \t\f\r\ufeff]+", Whitespace),
            (r"\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            (_DATETIME, Number.Other),
            # A number and the unit that follows it on the same line.
            (rf"({_NUMBER})([ \t]*)({_UNIT})", bygroups(Number, Whitespace, UNIT_TOKEN)),
            (_NUMBER, Number),
            # `]` and its unit: `[1, 2] kW` (`house[1..6] from t`: `from` is the keyword).
            (
                rf"(\])([ \t]*)(?!from{_END})({_UNIT})",
                bygroups(Punctuation, Whitespace, UNIT_TOKEN),
            ),
            # `unit = kW` inside a call.
            (
                rf"(unit)([ \t]*)(=)([ \t]*)({_UNIT})",
                bygroups(Keyword, Whitespace, Operator, Whitespace, UNIT_TOKEN),
            ),
            # A declaration keyword and the name it declares.
            (
                rf"(series|template|block|market|product|variant|participant)([ \t]+)({_NAME})"
                rf"{_END}",
                bygroups(Keyword.Declaration, Whitespace, Name.Class),
            ),
            # `.pv` in a path is a name, not the asset keyword; `..` is a range.
            (r"\.\.", Operator),
            (rf"(\.)({_NAME})", bygroups(Punctuation, Name)),
            (words(CONSTANTS, suffix=_END), Keyword.Constant),
            (words(DECLARATION_KEYWORDS, suffix=_END), Keyword.Declaration),
            (words(ASSET_KEYWORDS, suffix=_END), Keyword.Reserved),
            (words(OTHER_KEYWORDS, suffix=_END), Keyword),
            # An attribute name: a word followed by `=` (not `==`, which the language lacks).
            (rf"({_NAME})([ \t]*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (rf"({_NAME})(\()", bygroups(Name.Function, Punctuation)),
            (_NAME, Name),
            (r">=|<=", Operator),  # goals: `peak_import <= 1200 kW`
            (r"->|--|[=+\-*/]", Operator),
            (r"[{}()\[\],;.]", Punctuation),
        ],
        "string": [
            (r'\\["\\]', String.Escape),
            (r'"', String.Double, "#pop"),
            (r'[^"\\\n]+', String.Double),
            # A string ends at its line (grammar: E003 unterminated string).
            (r"\n", Error, "#pop"),
            (r"\\.", Error),
        ],
    }


def _css_class(tok: _TokenType) -> str:
    """The short Pygments class of a token type (`k`, `kd`, `m`, ...), or of its nearest parent."""
    while tok not in STANDARD_TYPES:
        tok = tok.parent
    return STANDARD_TYPES[tok]


def highlight_lines(text: str) -> list[str]:
    """One HTML fragment per line of `text`, cut exactly as `text.splitlines()` cuts it (the
    report numbers those lines): escaped text in `<span class="…">` elements, none crossing a
    line, line breaks left out."""
    # Unprocessed tokens: offsets into `text` as given (get_tokens would rewrite \r\n first).
    toks = [(i, tok, v) for i, tok, v in PebLexer().get_tokens_unprocessed(text) if v]
    out: list[str] = []
    k = 0  # first token that may still overlap the current line
    pos = 0
    for raw in text.splitlines(keepends=True) or [""]:
        line_end = pos + len(raw.splitlines()[0] if raw.splitlines() else "")
        parts: list[str] = []
        while k < len(toks) and toks[k][0] + len(toks[k][2]) <= pos:
            k += 1
        j = k
        while j < len(toks) and toks[j][0] < line_end:
            start, tok, value = toks[j]
            piece = text[max(start, pos) : min(start + len(value), line_end)]
            if piece:
                cls = "" if tok in (Text, Whitespace) else _css_class(tok)
                esc = html.escape(piece)
                parts.append(f'<span class="{cls}">{esc}</span>' if cls else esc)
            j += 1
        out.append("".join(parts))
        pos += len(raw)
    return out


def highlight_html(text: str, css_class: str = "peb") -> str:
    """The whole text as one `<pre class="{css_class}">`; style it with `stylesheet(...)`."""
    body = "\n".join(highlight_lines(text))
    return f'<pre class="{html.escape(css_class)}">{body}</pre>'


def stylesheet(scope: str = "pre.peb", style: str = "default") -> str:
    """CSS for the token classes inside `scope` (token colours only: no page background, so the
    page's own `pre` style stays)."""
    from pygments.formatters import HtmlFormatter

    rules: list[str] = HtmlFormatter(style=style).get_token_style_defs(scope)
    return "\n".join(rules)
