"""The Pygments lexer (pebdsl/front/lexer.py): in step with the grammar, no error token on any
shipped design or docs example, units where the grammar has them, and HTML that is escaped,
line-true and self-contained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, String

from pebdsl.front.lexer import (
    KEYWORDS,
    UNIT_TOKEN,
    PebLexer,
    highlight_html,
    highlight_lines,
    stylesheet,
)

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammars" / "pebdsl.lark"
DESIGNS = sorted((ROOT / "designs").glob("*.peb"))


def grammar_keywords() -> set[str]:
    """The grammar's keyword terminals: `NAME: "word"` lines (punctuation terminals are not
    words, so `LBRACE: "{"` does not match)."""
    text = GRAMMAR.read_text(encoding="utf-8")
    return set(re.findall(r'^[A-Z_]+(?:\.\d+)?:\s*"([a-z_]+)"\s*$', text, flags=re.M))


def doc_blocks() -> list[tuple[str, int, str]]:
    """Every ```peb block of docs/*.md and README.md: (file, line, text)."""
    out = []
    for md in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        lines = md.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```peb":
                j = i + 1
                while j < len(lines) and lines[j].strip() != "```":
                    j += 1
                out.append((md.name, i + 1, "\n".join(lines[i + 1 : j])))
                i = j
            i += 1
    return out


# Examples in docs/errors.md of errors the lexer SHOULD flag: a bad character (E002) and an
# unterminated string (E003) are lexical errors, so error tokens are right there.
LEXICAL_ERRORS = ("E002", "E003")


def _errors(text: str) -> list[tuple[int, str]]:
    return [(i, v) for i, tok, v in PebLexer().get_tokens_unprocessed(text) if tok in Error]


def test_keywords_are_the_grammars() -> None:
    """34 keyword terminals in grammars/pebdsl.lark (DESIGN … UNIT_KW), one set in the lexer."""
    assert grammar_keywords() == set(KEYWORDS)
    assert len(KEYWORDS) == 34  # 20 declaration + 6 asset + 6 other + true/false


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_shipped_designs_have_no_error_token(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _errors(text) == []
    # Lossless: the tokens spell the file again.
    assert "".join(v for _, _, v in PebLexer().get_tokens_unprocessed(text)) == text


BLOCKS = doc_blocks()


@pytest.mark.parametrize("where,line,text", BLOCKS, ids=[f"{f}:{n}" for f, n, _ in BLOCKS])
def test_docs_blocks_have_no_error_token(where: str, line: int, text: str) -> None:
    errs = _errors(text)
    if where == "errors.md" and errs:
        # Only the examples of lexical errors may have them: find the section of this block.
        md = (ROOT / "docs" / where).read_text(encoding="utf-8").splitlines()[:line]
        section = next(ln for ln in reversed(md) if ln.startswith("## "))
        assert section.split()[1] in LEXICAL_ERRORS, (section, errs)
    else:
        assert errs == [], errs


def test_some_docs_blocks_are_lexical_errors() -> None:
    """The exemption above is used: errors.md's E002 example has a character the language
    lacks, and the lexer marks it."""
    assert any(_errors(t) for f, _, t in BLOCKS if f == "errors.md")


def test_units_where_the_grammar_has_them() -> None:
    """`5 kW`, `[1, 2] kW`, `unit = kW` and `EUR/kW/month` are units; `kW` alone is a name, and
    `pv` after a dot is a name, not the asset keyword."""
    text = (
        "series s = [1, 2] kW\n"
        'series c = csv("f.csv", unit = kWh)\n'
        "dso { capacity_charge = 8 EUR/kW/month }\n"
        "x = kW + alice.pv.peak * 95 %\n"
    )
    toks = [(tok, v) for tok, v in PebLexer().get_tokens(text) if v.strip()]
    units = [v for tok, v in toks if tok is UNIT_TOKEN]
    assert units == ["kW", "kWh", "EUR/kW/month", "%"]
    assert (Name, "kW") in toks
    assert (Name, "pv") in toks
    assert (Keyword.Reserved, "pv") not in toks


def test_token_kinds() -> None:
    text = 'design "A \\"b\\"" { }  # note\nhorizon { start = 2021-06-07T06:00; duration = 1e-3 h }'
    toks = list(PebLexer().get_tokens(text))
    kinds = {v: tok for tok, v in toks}
    assert kinds["design"] is Keyword.Declaration
    assert kinds['\\"'] in String.Escape
    assert kinds["# note"] in Comment
    assert kinds["2021-06-07T06:00"] in Number
    assert kinds["1e-3"] in Number
    assert kinds["start"] is Name.Attribute


def test_registered_through_the_entry_point() -> None:
    """`pygmentize -l peb` works: Pygments finds the lexer through pyproject's entry point."""
    assert isinstance(get_lexer_by_name("peb"), PebLexer)
    assert isinstance(get_lexer_for_filename("x.peb"), PebLexer)


def test_html_lines_match_the_source_lines() -> None:
    """One fragment per `splitlines()` line (CRLF and a trailing newline included), and the
    text of each fragment, tags removed and unescaped, is that line."""
    import html

    text = 'design "<b>&" { }\r\n\r\n# a <script>\nseries s = 5 kW\n'
    lines = highlight_lines(text)
    assert len(lines) == len(text.splitlines()) == 4
    for frag, line in zip(lines, text.splitlines(), strict=True):
        assert html.unescape(re.sub(r"<[^>]+>", "", frag)) == line
    assert "<script>" not in "".join(lines) and "&lt;script&gt;" in lines[2]
    assert '<span class="kt">kW</span>' in lines[3]


def test_html_page_is_self_contained() -> None:
    page = highlight_html((ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8"))
    css = stylesheet("pre.peb")
    assert page.startswith('<pre class="peb">') and page.endswith("</pre>")
    rules = css.splitlines()
    assert any(r.startswith("pre.peb .kd {") for r in rules)
    assert any(r.startswith("pre.peb .c1 {") for r in rules)
    for text in (page, css):
        assert "http" not in text and "url(" not in text and "@import" not in text
