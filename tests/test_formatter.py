"""Formatter tests: golden layouts, idempotence, tree round-trip, comments, and a Hypothesis
property over generated syntax trees (tests/strategies_syntax.py).

Golden files: `tests/golden/format/*.peb` → `*.formatted.peb`; `pytest --update-golden`
rewrites them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from pebdsl import syntax as s
from pebdsl.diagnostics import PebdslError
from pebdsl.formatter import LINE_WIDTH, format_file, format_source
from pebdsl.parser import dump_tree, parse
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
    assert [c.text.rstrip() for c in after.comments] == [c.text.rstrip() for c in before.comments]
    # Only lists are wrapped: a line may exceed the width when a list cannot help it.
    assert all(
        len(line) <= LINE_WIDTH for line in once.splitlines() if line.lstrip()[:1] in ("0", "1")
    )


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
        "  # inside\n"
        "  bb = [1, 2]\n"
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
