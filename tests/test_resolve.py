"""pebdsl.resolve: namespace, templates, ranges, variants and `sets`, defaults, rule checks."""

from __future__ import annotations

import pytest
from strategies import MINIMAL, WORLD

from pebdsl import PebdslError
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve, resolve_all, variant_compare_flags

BASE = MINIMAL + WORLD


def codes(text: str, **kw: object) -> list[str]:
    with pytest.raises(PebdslError) as e:
        resolve(parse(text, "r.peb"), **kw)  # type: ignore[arg-type]
    return e.value.codes


def test_template_merge_asset_by_asset() -> None:
    text = (
        BASE
        + """
template t { load { profile = home }; battery { capacity = 10 kWh; power = 5 kW }
             connection = 20 kW }
participant x from t { battery { power = 2 kW } }
participant y from t { connection { import = 7 kW } }
participant h[1..3] from t { }
"""
    )
    d = resolve(parse(text, "r.peb"))
    x = d.participants["x"]
    assert x.battery is not None
    assert (x.battery.capacity_kwh, x.battery.power_kw) == (10.0, 2.0)
    assert x.connection is not None and x.connection.import_kw == 20.0
    y = d.participants["y"]
    assert y.connection is not None and (y.connection.import_kw, y.connection.export_kw) == (
        7.0,
        None,
    )
    assert {"h1", "h2", "h3"} <= set(d.participants)


def test_defaults() -> None:
    d = resolve(
        parse(
            BASE.replace("sell = 0.05 EUR/kWh", "")
            + """
participant x { battery { capacity = 10 kWh; power = 5 kW } }
""",
            "r.peb",
        )
    )
    b = d.participants["x"].battery
    assert b is not None
    assert (b.efficiency, b.min_soc_kwh, b.initial_kwh, b.final_kwh, b.charge_from) == (
        1.0,
        0.0,
        0.0,
        None,
        "any",
    )
    assert d.grid.sell_per_kwh is not None and not d.grid.sell_per_kwh.any()  # omitted: 0
    assert d.time.timezone == "Europe/Oslo"


def test_soc_share_energy_and_final_initial() -> None:
    d = resolve(
        parse(
            BASE
            + """
participant x { battery { capacity = 10 kWh; power = 5 kW; min_soc = 1 kWh; initial = 50 %
                          final = initial } }
""",
            "r.peb",
        )
    )
    b = d.participants["x"].battery
    assert b is not None and (b.min_soc_kwh, b.initial_kwh, b.final_kwh) == (1.0, 5.0, 5.0)


def test_variants_edit_syntax_and_point_at_their_lines() -> None:
    text = (
        BASE
        + """
market m { type = p2p; members = [alice, bob, carol]; fee = 1 ct/kWh }
variant v1 { without participant carol; set market m.fee = 2 ct/kWh }
variant v2 { set alice.pv.peak = 9 kWp; without alice.pv.peak }
variant v3 { set alice.pv.peek = 9 kWp }
"""
    )
    tree = parse(text, "r.peb")
    v1 = resolve(tree, variant="v1")
    assert "carol" not in v1.participants
    assert v1.markets["m"].members == ("alice", "bob")
    assert v1.markets["m"].fee_per_kwh == pytest.approx(0.02)
    with pytest.raises(PebdslError) as e:
        resolve(tree, variant="v3")
    d = e.value.diagnostics[0]
    assert (
        d.code == "E104" and d.span.text == "peek" and "v3" in d.span.source.line_text(d.span.line)
    )
    with pytest.raises(PebdslError) as e:
        resolve(tree, variant="nope")
    assert e.value.codes == ["E108"]
    with pytest.raises(PebdslError) as e:
        resolve_all(tree)
    assert "E104" in e.value.codes


