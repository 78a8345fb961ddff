"""The result tables of docs/trondheim.md, re-created from designs/trondheim.peb.

Runs `pebdsl compare designs/trondheim.peb` (every week case) and renders the tables that
docs/trondheim.md holds between the markers `<!-- generated: trondheim-results -->` and
`<!-- /generated -->`. Each case is compared with its own reference, as `pebdsl compare` does
(`Comparison.reference_of`: `reference` for the June week, `winter_reference` for the January
week, which the design's January variants name with `reference = winter_reference`), so
savings, peak reductions and deferral values are differences within one week.

    .venv/bin/python benchmarks/trondheim_docs.py           # print the tables
    .venv/bin/python benchmarks/trondheim_docs.py --write   # replace them in docs/trondheim.md

tests/test_trondheim.py renders the same tables from its own compare run and fails when the
doc's copy differs: the numbers cannot drift from the design.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "designs" / "trondheim.peb"
DOC = ROOT / "docs" / "trondheim.md"
BEGIN = "<!-- generated: trondheim-results -->"
END = "<!-- /generated -->"
SEASONS = (
    ("June week (12–18 June 2023)", ("reference", "base", "delingsordning", "virtual_sharing",
                                     "city_market")),
    ("January week (23–29 January 2023)", ("winter_reference", "winter", "tensio_flex")),
)  # fmt: skip
BLOCKS = ("brattora", "sluppen", "campus", "tempe")


def _n(x: float, digits: int = 0) -> str:
    """A number as the docs print it: thin-space thousands, a true minus sign."""
    s = f"{abs(x):,.{digits}f}".replace(",", " ")
    return ("−" if x < 0 and float(s.replace(" ", "")) != 0 else "") + s


def _row(label: str, res: Any, ref: Any, reinforcement: float) -> str:
    v = res.values
    cost = res.total_cost
    saving = ref.total_cost - cost
    peaks = v["peak_import_kw"]
    red = ref.values["peak_import_kw"]["all"] - peaks["all"]
    mk = res.markets_ts
    local = 0.0
    for m in res.design.markets:
        if (m, "volume") in mk.columns:
            local += float(mk[(m, "volume")].sum()) * res.design.dt_h
    idle = [n["market"] for n in res.notes if n["code"] == "N101"]
    flex = v.get("flexibility_kwh") or 0.0
    cells = [
        f"`{label}`",
        _n(cost),
        f"{_n(saving)} ({_n(100 * saving / ref.total_cost, 1)} %)",
        _n(res.kpis["design"]["grid_import_kwh"] / 1000, 1) if "design" in res.kpis else "–",
        _n(local / 1000, 2),
        f"{_n(100 * (v['pv_surplus_local_share'] or 0.0), 1)} %",
        " / ".join(_n(peaks[b]) for b in BLOCKS),
        _n(peaks["all"]),
        _n(red),
        _n(red * reinforcement),
        f"{_n(flex)} kWh, {_n(v.get('flexibility_value') or 0.0)} NOK" if flex else "–",
        ", ".join(f"`{m}`" for m in idle) or "–",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| case | total cost NOK | saving vs the week's reference | grid import MWh | local trade MWh"
    " | PV surplus used locally | peak import kW (Brattøra / Sluppen / campus / Tempe) |"
    " coincident peak kW | peak reduction kW | deferral NOK/yr | flexibility"
    " | idle markets (N101) |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


def render(comparison: Any) -> str:
    """The generated block's text (without the markers) from a compare of the design."""
    by = {c.label: c for c in comparison.cases}
    parts = []
    for title, names in SEASONS:
        parts.append(f"**{title}**\n\n{HEADER}")
        for n in names:
            case = by.get(n)
            ref = comparison.reference_of(case) if case is not None else None
            if case is None or case.results is None or ref is None or ref.results is None:
                continue
            rc = ref.results.design.dso.reinforcement_cost_per_kw_year
            parts.append(_row(n, case.results, ref.results, rc))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def splice(doc: str, block: str) -> str:
    pat = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if not pat.search(doc):
        raise SystemExit(f"{DOC} has no {BEGIN} … {END} block")
    return pat.sub(lambda _: f"{BEGIN}\n{block}{END}", doc)


def current(doc: str) -> str:
    m = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), doc, re.S)
    return m.group(1) if m else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="replace the tables in the doc")
    ap.add_argument("--workers", type=int, default=None, help="compare's worker processes")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from pebdsl.study.compare import compare

    block = render(compare([str(DESIGN)], workers=args.workers))
    if args.write:
        DOC.write_text(splice(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
