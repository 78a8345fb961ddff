"""Formatter tests: golden layouts, idempotence, tree round-trip, comments, and a Hypothesis
property over generated syntax trees (tests/strategies_syntax.py).

Golden files: `tests/golden/format/*.peb` → `*.formatted.peb`; `pytest --update-golden`
rewrites them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pebdsl.diagnostics import PebdslError
from pebdsl.front import syntax as s
from pebdsl.front.formatter import LINE_WIDTH, format_file, format_source
from pebdsl.front.parser import dump_tree, parse
from tests.strategies_syntax import files

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
FORMAT_INPUTS = sorted(
    p for p in (GOLDEN / "format").glob("*.peb") if not p.name.endswith(".formatted.peb")
)
ALL_INPUTS = (
    FORMAT_INPUTS
    + sorted((GOLDEN / "parse").glob("*.peb"))
    + sorted((ROOT / "designs").glob("*.peb"))
)


def _check_golden(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        path.write_text(actual, encoding="utf-8")
        return
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; run pytest --update-golden and review"
    )


@pytest.mark.parametrize("src", FORMAT_INPUTS, ids=lambda p: p.stem)
def test_golden_format(src: Path, update_golden: bool) -> None:
    out = format_source(src.read_text(encoding="utf-8"), src.name)
    _check_golden(src.with_name(src.stem + ".formatted.peb"), out, update_golden)


@pytest.mark.parametrize("src", ALL_INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_idempotent_and_tree_preserving(src: Path) -> None:
    text = src.read_text(encoding="utf-8")
    once = format_source(text, src.name)
    assert format_source(once, src.name) == once
    before, after = parse(text), parse(once)
    assert after == before, "formatting changed the syntax tree"
    comments_before = [c.text.rstrip() for c in before.comments]
    comments_after = [c.text.rstrip() for c in after.comments]
    if _attributes_moved(before):  # their comments move with them: none lost, none added
        assert sorted(comments_after) == sorted(comments_before)
    else:
        assert comments_after == comments_before
    # Only lists and calls are wrapped: a line may exceed the width when they cannot help it.
    assert all(
        len(line) <= LINE_WIDTH for line in once.splitlines() if line.lstrip()[:1] in ("0", "1")
    )


def _attributes_moved(tree: s.File) -> bool:
    """Does a variant of this parsed file have an attribute written after an edit?"""
    return any(
        [it.span.start for it in d.items] != sorted(it.span.start for it in d.items)
        for d in tree.decls
        if isinstance(d, s.VariantDecl)
    )


def test_variant_attributes_move_first_with_their_comments() -> None:
    text = (
        'design "t" { }\n'
        "variant v {\n"
        "  set a.b = 1  # one\n"
        "  # about compare\n"
        "  compare = false  # two\n"
        '  description = "d"\n'
        "}\n"
    )
    once = format_source(text)
    assert once == (
        'design "t" { }\n'
        "\n"
        "variant v {\n"
        "  # about compare\n"
        "  compare     = false  # two\n"
        '  description = "d"\n'
        "  set a.b = 1  # one\n"
        "}\n"
    )
    assert parse(once) == parse(text)
    assert format_source(once) == once
    # Statements sharing a line: the attributes still come first (comments stay in order).
    one_line = 'design "t" { }\nvariant v { set a.b = 1; compare = false }  # c\n'
    out = format_source(one_line)
    assert out.splitlines()[2:5] == ["variant v {", "  compare = false", "  set a.b = 1"]
    assert parse(out) == parse(one_line) and format_source(out) == out


def test_canonical_layout_of_a_small_design() -> None:
    text = (
        'design "t"{currency=EUR}\n'
        "series a=1 kW\nseries bbb=2\n"
        "participant p{pv{profile=solar;peak=6 kWp}\nbattery{capacity=1 kWh}\nconnection=63 kW}\n"
    )
    assert format_source(text) == (
        'design "t" {\n'
        "  currency = EUR\n"
        "}\n"
        "\n"
        "series a   = 1 kW\n"
        "series bbb = 2\n"
        "\n"
        "participant p {\n"
        "  pv      { profile = solar; peak = 6 kWp }\n"
        "  battery { capacity = 1 kWh }\n"
        "  connection = 63 kW\n"
        "}\n"
    )


def test_comments_keep_their_places() -> None:
    text = (
        "# head\n"
        'design "t" {  # open\n'
        "  a = 1   # trailing a\n"
        "  # before b\n"
        "  bb = [1,\n"
        "    # inside\n"
        "    2]\n"
        "  # end of body\n"
        "}\n"
        "# tail\n"
    )
    assert format_source(text) == (
        "# head\n"
        'design "t" {  # open\n'
        "  a  = 1  # trailing a\n"
        "  # before b\n"
        "  bb = [1,\n"
        "        # inside\n"
        "        2]\n"
        "  # end of body\n"
        "}\n"
        "# tail\n"
    )


def test_long_lists_wrap_with_aligned_continuation() -> None:
    values = ", ".join(str(i / 10) for i in range(60))
    out = format_source(f"series s = daily [{values}] kW\n")
    lines = out.splitlines()
    assert len(lines) > 1
    assert all(len(line) <= LINE_WIDTH for line in lines)
    col = lines[0].index("[") + 1
    assert all(line[:col].isspace() and not line[col].isspace() for line in lines[1:])
    assert lines[-1].endswith("] kW")


def test_empty_inputs() -> None:
    assert format_source("") == ""
    assert format_source("\n\n") == ""
    assert format_source("# c\n\n\n# d") == "# c\n\n# d\n"


@pytest.mark.parametrize("text", ["design {", 'series x = "', "\x00", "x = 1"])
def test_format_of_invalid_text_raises_pebdsl_error(text: str) -> None:
    with pytest.raises(PebdslError):
        format_source(text)


def test_hand_built_tree_gets_needed_parentheses() -> None:
    x, y = s.Ref(s.Path(("x",))), s.Ref(s.Path(("y",)))
    tree = s.File((s.SeriesDecl(s.Name("a"), s.BinOp("*", s.BinOp("+", x, y), s.Neg(x))),))
    assert format_file(tree) == "series a = (x + y) * -x\n"


@settings(max_examples=300)
@given(files())
def test_generated_trees_round_trip(tree: s.File) -> None:
    text = format_file(tree)
    parsed = parse(text)
    assert parsed == tree, (
        f"\n{text}\n--- expected\n{dump_tree(tree)}\n--- got\n{dump_tree(parsed)}"
    )
    assert format_file(parsed, text) == text


# ---------------------------------------------------------------------------------------------
# Rows of lists, comments between rows, long calls, comment columns
# ---------------------------------------------------------------------------------------------
SPEC_EXAMPLE = GOLDEN / "format" / "sunny_street.peb"  # the example of docs/language.md


def test_spec_example_is_canonical() -> None:
    text = SPEC_EXAMPLE.read_text(encoding="utf-8")
    assert format_source(text) == text
    assert "55,\n                      50, 48" in text  # two rows of 12 hours


def test_list_rows_are_kept() -> None:
    text = "series s = [1, 2, 3,\n  4, 5,\n        6]\nseries t = [\n  1, 2, 3\n]\n"
    expected = [
        "series s = [1, 2, 3,",
        "            4, 5,",
        "            6]",
        "series t = [1, 2, 3]",
    ]
    assert format_source(text).splitlines() == expected


def test_rows_keep_a_list_value_out_of_a_one_line_body() -> None:
    text = "participant p {\n  load { profile = daily [1, 2,\n 3, 4] kW }\n}\n"
    assert format_source(text) == (
        "participant p {\n"
        "  load {\n"
        "    profile = daily [1, 2,\n"
        "                     3, 4] kW\n"
        "  }\n"
        "}\n"
    )


def test_only_a_row_too_long_for_the_width_is_wrapped() -> None:
    long_row = ", ".join(str(1000 + i) for i in range(30))
    text = f"series s = daily [1, 2,\n{long_row},\n3, 4] kW\n"
    lines = format_source(text).splitlines()
    assert lines[0] == "series s = daily [1, 2,"
    assert lines[-1] == "                  3, 4] kW"
    assert len(lines) > 3  # the long row became several lines
    assert all(len(line) <= LINE_WIDTH for line in lines)
    assert all(line.startswith(" " * 18) and line[18] != " " for line in lines[1:])
    assert format_source(format_source(text)) == format_source(text)


def test_a_long_one_line_list_is_wrapped_greedily_and_then_kept() -> None:
    values = ", ".join(str(i / 10) for i in range(60))
    once = format_source(f"series s = [{values}]\n")
    lines = once.splitlines()
    assert len(lines) == 4
    assert all(len(line) <= LINE_WIDTH < len(line) + 6 for line in lines[:-1])
    assert format_source(once) == once


def test_comments_at_the_end_of_rows_stay_there() -> None:
    text = (
        "series s = daily [1, 2, 3,   # night\n"
        "                  # the day\n"
        "                  4, 5, 6,   # morning\n"
        "                  7, 8, 9]   # evening\n"
    )
    assert format_source(text) == text
    # A comment at the end of the last row, before `]`, becomes the statement's trailing one.
    text = "series x = [1,  # a\n  2  # b\n] kW\n"
    assert format_source(text) == "series x = [1,     # a\n            2] kW  # b\n"


@pytest.mark.parametrize(
    "text",
    [
        "series x = [  # a\n  1,\n  2]\n",  # before the first item
        "series x = [1,  # a\n     2  # b\n] kW  # c\n",  # last row and statement both commented
        "series x = [1,\n     2,\n     # a\n]\n",  # own line after the last item
        "series x = [(1 +  # a\n  2), 3]\n",  # inside an item
    ],
)
def test_comments_that_cannot_stay_in_a_list_all_move_before_it(text: str) -> None:
    out = format_source(text)
    code = [line for line in out.splitlines() if not line.lstrip().startswith("#")]
    assert all("#" not in line for line in code[:-1])
    assert [c.text for c in parse(out).comments] == [c.text for c in parse(text).comments]
    assert format_source(out) == out


def test_long_calls_put_one_argument_per_line() -> None:
    path = "data/pcdg-london-2013-01-01/grid_price_pence_per_kwh.csv"
    text = f'grid {{\n  buy = csv("{path}", column = "price", unit = p/kWh)  # pence\n}}\n'
    out = format_source(text)
    assert out == (
        "grid {\n"
        "  buy = csv(\n"
        f'    "{path}",\n'
        '    column = "price",\n'
        "    unit = p/kWh,\n"
        "  )  # pence\n"
        "}\n"
    )
    assert format_source(out) == out
    assert parse(out) == parse(text)
    # A call that fits stays on one line, also when written over several.
    short = 'grid {\n  buy = csv(\n    "p.csv",\n    unit = p/kWh,\n  )\n}\n'
    assert format_source(short) == 'grid {\n  buy = csv("p.csv", unit = p/kWh)\n}\n'


def test_trailing_comments_keep_the_authors_column_when_their_line_is_kept() -> None:
    text = "grid {\n  buy  = spot     # a\n  sell = spot  # b\n}\n"
    assert format_source(text) == "grid {\n  buy  = spot     # a\n  sell = spot     # b\n}\n"
    # Never closer than two spaces after the code of the run.
    assert format_source("grid {\n  b = s # a\n  sell = spot + 1 # b\n}\n") == (
        "grid {\n  b    = s         # a\n  sell = spot + 1  # b\n}\n"
    )
    # A line whose code changed (here: split into several) takes the canonical column.
    text = "participant p { load { profile = home } ; pv { peak = 1 kWp } }          # c\n"
    assert format_source(text).splitlines()[-1] == "}  # c"


_COMMA = ", "


def _perturb(text: str, rnd: random.Random) -> str:
    """Re-lay canonical text the way people write: rows in lists and calls (line breaks after
    `,`, `[` and before `]`), trailing comments at random columns, own-line comments (also inside
    brackets). The syntax tree stays the same."""
    out: list[str] = []
    depth = 0
    in_string = escaped = False
    n = 0

    def comment(tag: str) -> str:
        nonlocal n
        n += 1
        return " " * rnd.randint(1, 30) + f"# {tag}{n}"

    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if depth and text.startswith(_COMMA, i) and rnd.random() < 0.3:
            out.append("," + (comment("r") if rnd.random() < 0.4 else "") + "\n")
            out.append(" " * rnd.randint(0, 25))
            i += len(_COMMA)
            continue
        if ch == "\n":
            if rnd.random() < 0.3:
                out.append(comment("t"))
            if rnd.random() < 0.1:
                out.append("\n" + " " * rnd.randint(0, 10) + comment("o").lstrip())
        out.append(ch)
        if ch == "[" and rnd.random() < 0.1:
            out.append("\n" + " " * rnd.randint(0, 8))
        i += 1
    return "".join(out)


@settings(max_examples=300)
@given(files(), st.integers(0, 2**32))
def test_hand_laid_out_text_formats_idempotently(tree: s.File, seed: int) -> None:
    text = _perturb(format_file(tree), random.Random(seed))
    assert parse(text) == tree, text
    once = format_source(text)
    assert format_source(once) == once, f"\n{text}\n--- once\n{once}"
    after = parse(once)
    assert after == tree
    assert [c.text.rstrip() for c in after.comments] == [
        c.text.rstrip() for c in parse(text).comments
    ]