def test_variant_attributes_description_and_compare() -> None:
    tree = parse(
        BASE
        + """
variant week {
  set horizon.duration = 7 d
  description = "A week"   # after an edit: the parser lists it first
  compare = false
}
variant plain { set alice.pv.peak = 8 kWp }
""",
        "r.peb",
    )
    week = resolve(tree, variant="week")
    assert (week.variant_description, week.in_compare, week.n_steps) == ("A week", False, 168)
    plain = resolve(tree, variant="plain")
    assert (plain.variant_description, plain.in_compare) == ("", True)
    base = resolve(tree)
    assert (base.variant_description, base.in_compare) == ("", True)
    assert set(resolve_all(tree)) == {None, "week", "plain"}
    assert set(resolve_all(tree, for_compare=True)) == {None, "plain"}
    assert set(resolve_all(tree, variants=["week"])) == {None, "week"}
    assert set(resolve_all(tree, variants=["week"], for_compare=True)) == {None, "week", "plain"}
    assert variant_compare_flags(tree) == {"week": False, "plain": True}


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ('descripton = "x"', "E104", "did you mean `description`?"),
        ("compare = flase", "E307", "must be `true` or `false`; got `flase`"),
        ('compare = "no"', "E307", 'got `"no"`'),
        ("description = 5", "E307", "description must be a string"),
        ("compare = true; compare = false", "E109", "given twice"),
    ],
)
def test_variant_attribute_errors(body: str, code: str, needle: str) -> None:
    tree = parse(BASE + f"variant v {{ {body}; set alice.pv.peak = 8 kWp }}\n", "r.peb")
    resolve(tree)  # the base does not look at the variant
    with pytest.raises(PebdslError) as e:
        resolve(tree, variant="v")
    assert e.value.codes == [code]
    assert needle in e.value.render()
    # A wrong `compare` value does not hide the variant from compare: it shows its error.
    assert variant_compare_flags(tree) == {"v": True}


def test_reference_rule() -> None:
    t1 = parse(BASE + "variant reference { }\n", "r.peb")
    assert resolve(t1).reference == "reference"
    t2 = parse(
        BASE.replace("currency = EUR", "currency = EUR; reference = base2") + "variant base2 { }\n",
        "r.peb",
    )
    assert resolve(t2).reference == "base2"
    assert resolve(parse(BASE, "r.peb")).reference is None


def test_markets_batteries_and_products() -> None:
    d = resolve(
        parse(
            BASE
            + """
battery community { capacity = 30 kWh; power = 10 kW }
block yard { participant y1 { }; participant y2 { }; battery yard_store { capacity = 5 kWh
  power = 1 kW } }
product green { origin = [pv]; premium = 1 ct/kWh }
market city { type = pool; members = all; products = [energy, green]; operator = dso }
market yard_m { type = p2p; members = yard; fees { y1 -> y2 = 0.5 ct/kWh }
  settlement = seller }
""",
            "r.peb",
        )
    )
    assert d.markets["city"].batteries == ("community",)
    assert d.markets["yard_m"].batteries == ("yard_store",)
    assert d.markets["yard_m"].pair_fees_per_kwh == {("y1", "y2"): pytest.approx(0.005)}
    assert d.shared_batteries["yard_store"].block == "yard"
    assert d.products["green"].origin == ("pv",)


def test_dso() -> None:
    d = resolve(
        parse(
            BASE
            + """
dso { energy_charge = 4.5 ct/kWh; capacity_charge = 8 EUR/kW/month
      link sluppen -- brattora { capacity = 200 kW; loss = 1 %; fee = 1 ct/kWh }
      flexibility sluppen { limit = 250 kW; price = 30 ct/kWh }
      reinforcement_cost = 120 EUR/kW/year }
""",
            "r.peb",
        )
    )
    assert d.dso.capacity_charge_per_kw_month == 8.0
    assert d.dso.links[0].capacity_kw == 200.0 and d.dso.links[0].loss == pytest.approx(0.01)
    assert d.dso.flexibility[0].price_per_kwh == pytest.approx(0.30)
    assert d.dso.reinforcement_cost_per_kw_year == 120.0


