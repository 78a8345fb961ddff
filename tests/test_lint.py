"""Check-time warnings (resolve/lint.py, W101-W106): for each code a design that triggers it and a
near miss that does not; variants (`lint.merge`); `check --deny-warnings`; warnings printed by
`solve` and `compare`; E312, E313 and the E502 hint (the smaller rules of issue 8).

Every design below is written on a 4-step horizon (1 d of 6 h steps) so prices and profiles
are short lists; the expected warnings are derived in each docstring."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pebdsl import PebdslError
from pebdsl.cli import app
from pebdsl.design import Design
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve, resolve_all
from pebdsl.resolve.lint import merge

HEAD = """design "lint" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 6 h; timezone = "Europe/Oslo" }
"""
GRID = "grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }\n"


def load(text: str, variant: str | None = None) -> Design:
    return resolve(parse(HEAD + text, "lint.peb"), variant=variant)


def codes(text: str, variant: str | None = None) -> list[str]:
    return [w.code for w in load(text, variant).warnings]


def test_w101_sell_above_buy_plus_charge() -> None:
    """sell 0.40 > buy 0.30 + charge 0.05 at step 2 only (12:00 local, Oslo); steps 0, 1 and 3
    sell 0.05. The warning points at the `sell` value."""
    text = (
        "grid { buy = 0.30 EUR/kWh; sell = [0.05, 0.05, 0.40, 0.05] EUR/kWh }\n"
        "participant alice { load { profile = 1 kW } }\n"
        "dso { energy_charge = 5 ct/kWh }\n"
    )
    (w,) = load(text).warnings
    assert w.code == "W101" and w.severity == "warning"
    assert "2021-06-07 12:00 (Europe/Oslo, step 2)" in w.message
    assert "(1 of 4 steps)" in w.message
    assert w.span.text == "[0.05, 0.05, 0.40, 0.05] EUR/kWh"
    assert w.render().startswith("warning[W101]: feeding in pays more than buying")


def test_w101_near_miss_the_charge_covers_the_sell_price() -> None:
    """On the purchase basis every kWh bought pays the charge: sell 0.35 = buy 0.30 + charge
    0.05 (equal is not above), and sell 0.33 < 0.34: no warning. On the meter basis (default)
    the meter nets import and export, so the charge does not deter it: sell 0.33 > buy 0.30
    warns although the charge is 4 ct; sell 0.30 = buy does not."""
    for sell, charge in (("0.35", "5"), ("0.33", "4")):
        text = (
            f"grid {{ buy = 0.30 EUR/kWh; sell = {sell} EUR/kWh }}\n"
            "participant alice { load { profile = 1 kW } }\n"
            f"dso {{ energy_charge = {charge} ct/kWh; charge_on = purchase }}\n"
        )
        assert codes(text) == []
    for sell, expected in (("0.33", ["W101"]), ("0.30", [])):
        text = (
            f"grid {{ buy = 0.30 EUR/kWh; sell = {sell} EUR/kWh }}\n"
            "participant alice { load { profile = 1 kW } }\n"
            "dso { energy_charge = 4 ct/kWh }\n"
        )
        assert codes(text) == expected


def test_w102_negative_buy_with_a_lossy_market() -> None:
    """buy = -0.05 at step 1 with a 2 % lossy market: a round trip burns imported energy at a
    profit. The note lists the market; the warning points at the `buy` value."""
    text = (
        "grid { buy = [0.30, -0.05, 0.30, 0.30] EUR/kWh; sell = none }\n"
        "participant a { load { profile = 1 kW }; pv { profile = 2 kW } }\n"
        "participant b { load { profile = 1 kW } }\n"
        "market m { type = pool; members = [a, b]; loss = 2 % }\n"
    )
    (w,) = load(text).warnings
    assert w.code == "W102"
    assert "2021-06-07 06:00 (Europe/Oslo, step 1)" in w.message
    assert "market `m` loses 2 %" in w.message
    assert w.span.text == "[0.30, -0.05, 0.30, 0.30] EUR/kWh"
    assert [label for _, label in w.related] == ["market `m` loses 2 %"]


def test_w102_near_misses() -> None:
    """Negative buy without anything lossy cannot burn energy (no warning); a lossy battery with
    buy -0.05 + charge 0.05 = 0 is not negative (no warning)."""
    lossless = (
        "grid { buy = [0.30, -0.05, 0.30, 0.30] EUR/kWh; sell = none }\n"
        "participant a { load { profile = 1 kW }; battery { capacity = 4 kWh; power = 1 kW } }\n"
    )
    assert codes(lossless) == []
    charged = (
        "grid { buy = [0.30, -0.05, 0.30, 0.30] EUR/kWh; sell = none }\n"
        "participant a { load { profile = 1 kW }\n"
        "  battery { capacity = 4 kWh; power = 1 kW; efficiency = 90 % } }\n"
        "dso { energy_charge = 5 ct/kWh }\n"
    )
    assert codes(charged) == []


BLOCKS = (
    GRID + "block north { participant n1 { load { profile = 1 kW }; pv { profile = 2 kW } } }\n"
    "block south { participant s1 { load { profile = 1 kW } } }\n"
)


def test_w103_unused_link_and_near_miss() -> None:
    """No market has members in both `north` and `south`: the link is unused (W103, at the link
    line). A market over both blocks uses it: no warning."""
    (w,) = load(BLOCKS + "dso { link north -- south { capacity = 50 kW } }\n").warnings
    assert w.code == "W103"
    assert w.span.text.startswith("link north -- south")
    used = BLOCKS + (
        "market m { type = pool; members = [north, south] }\n"
        "dso { link north -- south { capacity = 50 kW } }\n"
    )
    assert codes(used) == []


def test_w103_in_a_variant_shows_only_when_the_variant_is_loaded(tmp_path: Path) -> None:
    """`without market m` leaves the link unused: the variant's own warnings list W103, the base
    has none, and the file's merged warnings (what `check FILE` prints) leave it out because it
    is on the base's text; `check FILE --variant no_trade` prints it."""
    text = (
        HEAD
        + BLOCKS
        + (
            "market m { type = pool; members = [north, south] }\n"
            "dso { link north -- south { capacity = 50 kW } }\n"
            "variant no_trade { without market m }\n"
        )
    )
    designs = resolve_all(parse(text, "lint.peb"))
    assert designs[None].warnings == ()
    assert [w.code for w in designs["no_trade"].warnings] == ["W103"]
    assert merge(designs) == []
    path = tmp_path / "v.peb"
    path.write_text(text, encoding="utf-8")
    whole = CliRunner().invoke(app, ["check", str(path)])
    assert whole.exit_code == 0 and "warning" not in whole.stderr
    one = CliRunner().invoke(app, ["check", str(path), "--variant", "no_trade"])
    assert one.exit_code == 0 and "warning[W103]" in one.stderr


