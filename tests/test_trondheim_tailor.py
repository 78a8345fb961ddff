"""The design space of the flagship, designs/trondheim.peb (docs/tailor.md, "Trondheim").

`pebdsl tailor designs/trondheim.peb` solves 3 x 2 x 2 = 12 week cases (market: aneo, none,
city; sharing: none, delingsordning; pv: as_built, campus_roof); solving them is the command's
demonstration (docs/tailor.md), not this test's. Here: the space is what the file declares, the
goals are `prefer` only (no row in any LP, so `solve` and `compare` on the file keep their
golden numbers, tests/test_golden_numbers.py), and a case of each option resolves as the
design it claims to be — three cases cover every option once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pebdsl
from pebdsl.design import Design
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve
from pebdsl.source import SourceFile
from pebdsl.study.tailor import TAILORED, Tailoring, plan

DESIGN = Path(__file__).resolve().parent.parent / "designs" / "trondheim.peb"


@pytest.fixture(scope="module")
def space() -> Tailoring:
    return plan(str(DESIGN))


def test_trondheim_space_and_goals(space: Tailoring) -> None:
    t = space
    assert t.choices == {
        "market": ["aneo", "none", "city"],
        "sharing": ["none", "delingsordning"],
        "pv": ["as_built", "campus_roof"],
    }
    assert t.total == len(t.cases) == 12 and not t.sampled
    assert t.goals and all(g["prefer"] for g in t.goals)
    assert not any(g.prefer is False for g in pebdsl.load(str(DESIGN)).goals)


def test_each_option_resolves_as_declared(space: Tailoring) -> None:
    """(aneo, none, as_built) is the base design; (none, delingsordning, campus_roof) drops
    Aneo's markets, adds Tempe's pool and sizes the campus roof; (city, none, campus_roof) has
    the one city market over all four blocks."""
    by = {tuple(c.options.values()): c for c in space.cases}
    base = pebdsl.load(str(DESIGN))

    def design(*options: str) -> Design:
        text = by[options].text
        name = str(DESIGN)  # the case keeps the file's folder (its data paths)
        return resolve(parse(text, name), SourceFile(name, text), variant=TAILORED)

    d = design("aneo", "none", "as_built")
    assert set(d.markets) == set(base.markets) == {"brattora_lfm", "sluppen_lfm"}
    assert d.investments == {}
    d = design("none", "delingsordning", "campus_roof")
    assert set(d.markets) == {"tempe_deling"}
    inv = d.investments["ntnu_offices.pv.peak"]
    assert (inv.unit, inv.max_value) == ("kWp", 400.0)
    assert d.participants["ntnu_offices"].generation[0].peak_kw == 400.0
    d = design("city", "none", "campus_roof")
    assert set(d.markets) == {"city_lfm"}
    assert len(d.markets["city_lfm"].members) == len(base.participants)