@pytest.mark.parametrize(
    ("snippet", "code"),
    [
        (
            "participant x { battery { capacity = 10 kWh; power = 5 kW; efficiency = 120 % } }",
            "E302",
        ),
        ("participant x { battery { capacity = 10 kWh; power = 5 kW; initial = 20 kWh } }", "E310"),
        ("participant x { battery { capacity = 10 kWh; power = 0.1 kW; final = 100 % } }", "E310"),
        ("market m { type = p2p; members = all; loss = 100 % }", "E302"),
        ("dso { link sluppen -- nowhere { } }", "E306"),
        ("dso { flexibility nowhere { limit = 1 kW } }", "E101"),
        ("block e { }", "E309"),
        ("participant x from home { }", "E103"),
        ("participant x { load { profile = [1, 2] kW } }", "E401"),
        ("participant x { flexible { share = 10 %; window = 90 min } }", "E303"),
        ("participant all { }", "E107"),
        ("dso { capacity_charge = 8 EUR/kWh }", "E202"),
        ("participant x { load { profile = home; profile = home } }", "E109"),
    ],
)
def test_rule_errors(snippet: str, code: str) -> None:
    assert code in codes(BASE + snippet + "\n")


def test_structure_errors() -> None:
    assert "E304" in codes("horizon { start = 2021-06-07; duration = 1 d }\n" + MINIMAL)
    assert "E301" in codes('design "x" { }\ngrid { buy = 1 EUR/kWh }\n')
    assert "E304" in codes(BASE.replace("duration = 1 d", "duration = 1 d; end = 2021-06-08"))
    assert "E311" in codes(BASE.replace("Europe/Oslo", "Europe/Olso"))
    assert "E307" in codes(BASE.replace("2021-06-07", "2021-03-28T02:30"))


def test_errors_are_collected() -> None:
    text = (
        BASE
        + """
participant x { battery { capacity = 10 kW; power = 5 kWh } }
market m { type = p2p; members = [alice, bobb] }
"""
    )
    assert codes(text) == ["E202", "E101"]


# ---------------------------------------------------------------------------------------------
# Golden files: rendered semantic diagnostics (regenerate with `pytest --update-golden`)
# ---------------------------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden" / "errors"
GOLDEN_CASES = sorted(GOLDEN.glob("*.peb"))


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[p.stem for p in GOLDEN_CASES])
def test_golden_errors(case: Path, update_golden: bool) -> None:
    with pytest.raises(PebdslError) as e:
        resolve_all(parse(case.read_text(encoding="utf-8"), case.name))
    got = e.value.render() + "\n"
    expected = case.with_suffix(".txt")
    if update_golden or not expected.exists():
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")
    assert case.stem in e.value.codes


def test_without_an_attribute_that_is_not_set_is_e101() -> None:
    text = (
        'design "x" { currency = EUR }\n'
        "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
        "grid { buy = 0.3 EUR/kWh }\n"
        "participant bob { load { profile = 1 kW } }\n"
        "participant amy { load { profile = 1 kW } }\n"
        "market m { type = p2p; members = all; fee = 1 ct/kWh }\n"
        "variant a { without grid.sell }\n"
        "variant b { without m.fee }\n"
        "variant c { without m.loss }\n"
    )
    with pytest.raises(PebdslError) as ei:
        resolve_all(parse(text, "w.peb"))
    messages = [(d.code, d.message, d.span.line) for d in ei.value.diagnostics]
    assert messages == [
        ("E101", "`grid` has no `sell` to remove", 7),
        ("E101", "`m` has no `loss` to remove", 9),
    ]


def test_pebdsl_load_stays_the_function_after_its_module_is_imported() -> None:
    """`pebdsl/load.py` shares its name with the public function `pebdsl.load`: importing a
    submodule binds its name on the package, so `pebdsl/__init__.py` binds the function when
    `pebdsl` is imported (before any other import of the module) and later imports of the
    module leave the name alone."""
    import importlib

    import pebdsl

    module = importlib.import_module("pebdsl.load")
    assert pebdsl.load is module.load
    assert pebdsl.load_all is module.load_all