def test_a_variant_warning_on_its_own_text_shows_once_in_check() -> None:
    """A variant adding a market identical to `m` (declared later, so it is the dominated one)
    gets W106 at its own line; merged with the base it is listed once."""
    text = (
        HEAD
        + BLOCKS
        + (
            "market m { type = pool; members = [north, south] }\n"
            "variant twin { market m2 { type = p2p; members = [n1, s1] } }\n"
            "variant twin_too { market m2 { type = p2p; members = [n1, s1] } }\n"
        )
    )
    designs = resolve_all(parse(text, "lint.peb"))
    merged = merge(designs)
    assert len(merged) == 2  # one per variant: each wrote its own m2
    assert {w.code for w in merged} == {"W106"}
    assert all("`m2` can never do better than market `m`" in w.message for w in merged)


def test_w104_idle_shared_battery_and_near_miss() -> None:
    """No market names `street`: its battery `store` stays idle (W104 at the name). A pool over
    the street reaches it: no warning."""
    street = GRID + (
        "block street {\n"
        "  participant a { load { profile = 1 kW } }\n"
        "  participant b { pv { profile = 2 kW } }\n"
        "  battery store { capacity = 20 kWh; power = 5 kW }\n"
        "}\n"
    )
    (w,) = load(street).warnings
    assert w.code == "W104" and w.span.text == "store"
    assert codes(street + "market p { type = pool; members = street }\n") == []


def test_w105_unused_series_and_near_misses() -> None:
    """`a` is used by nothing, and `b` only by `a`: both unused. `c` feeds `d` which is the
    grid's buy price, and `e` only a variant's `set`: all used."""
    text = (
        "series a = b * 2\n"
        "series b = 1 kW\n"
        "series c = 0.25 EUR/kWh\n"
        "series d = c + 5 ct/kWh\n"
        "series e = 0.40 EUR/kWh\n"
        "grid { buy = d; sell = 0.05 EUR/kWh }\n"
        "participant alice { load { profile = 1 kW } }\n"
        "variant dear { set grid.buy = e }\n"
    )
    ws = load(text).warnings
    assert [(w.code, w.span.text) for w in ws] == [("W105", "a"), ("W105", "b")]


