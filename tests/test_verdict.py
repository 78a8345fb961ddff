"""The verdict of a comparison (pebdsl.study.verdict) and where it shows: the terminal table at
a fixed console width (console.print_comparison) and the compare page (render_compare).

The cases are hand-made summaries (docs/compare.md keys), so every expected figure is read off
the inputs below: reference cost 1,234,567.89 EUR; `p2p` costs 1,234,000.00 (saving 567.89 =
500.00 trade + 67.89 storage) and balances 60 % of the PV surplus against the reference's 10 %
with 1,500.25 kWh local trade; `flex` costs 1,235,000.00 (433.11 more than the reference) and
cuts the peak by 120.0 kW, worth 6,000.00 EUR/year.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from pebdsl.console import COMPARE_COLUMNS, print_comparison
from pebdsl.diagnostics import PebdslError, error
from pebdsl.present.report import render_compare
from pebdsl.study.verdict import amount, verdict

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_report's synthetic results

FILE = "designs/street.peb"


def _summary(label: str, cost: float, saving: float | None, **values: Any) -> dict[str, Any]:
    v = {
        "pv_surplus_local_share": 0.10,
        "peak_reduction_kw": 0.0,
        "deferral_value": 0.0,
        "local_trade_kwh": 0.0,
        "local_trade_value": 0.0,
        "flexibility_kwh": 0.0,
        "flexibility_value": 0.0,
    } | values
    return {
        "file": FILE,
        "label": label,
        "status": "optimal",
        "currency": "EUR",
        "total_cost": cost,
        "shadow_cost": 0.0,
        "saving": saving,
        "saving_pct": None if saving is None else 100 * saving / 1_234_567.89,
        "saving_trade": None,
        "saving_storage": None,
        "grid_import_kwh": 123_456.7,
        "grid_export_kwh": 1.0,
        "curtailment_kwh": 0.0,
        "demand_shares": {},
        "peak_import_kw": {"all": 2_345.6},
        "values": v,
    }


def _case(label: str, summary: dict[str, Any], *, failed: bool = False) -> SimpleNamespace:
    design = SimpleNamespace(reference="reference", currency="EUR", title="street")
    return SimpleNamespace(
        file=FILE,
        variant=None if label == "base" else label,
        label=label,
        results=None if failed else SimpleNamespace(design=design),
        error=PebdslError(error("E501", "the design is infeasible")) if failed else None,
        summary=summary,
        description="",
    )


def _comparison() -> SimpleNamespace:
    p2p = _summary(
        "p2p", 1_234_000.00, 567.89, pv_surplus_local_share=0.60, local_trade_kwh=1_500.25
    )
    p2p.update(saving_trade=500.00, saving_storage=67.89)
    flex = _summary("flex", 1_235_000.00, -432.11, peak_reduction_kw=120.0, deferral_value=6000.0)
    cases = [
        _case("reference", _summary("reference", 1_234_567.89, 0.0)),
        _case("flex", flex),
        _case("p2p", p2p),
        _case("broken", {"label": "broken", "status": "infeasible"}, failed=True),
    ]
    return SimpleNamespace(cases=cases, files=[FILE])


def test_ranking_and_reasons() -> None:
    """Ranked by real cost: p2p (1,234,000.00) < reference (1,234,567.89) < flex
    (1,235,000.00); the failed case comes last without a rank."""
    got = verdict(_comparison().cases)
    assert [(v.label, v.rank) for v in got] == [
        ("p2p", 1),
        ("reference", 2),
        ("flex", 3),
        ("broken", None),
    ]
    p2p, ref, flex, broken = (v.text for v in got)
    assert p2p.startswith("the cheapest design: ")
    assert "local balancing of 60 % of the PV surplus (reference 10 %) [value 1]" in p2p
    assert "1,500.25 kWh of local trade [value 3]" in p2p
    assert (
        "567.89 EUR less than the reference (500.00 EUR from trade and 67.89 EUR from storage)"
        in p2p
    )
    assert "the reference" in ref
    assert "a peak import 120.0 kW lower, worth 6,000.00 EUR/year to the DSO [value 2]" in flex
    assert "432.11 EUR more than the reference" in flex
    assert broken == "failed (infeasible): not ranked."


def test_cases_of_different_references_are_ranked_apart() -> None:
    """A file with a June week (reference 1,234,567.89; p2p 1,234,000.00) and a January week
    measured against its own reference (`winter_reference` 2,000,000.00; `winter` 1,999,000.00,
    saving 1,000.00): costs of different weeks are not ranked together. June: p2p 1, reference
    2; January: winter 1, winter_reference 2 — each "the cheapest design measured against" its
    reference, and the group is named."""
    june = _comparison().cases[:1] + _comparison().cases[2:3]
    jan = []
    for label, cost, saving in (
        ("winter_reference", 2_000_000.00, 0.0),
        ("winter", 1_999_000.00, 1_000.0),
    ):
        c = _case(label, _summary(label, cost, saving))
        c.results.design = SimpleNamespace(reference="winter_reference", currency="EUR", title="s")
        jan.append(c)
    june[1].summary = _summary("p2p", 1_234_000.00, 567.89)
    got = verdict([*june, *jan])
    assert [(v.label, v.rank, v.group) for v in got] == [
        ("p2p", 1, "reference"),
        ("reference", 2, "reference"),
        ("winter", 1, "winter_reference"),
        ("winter_reference", 2, "winter_reference"),
    ]
    assert got[0].text.startswith("the cheapest design measured against reference: ")
    assert got[2].text.startswith("the cheapest design measured against winter_reference: ")
    assert "1,000.00 EUR less than the reference" in got[2].text
    assert got[3].is_reference
    # One reference in the file: no group named, as before.
    assert all(v.group is None for v in verdict(_comparison().cases))


def test_amount_shows_small_figures() -> None:
    """0.0015671 has its first digit in the third decimal: three significant digits need five
    decimals (0.00157); 38.108957 keeps two decimals; 1234567.891 gets separators."""
    assert amount(0.0015671) == "0.00157"
    assert amount(38.108957) == "38.11"
    assert amount(1234567.891) == "1,234,567.89"
    assert amount(0.0) == "0.00"


def _printed(width: int, wide: bool = False) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    print_comparison(_comparison(), console, wide=wide)  # type: ignore[arg-type]
    return buf.getvalue()


def test_terminal_table_fits_100_columns() -> None:
    """At 100 columns no line is longer than 100, no cell is cut (no ellipsis), every number of
    the columns shown appears whole, and the note names the columns left out."""
    text = _printed(100)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in text
    assert "Ranking (cheapest real cost first" in text
    assert " 1. p2p: the cheapest design" in text
    table = text[text.index("pebdsl compare") :]
    for figure in ("1,234,567.89", "1,234,000.00", "1,235,000.00", "567.89", "-432.11"):
        assert figure in table, figure
    assert "Left out to fit 100 columns:" in text
    assert "--wide" in text


def test_terminal_wide_shows_every_column() -> None:
    """`wide` prints every column with its numbers whole, even on an 80-column console: the
    last column (peak cut, 120.0 kW for flex) and PV surplus local (60.0 %) are there."""
    text = _printed(80, wide=True)
    assert "Left out" not in text
    assert "…" not in text
    for head in COMPARE_COLUMNS:
        assert head.split("\n")[-1] in text, head
    assert "120.0" in text and "60.0 %" in text and "2,345.6" in text


def test_compare_page_verdict_and_cost_labels() -> None:
    """The page opens with the ranking, and each cost bar carries its own cost and saving: p2p's
    label reads 'cost 1,234,000.00 EUR · saves 567.89', flex's '… · 432.11 more'. (The page
    draws each case's energy balance, so the solved cases get test_report's synthetic week.)"""
    from test_report import synthetic_results

    comparison = _comparison()
    week = synthetic_results(days=1)
    for c in comparison.cases:
        if c.results is not None:
            c.results = week
    html = render_compare(comparison, command="pytest")
    assert html.index('id="verdict"') < html.index('id="summary"') < html.index('id="charts"')
    assert "cost 1,234,000.00 EUR · saves 567.89" in html
    assert "cost 1,235,000.00 EUR · 432.11 more" in html
    assert "cost 1,234,567.89 EUR<" in html  # the reference: no saving to label
    assert "the cheapest design" in html
