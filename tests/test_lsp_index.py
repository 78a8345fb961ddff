"""The language server's parts without a server: the attribute table against the resolver's,
quantities in base units, the context read from half-written text, positions in UTF-16, the
index of the shipped designs, and completion after `=` and `from`."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as T
from pygls.workspace.position_codec import PositionCodec

from pebdsl import parse
from pebdsl.diagnostics import error
from pebdsl.lsp.adapter import ATTRIBUTES, analyse, base_value
from pebdsl.lsp.attributes import ATTRIBUTE_DOCS
from pebdsl.lsp.index import build, context_at
from pebdsl.lsp.positions import Positions
from pebdsl.lsp.suggest import complete

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = sorted((ROOT / "designs").glob("*.peb"))
SUNNY = (ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8")


def test_attribute_table_is_the_resolvers() -> None:
    """Every context and attribute the resolver accepts has a meaning here, and no other."""
    assert set(ATTRIBUTE_DOCS) == set(ATTRIBUTES)
    for ctx, names in ATTRIBUTES.items():
        assert set(ATTRIBUTE_DOCS[ctx]) == set(names), ctx
        assert all(doc.meaning for doc in ATTRIBUTE_DOCS[ctx].values())


@pytest.mark.parametrize(
    "number,unit,expected",
    [
        ("45", "EUR/MWh", (0.045, "EUR/kWh")),  # 45 / 1000
        ("120", "EUR/kW/year", (10.0, "EUR/kW/month")),  # a year is 12 months
        ("95", "%", (0.95, "")),  # 95 / 100
        ("15", "min", (0.25, "h")),  # 15 / 60
        ("2", "ore/kWh", (0.02, "NOK/kWh")),  # 1 øre = 0.01 NOK
        ("1.5", "MW", (1500.0, "kW")),
        ("10", "kWh", (10.0, "kWh")),
        ("3", "furlong", None),
    ],
)
def test_base_value(number: str, unit: str, expected: tuple[float, str] | None) -> None:
    got = base_value(number, unit)
    if expected is None:
        assert got is None
    else:
        assert got is not None and got[1] == expected[1]
        assert got[0] == pytest.approx(expected[0], rel=1e-12)


@pytest.mark.parametrize(
    "text,stack,stmt",
    [
        ("participant a { battery { cap", ["participant", "battery"], "cap"),
        ("block b {\n  participant a from t {\n    ", ["block", "participant"], ""),
        ('market m { # a { brace\n  type = "{" ; fee = 1', ["market"], "fee = 1"),
        ("market m { members = [a,\n   b", ["market"], "members = [a,\n   b"),
        ("grid { buy = 1 EUR/kWh }\n", [], ""),
        ("dso { link a -- b { cap", ["dso", "link"], "cap"),
    ],
)
def test_context_from_text(text: str, stack: list[str], stmt: str) -> None:
    assert context_at(text, len(text)) == (stack, stmt)


def test_positions_count_utf16_units_and_line_breaks() -> None:
    """`😀` is two UTF-16 units; `ø` one; `\\r\\n` and `\\r` end lines as `\\n` does."""
    text = "a = 1 # 😀 x\r\nb = 2\rø = 3\n"
    pos = Positions(text, PositionCodec())
    x = text.index("x")
    assert pos.position(x) == T.Position(line=0, character=11)  # 10 code points + 1
    assert pos.offset(T.Position(line=0, character=11)) == x
    assert pos.position(text.index("b")) == T.Position(line=1, character=0)
    assert pos.position(text.index("=", text.index("ø"))) == T.Position(line=2, character=2)
    assert pos.offset(T.Position(line=9, character=0)) == len(text)  # clamped


def test_diagnostic_conversion() -> None:
    """Code, severity, hints as `help:` lines, range on the span."""
    tree = parse("series s = 1 kW\n", "x.peb")
    span = tree.decls[0].name.span
    d = error("E101", "unknown series `s`", span, "not declared", ["did you mean `t`?"])
    out = Positions(span.source.text, PositionCodec()).diagnostic(d, "x.peb", "file:///x.peb")
    assert out.code == "E101" and out.severity == T.DiagnosticSeverity.Error
    assert out.message == "unknown series `s`\nnot declared\nhelp: did you mean `t`?"
    assert (out.range.start.character, out.range.end.character) == (7, 8)


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_index_of_shipped_designs(path: Path) -> None:
    """Each name use spells its name; each declared name is found; every shipped design checks
    clean through the server's adapter (as `pebdsl check` does)."""
    text = path.read_text(encoding="utf-8")
    ix = build(parse(text, str(path)), text)
    for u in ix.uses:
        if u.what != "quantity":
            # a use of a name range (`tempe_a[1..9]`) points at its first expanded name
            assert text[u.start : u.end] in {u.name, u.name.rstrip("0123456789")}
    for d in ix.declared:
        assert text[d.start : d.end] in {n.rstrip("0123456789") for n in d.names} | set(d.names)
    assert [d.code for d in analyse(text, str(path)).diagnostics] == []


def test_sunny_street_names() -> None:
    """sunny_street.peb declares 3 series, 1 template, 1 block, 3 participants, 1 market,
    and uses `household` three times (`from household`)."""
    ix = build(parse(SUNNY, "s.peb"), SUNNY)
    kinds = ix.names_of()
    assert {n for n, k in kinds.items() if k == "series"} == {"spot", "solar", "home"}
    assert {n for n, k in kinds.items() if k == "participant"} == {"alice", "bob", "carol"}
    assert [u.decl for u in ix.occurrences("household")] == [True, False, False, False]


def _labels(text: str, index_text: str = SUNNY) -> set[str]:
    ix = build(parse(index_text, "s.peb"), index_text)
    return {i.label for i in complete(text, len(text), ix)}


def test_completion_after_equals_and_from() -> None:
    assert {"p2p", "pool"} <= _labels("market m {\n  type = ")
    # `all` (a value word of `members`), the participants and the block.
    expected = {"all", "alice", "bob", "carol", "sunny_street"}
    assert _labels("market m {\n  members = [") == expected
    assert _labels("participant d from ") == {"household"}
    assert {"spot", "solar", "home"} <= _labels("participant d { load { profile = ")
    top = _labels("")
    assert {"design", "participant", "market", "variant"} <= top