def test_w106_no_seller_and_near_miss() -> None:
    """Two consumers only: nothing local to sell. With PV at `a`, `b` can buy it: no warning."""
    consumers = GRID + (
        "participant a { load { profile = 1 kW } }\n"
        "participant b { load { profile = 1 kW } }\n"
        "market m { type = pool; members = [a, b] }\n"
    )
    (w,) = load(consumers).warnings
    assert w.code == "W106" and w.span.text == "m"
    assert "no member has generation or a battery" in w.message
    assert (
        codes(
            consumers.replace("participant a { load", "participant a { pv { profile = 2 kW }; load")
        )
        == []
    )


def test_w106_no_buyer_and_near_miss() -> None:
    """Only `a` has energy (PV) and `b` has neither load nor battery: nobody can use it. Give `b`
    a battery and it can: no warning."""
    text = GRID + (
        "participant a { load { profile = 1 kW }; pv { profile = 2 kW } }\n"
        "participant b { }\n"
        "market m { type = pool; members = [a, b] }\n"
    )
    assert codes(text) == ["W106"]
    with_battery = text.replace(
        "participant b { }", "participant b { battery { capacity = 4 kWh; power = 1 kW } }"
    )
    assert codes(with_battery) == []


def test_w106_dominated_markets() -> None:
    """`dear` has the same members as `cheap`, a higher fee and loss: dominated. Of two equal
    markets only the later one is flagged. A market with a lower fee but a higher loss than the
    other is not dominated, nor is the other: no warning."""
    base = GRID + (
        "participant a { load { profile = 1 kW }; pv { profile = 3 kW } }\n"
        "participant b { load { profile = 1 kW } }\n"
    )
    ws = load(
        base + "market cheap { type = pool; members = [a, b]; fee = 1 ct/kWh }\n"
        "market dear { type = p2p; members = [b, a]; fee = 2 ct/kWh; loss = 1 % }\n"
    ).warnings
    assert [(w.code, w.span.text) for w in ws] == [("W106", "dear")]
    equal = load(
        base + "market one { type = pool; members = [a, b] }\n"
        "market two { type = pool; members = [a, b] }\n"
    ).warnings
    assert [(w.code, w.span.text) for w in equal] == [("W106", "two")]
    trade_off = (
        base + "market low_fee { type = pool; members = [a, b]; loss = 2 % }\n"
        "market low_loss { type = pool; members = [a, b]; fee = 1 ct/kWh }\n"
    )
    assert codes(trade_off) == []


def test_warnings_are_sorted_by_position() -> None:
    """An unused series (line 3), a sell above buy (line 4) and an idle market (line 6) come in
    that order."""
    text = (
        "series spare = 1 kW\n"
        "grid { buy = 0.30 EUR/kWh; sell = 0.40 EUR/kWh }\n"
        "participant a { load { profile = 1 kW }; connection = 5 kW }\n"
        "market m { type = pool; members = [a, b] }\n"
        "participant b { load { profile = 1 kW }; connection = 5 kW }\n"
    )
    ws = load(text).warnings
    assert [w.code for w in ws] == ["W105", "W101", "W106"]
    assert [w.span.start for w in ws] == sorted(w.span.start for w in ws)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(HEAD + text, encoding="utf-8")
    return str(path)


def test_check_deny_warnings_over_several_files(tmp_path: Path) -> None:
    """A clean file and a file with W105: `check` prints both ok (exit 0) and the warning;
    `--deny-warnings` fails (exit 1) with the warning as an error, the clean file still ok."""
    clean = _write(tmp_path, "clean.peb", GRID + "participant a { load { profile = 1 kW } }\n")
    warned = _write(tmp_path, "warned.peb", "series spare = 1 kW\n" + GRID + "participant a { }\n")
    ok = CliRunner().invoke(app, ["check", clean, warned])
    assert ok.exit_code == 0
    assert ok.stdout.count("ok: ") == 2
    assert "warning[W105]: series `spare` is declared but never used" in ok.stderr
    assert ok.stderr.strip().endswith("1 warning")
    denied = CliRunner().invoke(app, ["check", "--deny-warnings", clean, warned])
    assert denied.exit_code == 1
    assert denied.stdout.strip() == f"ok: {clean} (base)"
    assert "error[W105]" in denied.stderr and denied.stderr.strip().endswith("1 error")


