"""Parser tests: every construct of LANGUAGE.md, spans, golden trees and golden syntax errors.

Golden files: `tests/golden/parse/*.peb` → `*.tree` (span-free dumps) and
`tests/golden/syntax_errors/*.peb` → `*.txt` (rendered diagnostics); rewrite them with
`pytest --update-golden` and review the diff like code.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pebdsl.diagnostics import PebdslError
from pebdsl.front import syntax as s
from pebdsl.front.grammar import grammar_text
from pebdsl.front.parser import MAX_DEPTH, dump_tree, parse, parse_file

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
DESIGNS = sorted((ROOT / "designs").glob("*.peb"))

HEAD = 'design "t" { currency = EUR }\n'


def one(text: str) -> object:
    """The single declaration after the design header."""
    f = parse(HEAD + text)
    assert len(f.decls) == 2, f.decls
    return f.decls[1]


def body_item(text: str, decl: str = "participant p") -> object:
    d = one(f"{decl} {{\n{text}\n}}")
    items = d.body.items  # type: ignore[attr-defined]
    assert len(items) == 1, items
    return items[0]


def value(expr: str) -> s.Expr:
    d = one(f"series x = {expr}")
    assert isinstance(d, s.SeriesDecl)
    return d.value


def codes(text: str) -> list[str]:
    with pytest.raises(PebdslError) as ei:
        parse(text)
    return ei.value.codes


# ---------------------------------------------------------------------------------------------
# LANGUAGE.md: the complete example and every fragment
# ---------------------------------------------------------------------------------------------
LANGUAGE_FRAGMENTS = {
    "office": """
participant office {
  load     { profile = office_load }                        # kW demand, or
  # load   { profile = standard_load("G1"); annual = 120 MWh }   # profile scaled
  pv       { profile = solar; peak = 120 kWp }              # output = peak x profile
  wind     { profile = wind_office }                        # kW, curtailable
  battery  { capacity = 200 kWh; power = 100 kW; efficiency = 95 %
             min_soc = 10 %; initial = 50 %; final = initial
             charge_from = any }                            # `local`: only from local generation
  flexible { share = 20 %; window = 4 h; cost = 1 ct/kWh }  # part of the load may move
  connection = 63 kW                                       # the participant's own connection
  # connection { import = 63 kW; export = 20 kW }          # or each direction on its own
}""",
    "product": """
product local_green {
  origin  = [pv, wind]        # only energy from these assets may be sold as this product
  premium = 1 ct/kWh          # buyers value it this much above plain energy
}
market street_p2p { type = p2p; members = sunny_street; products = [energy, local_green] }""",
    "dso": """
dso {
  energy_charge   = 4.5 ct/kWh          # per kWh imported from the upstream grid
  capacity_charge = 8 EUR/kW/month      # per kW of each participant's highest import
  link sluppen -- brattora { capacity = 200 kW; loss = 1 %; fee = 1 ct/kWh }
  flexibility sluppen { limit = 250 kW; price = 30 ct/kWh }   # buys flexibility to keep the
                                                              # block's import under the limit
  reinforcement_cost = 120 EUR/kW/year  # values the peak reduction of each design
}""",
    "variant": """
variant v {
  without market street_p2p
  without alice.battery; without *.battery; without participant carol
  set market street_p2p.fee = 0.5 ct/kWh
  set alice.pv.peak = 8 kWp
  market extra { type = pool; members = all }
  battery shared { capacity = 50 kWh }
  participant dave { load { profile = home } }
  horizon { duration = 365 d }
  grid { sell = none }
  dso { energy_charge = 5 ct/kWh }
}""",
    "series": """
series a = [1, 2, 3] kW
series b = daily [40, 38, 37] EUR/MWh
series c = csv("file.csv", column = "H5", unit = kW)
series d = csv("file.csv", column = "H5", unit = kW, missing = 0)
series e = 0.05 EUR/kWh
series f = spot + 5 ct/kWh
series g = 1.25 * spot
series h = solar(63.43, 10.39, tilt = 35 deg, azimuth = 180 deg)
series i = standard_load("H0")""",
    "fees": """