def test_solve_prints_warnings_and_goes_on(tmp_path: Path) -> None:
    """`solve` prints the design's warnings to stderr and still solves (exit 0)."""
    path = _write(
        tmp_path,
        "w.peb",
        "series spare = 1 kW\n" + GRID + "participant a { load { profile = 1 kW } }\n",
    )
    result = CliRunner().invoke(app, ["solve", path, "--json"])
    assert result.exit_code == 0, result.output
    assert "warning[W105]" in result.stderr
    assert '"status": "optimal"' in result.stdout


def test_compare_collects_warnings(tmp_path: Path) -> None:
    """`compare` keeps each file's merged warnings on the Comparison (and the CLI prints them):
    here W105 once, although the base and one variant are solved."""
    from pebdsl.study.compare import compare

    path = _write(
        tmp_path,
        "c.peb",
        "series spare = 1 kW\n"
        + GRID
        + "participant a { load { profile = 1 kW } }\n"
        + "variant dear { set grid.buy = 0.40 EUR/kWh }\n",
    )
    comparison = compare([path])
    assert [w.code for w in comparison.warnings] == ["W105"]
    result = CliRunner().invoke(app, ["compare", path, "--json"])
    assert result.exit_code == 0 and result.stderr.count("warning[W105]") == 1


def test_e312_flexibility_is_not_a_market_product() -> None:
    """`products = [flexibility]` is E312 at the product name; `[energy]` is fine."""
    text = GRID + (
        "participant a { load { profile = 1 kW }; pv { profile = 2 kW } }\n"
        "participant b { load { profile = 1 kW } }\n"
        "market m { type = p2p; members = [a, b]; products = [energy, flexibility] }\n"
    )
    with pytest.raises(PebdslError) as info:
        load(text)
    (d,) = info.value.diagnostics
    assert d.code == "E312" and d.span.text == "flexibility"
    load(text.replace(", flexibility", ""))


def test_e313_members_outside_blocks_across_links() -> None:
    """With a link, a market over `north`, `south` and the block-less `solo` would cut `solo`
    off: E313 at `members`. Without the link (one node), or with `solo` left out, it is valid."""
    market = "market m { type = pool; members = [n1, s1, solo] }\n"
    solo = "participant solo { load { profile = 1 kW } }\n"
    link = "dso { link north -- south { capacity = 50 kW } }\n"
    with pytest.raises(PebdslError) as info:
        load(BLOCKS + solo + market + link)
    (d,) = info.value.diagnostics
    assert d.code == "E313" and d.span.text == "[n1, s1, solo]"
    assert "`solo` is outside every block" in d.message
    assert any("put them in a block" in h for h in d.hints)
    load(BLOCKS + solo + market)
    load(BLOCKS + solo + market.replace(", solo", "") + link)


def test_e502_hint_asks_for_prices_not_a_connection() -> None:
    """The unbounded model (sell 0.40 > buy 0.30 at step 1, no connection limit) no longer
    suggests a connection: the fix is the price rule."""
    from model_helpers import design, participant

    from pebdsl.solve import solve

    d = design([participant("alice", 2, load=1.0)], n=2, buy=0.30, sell=[0.05, 0.40])
    with pytest.raises(PebdslError) as info:
        solve(d)
    (diag,) = info.value.diagnostics
    assert diag.code == "E502"
    hints = " ".join(diag.hints)
    assert "connection" not in hints
    assert "make `sell` at most `buy` at every step" in hints


@pytest.mark.parametrize("name", ["sunny_street", "lueth2018_pcdg", "trondheim"])
def test_shipped_designs_check_without_warnings(name: str) -> None:
    """`pebdsl check designs/X.peb` prints no warning. (Trondheim's no-trade `reference` and
    `local_only` drop the market between blocks, leaving the DSO links unused: W103 shows when
    such a variant is checked on its own, which is what those variants mean.)"""
    from pebdsl.load import load_all

    root = Path(__file__).resolve().parent.parent / "designs"
    designs = load_all(str(root / f"{name}.peb"))
    assert merge(designs) == []
    if name == "trondheim":
        assert {w.code for w in designs["reference"].warnings} == {"W103"}