market m {
  type = p2p
  fees { alice -> bob = 0.5 ct/kWh; bob -> alice = 0.7 ct/kWh }
  operator = dso
}""",
    "quantities": """
horizon {
  a = 5 kW; b = 10 kWh; c = 6 kWp; d = 95 %; e = 0.30 EUR/kWh; f = 45 EUR/MWh; g = 2 ct/kWh
  h = 8 EUR/kW/month; i = 30 min; j = 7 d; k = 35 deg; l = 12; m = 0.5; n = -3; o = 1e-3
  p = 2 p/kWh; q = 3 ore/kWh; r = 1 week
  start = 2021-06-07; end = 2021-06-07T06:00
}""",
    "rejected_but_parses": """
participant p { battery { capacity = 10 kW } }
market mm { members = [alice, bobb]; fee = 1 }
series s = [1, 2, 3] kW
participant alice { } participant alice { }""",
}


def test_complete_example_parses() -> None:
    f = parse_file(ROOT / "designs" / "sunny_street.peb")
    kinds = [type(d).__name__ for d in f.decls]
    assert kinds == [
        "DesignDecl", "HorizonDecl", "SeriesDecl", "SeriesDecl", "SeriesDecl", "GridDecl",
        "TemplateDecl", "BlockDecl", "MarketDecl", "DsoDecl", "VariantDecl",
    ]  # fmt: skip
    assert len(f.comments) == 10
    block = f.decls[7]
    assert isinstance(block, s.BlockDecl)
    conn = block.body.items[0]
    assert isinstance(conn, s.Attribute) and conn.name.value == "connection"
    assert conn.value == s.Quantity(s.Number(50), s.Unit("kW"))
    alice = block.body.items[1]
    assert isinstance(alice, s.Participant) and alice.template == s.Name("household")
    assert [a.kind for a in alice.body.items] == ["pv", "battery"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(LANGUAGE_FRAGMENTS))
def test_language_fragments_parse(name: str) -> None:
    f = parse(HEAD + LANGUAGE_FRAGMENTS[name])
    assert len(f.decls) >= 2


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_every_design_parses(path: Path) -> None:
    parse_file(path)


# ---------------------------------------------------------------------------------------------
# Constructs
# ---------------------------------------------------------------------------------------------
def test_connection_attribute_and_asset() -> None:
    attr = body_item("connection = 63 kW")
    assert attr == s.Attribute(s.Name("connection"), s.Quantity(s.Number(63), s.Unit("kW")))
    asset = body_item("connection { import = 63 kW; export = 20 kW }")
    assert isinstance(asset, s.Asset) and asset.kind == "connection" and asset.name is None
    assert [a.name.value for a in asset.body.items] == ["import", "export"]  # type: ignore


def test_shared_battery_in_block_and_at_top_level() -> None:
    b = body_item("battery shared { capacity = 1 kWh }", decl="block b")
    assert isinstance(b, s.Asset) and b.kind == "battery" and b.name == s.Name("shared")
    top = one("battery community { capacity = 100 kWh }")
    assert isinstance(top, s.Asset) and top.name == s.Name("community")


def test_name_range_and_template() -> None:
    p = one("participant house[1..6] from household { }")
    assert isinstance(p, s.Participant)
    assert p.name == s.RangeName("house", 1, 6)
    assert p.name.expand() == [f"house{i}" for i in range(1, 7)]  # type: ignore[union-attr]
    assert p.template == s.Name("household")


def test_keyword_values_are_refs() -> None:
    m = one("market m { type = p2p; members = all; operator = dso; origin = [pv, wind] }")
    vals = {a.name.value: a.value for a in m.body.items}  # type: ignore[attr-defined]
    assert vals["type"] == s.Ref(s.Path(("p2p",)))
    assert vals["operator"] == s.Ref(s.Path(("dso",)))
    assert vals["origin"] == s.List((s.Ref(s.Path(("pv",))), s.Ref(s.Path(("wind",)))))
    assert value("none") == s.Ref(s.Path(("none",)))
    assert value("alice.battery") == s.Ref(s.Path(("alice", "battery")))


def test_keywords_as_names_where_unambiguous() -> None:
    # Contextual keywords: `pv` is a name after `participant`, in values and in paths.
    p = one("participant pv { pv = 3 }")
    assert p.name == s.Name("pv")  # type: ignore[attr-defined]
    assert p.body.items[0] == s.Attribute(s.Name("pv"), s.Number(3))  # type: ignore


def test_variant_edits() -> None:
    v = one(LANGUAGE_FRAGMENTS["variant"])
    assert isinstance(v, s.VariantDecl)
    w = v.items[:4]
    assert w == (
        s.Without("market", s.Path(("street_p2p",))),
        s.Without(None, s.Path(("alice", "battery"))),
        s.Without(None, s.Path(("*", "battery"))),
        s.Without("participant", s.Path(("carol",))),
    )
    assert v.items[4] == s.SetEdit(
        "market", s.Path(("street_p2p", "fee")), s.Quantity(s.Number(0.5), s.Unit("ct/kWh"))
    )
    assert v.items[5] == s.SetEdit(
        None, s.Path(("alice", "pv", "peak")), s.Quantity(s.Number(8), s.Unit("kWp"))
    )
    kinds = [type(i).__name__ for i in v.items[6:]]
    assert kinds == ["MarketDecl", "Asset", "Participant", "HorizonDecl", "GridDecl", "DsoDecl"]
    link = one("variant v { without link a -- b }")
    assert link.items == (s.Without("link", s.Path(("a", "b"))),)  # type: ignore[attr-defined]


def test_fees_links_flexibility() -> None:
    m = one(LANGUAGE_FRAGMENTS["fees"])
    fees = m.body.items[1]  # type: ignore[attr-defined]
    assert isinstance(fees, s.FeesTable)
    assert fees.entries[0] == s.PairFee(
        s.Name("alice"), s.Name("bob"), s.Quantity(s.Number(0.5), s.Unit("ct/kWh"))
    )
    d = one(LANGUAGE_FRAGMENTS["dso"])
    link, flex = d.body.items[2], d.body.items[3]  # type: ignore[attr-defined]
    assert isinstance(link, s.Link) and (link.a.value, link.b.value) == ("sluppen", "brattora")
    assert isinstance(flex, s.Flexibility) and flex.block == s.Name("sluppen")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", s.Number(12)),
        ("0.5", s.Number(0.5)),
        ("-3", s.Number(-3)),
        ("1e-3", s.Number(0.001)),
        ("5 kW", s.Quantity(s.Number(5), s.Unit("kW"))),
        ("95 %", s.Quantity(s.Number(95), s.Unit("%"))),
        ("95%", s.Quantity(s.Number(95), s.Unit("%"))),
        ("8 EUR/kW/month", s.Quantity(s.Number(8), s.Unit("EUR/kW/month"))),
        ("-3 kW", s.Quantity(s.Number(-3), s.Unit("kW"))),
        ('"a \\"b\\" \\\\ c"', s.String('a "b" \\ c')),
        ("true", s.Bool(True)),
        ("false", s.Bool(False)),
        ("2021-06-07", s.DateTime("2021-06-07")),
        ("2021-06-07T06:00", s.DateTime("2021-06-07T06:00")),
        ("2021-06-07T06:00:30+02:00", s.DateTime("2021-06-07T06:00:30+02:00")),
        ("[]", s.List(())),
        ("[1, 2,] kW", s.List((s.Number(1), s.Number(2)), s.Unit("kW"))),
        ("daily [1] kW", s.Daily(s.List((s.Number(1),), s.Unit("kW")))),
        ("--3", s.Neg(s.Number(-3))),
        ("-x", s.Neg(s.Ref(s.Path(("x",))))),
        ("-(3)", s.Neg(s.Paren(s.Number(3)))),
        # The accepted ambiguity: `/` right before a letter continues the unit.
        ("5 kW/x", s.Quantity(s.Number(5), s.Unit("kW/x"))),
        (
            "5 kW / x",
            s.BinOp("/", s.Quantity(s.Number(5), s.Unit("kW")), s.Ref(s.Path(("x",)))),
        ),
        ("unknownunit", s.Ref(s.Path(("unknownunit",)))),
        ("1 furlong", s.Quantity(s.Number(1), s.Unit("furlong"))),
    ],
)
def test_expression_literals(text: str, expected: s.Expr) -> None:
    assert value(text) == expected


def test_number_text_is_kept() -> None:
    n = value("1e-3")
    assert isinstance(n, s.Number) and n.text == "1e-3"
    n = value("- 3")
    assert isinstance(n, s.Number) and (n.value, n.text) == (-3, "-3")


def test_precedence_and_associativity() -> None:
    x, y, z = (s.Ref(s.Path((n,))) for n in "xyz")
    assert value("x + y * z") == s.BinOp("+", x, s.BinOp("*", y, z))
    assert value("x - y - z") == s.BinOp("-", s.BinOp("-", x, y), z)
    assert value("x / y / z") == s.BinOp("/", s.BinOp("/", x, y), z)
    assert value("(x + y) * z") == s.BinOp("*", s.Paren(s.BinOp("+", x, y)), z)
    assert value("-x * y") == s.BinOp("*", s.Neg(x), y)
    assert value("spot + 5 ct/kWh") == s.BinOp(
        "+", s.Ref(s.Path(("spot",))), s.Quantity(s.Number(5), s.Unit("ct/kWh"))
    )


def test_calls_and_unit_values() -> None:
    c = value('csv("f.csv", column = "H5", unit = kW, missing = 0)')
    assert isinstance(c, s.Call) and c.func == s.Name("csv")
    assert c.args == (
        s.Arg(None, s.String("f.csv")),
        s.Arg(s.Name("column"), s.String("H5")),
        s.Arg(s.Name("unit"), s.UnitValue(s.Unit("kW"))),
        s.Arg(s.Name("missing"), s.Number(0)),
    )
    c = value('csv(\n  "f.csv",\n  unit = EUR/MWh,\n)')
    assert c.args[1].value == s.UnitValue(s.Unit("EUR/MWh"))  # type: ignore[union-attr]
    assert value("f()") == s.Call(s.Name("f"), ())


def test_separators_and_layout() -> None:
    a = body_item("pv { profile = solar; peak = 6 kWp }")
    b = body_item("pv {\n\n  profile = solar\n  ;;\n  peak = 6 kWp ;\n}")
    assert a == b
    f = parse("participant alice { } participant alice { }")
    assert len(f.decls) == 2  # the duplicate is the resolver's error
    assert (
        parse("series x = [1,\n  # c\n  2, # d\n\n  3] kW").decls
        == parse("series x = [1, 2, 3] kW").decls
    )
    assert (
        parse("\ufeffseries x = 1\r\nseries y = 2\r\n").decls
        == parse("series x = 1\nseries y = 2").decls
    )


def test_comments_are_collected() -> None:
    text = '# one\ndesign "t" { # two\n  a = "# not a comment" # three\n}\n# four'
    f = parse(text)
    assert [c.text for c in f.comments] == ["# one", "# two", "# three", "# four"]
    for c in f.comments:
        assert c.span.text == c.text


def test_empty_and_comment_only_files() -> None:
    assert parse("").decls == ()
    assert parse("\n\n  ;\n").decls == ()
    assert parse("# just a comment").decls == ()


def test_spans_are_accurate() -> None:
    text = HEAD + "block b {\n  participant house[1..6] from t { pv { peak = 6 kWp } }\n}\n"
    f = parse(text, "x.peb")
    block = f.decls[1]
    assert isinstance(block, s.BlockDecl)
    assert block.span.text.startswith("block b {") and block.span.text.endswith("}")
    p = block.body.items[0]
    assert isinstance(p, s.Participant)
    assert p.name.span.text == "house[1..6]"
    assert p.template is not None and p.template.span.text == "t"
    pv = p.body.items[0]
    assert isinstance(pv, s.Asset) and pv.span.text == "pv { peak = 6 kWp }"
    attr = pv.body.items[0]
    assert isinstance(attr, s.Attribute) and attr.span.text == "peak = 6 kWp"
    assert isinstance(attr.value, s.Quantity)
    assert attr.value.span.text == "6 kWp" and attr.value.unit.span.text == "kWp"
    assert attr.value.span.location() == "x.peb:3:48"
    e = value("  -3 kW + f(a = [1, 2] kW)")
    assert isinstance(e, s.BinOp) and e.left.span.text == "-3 kW"
    assert e.right.span.text == "f(a = [1, 2] kW)"
    assert f.span.text == text


def test_grammar_loads() -> None:
    text = grammar_text()
    assert "DESIGN:" in text and "%declare _SEP" in text


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("participant house[6..1] { }", "E004"),
        ("participant house[1.5..6] { }", "E004"),
        ("participant house[1..100000000] { }", "E004"),
        ("series x = 2021-13-01", "E005"),
        ("series x = 2021-02-29", "E005"),
        ("series x = 1e999", "E005"),
        ('series x = "abc', "E003"),
        ("block b {", "E003"),
        ("series x = ", "E003"),
        ("series x = \nseries y = 1", "E001"),
        ('series x = "a\\n"', "E002"),
        ("series x = 1 $ 2", "E002"),
        ("series x = \x00", "E002"),
        ("x = 1", "E001"),
        ("design { }", "E001"),
        ("series x = " + "(" * 200 + "1" + ")" * 200, "E006"),
        ("series x = " + " + ".join(["1"] * (MAX_DEPTH + 5)), "E006"),
        ("series x = " + "-" * (MAX_DEPTH + 5) + "x", "E006"),
        ("participant p { " * 100 + "}" * 100, "E006"),
    ],
)
def test_error_codes(text: str, code: str) -> None:
    assert codes(text) == [code]


def test_error_message_names_found_and_expected() -> None:
    with pytest.raises(PebdslError) as ei:
        parse("participant a {\n  pv 3\n}", "a.peb")
    d = ei.value.diagnostics[0]
    assert d.message == "expected `=`, `{` or a name after `pv`, found number `3`"
    assert d.span.location() == "a.peb:2:6"


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02\xff",
        "\ud7ff\ue000\U0010ffff",
        "design",
        'design "',
        "}" * 1000,
        "{" * 1000,
        "[" * 5000,
        "series x = " + "[" * 5000,
        "series x = " + "-" * 50_000 + "1",
        "series x = " + "1 + " * 20_000 + "1",
        "participant a {" * 3000,
        "\n" * 10_000 + "x",
        "#" * 100_000,
        'design "' + "x" * 100_000,
    ],
)
def test_pathological_inputs_raise_only_pebdsl_errors(text: str) -> None:
    with contextlib.suppress(PebdslError):
        parse(text)


def test_megabyte_input_parses() -> None:
    """A megabyte of declarations parses into every declaration (its speed is measured by
    benchmarks/check_speed.py, never asserted here: timed tests failed on loaded machines)."""
    unit = (ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8")
    body = unit.split("variant", 1)[0]
    copies = 1_000_000 // len(body) + 1
    text = body * copies
    f = parse(text)
    assert len(text) >= 1_000_000
    assert len(f.decls) == copies * len(parse(body).decls)


# ---------------------------------------------------------------------------------------------
# Golden files
# ---------------------------------------------------------------------------------------------
def _check_golden(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs; run pytest --update-golden and review"


@pytest.mark.parametrize("src", sorted((GOLDEN / "parse").glob("*.peb")), ids=lambda p: p.stem)
def test_golden_parse(src: Path, update_golden: bool) -> None:
    tree = parse(src.read_text(encoding="utf-8"), src.name)
    _check_golden(src.with_suffix(".tree"), dump_tree(tree), update_golden)


@pytest.mark.parametrize(
    "src", sorted((GOLDEN / "syntax_errors").glob("*.peb")), ids=lambda p: p.stem
)
def test_golden_syntax_errors(src: Path, update_golden: bool) -> None:
    with pytest.raises(PebdslError) as ei:
        parse(src.read_text(encoding="utf-8"), src.name)
    _check_golden(src.with_suffix(".txt"), ei.value.render() + "\n", update_golden)
