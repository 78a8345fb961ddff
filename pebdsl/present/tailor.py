"""The outputs of `pebdsl tailor`: the Pareto data, the recommended design and the page.

Input: a solved `Tailoring` (pebdsl.study.tailor) and the output folder. Output, each file
written atomically (fsutil) next to the case cache `cases/` that makes a run resumable:
    tailor.json      {"file", "choices", "goals", "total", "sampled", "recommended",
                     "reasons", "cases": rows (study.tailor.summary_rows), "versions"}
    tailor.parquet   the rows (same columns)
    recommended.peb  the recommended design (the base file, choices dropped, plus
                     `variant tailored { … }`), as the formatter wrote it
    tailor.html      the ranking, the reasons, the frontier charts (real cost against each of
                     the three values) and the table of every case
Raises OSError when the OS refuses a write (the CLI turns it into E903).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.fsutil import atomic_write_bytes, atomic_write_text
from pebdsl.present.output import jsonable, versions

if TYPE_CHECKING:
    from markupsafe import Markup

    from pebdsl.study.tailor import Tailoring


def tailoring_json(t: Tailoring) -> dict[str, Any]:
    """The JSON document of a tailoring (module docstring)."""
    from pebdsl.study.tailor import summary_rows

    rec = t.recommended
    doc = jsonable(
        {
            "file": t.file,
            "choices": t.choices,
            "goals": t.goals,
            "total": t.total,
            "sampled": t.sampled,
            "currency": t.currency,
            "recommended": None if rec is None else {"options": rec.options, "key": rec.key},
            "reasons": t.reasons,
            "cases": summary_rows(t),
            "versions": versions(),
        }
    )
    assert isinstance(doc, dict)
    return doc


def write_tailoring(t: Tailoring, out: Path, command: str = "") -> None:
    """tailor.json, tailor.parquet, recommended.peb and tailor.html under `out`."""
    import json

    import pandas as pd

    from pebdsl.study.tailor import summary_rows

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "tailor.json", json.dumps(tailoring_json(t), indent=2) + "\n")
    buf = io.BytesIO()
    pd.DataFrame(summary_rows(t)).to_parquet(buf, index=False)
    atomic_write_bytes(out / "tailor.parquet", buf.getvalue())
    if t.recommended_text:
        atomic_write_text(out / "recommended.peb", t.recommended_text)
    atomic_write_text(out / "tailor.html", render_tailor(t, command=command))


def _charts(t: Tailoring) -> list[Markup]:
    from pebdsl.present.report.frontier import Point, frontier_chart

    cur = t.currency
    goal = {g["metric"]: g["value"] for g in t.goals if not g.get("block")}
    specs = [
        (
            "pv_surplus_local_share",
            "Value 1 · PV surplus balanced locally",
            "share (%)",
            100.0,
            "pv_surplus_local",
        ),
        ("peak_import_kw", "Value 2 · Peak import, all blocks together", "kW", 1.0, "peak_import"),
        ("local_trade_kwh", "Value 3 · Local trade", "kWh over the horizon", 1.0, "local_trade"),
    ]
    charts = []
    for key, title, unit, scale, metric in specs:
        pts = []
        for c in t.cases:
            rec = c.record or {}
            y = rec.get(key)
            pts.append(
                Point(
                    c.label,
                    rec.get("total_cost"),
                    None if y is None else float(y) * scale,
                    c.pareto,
                    c.meets_goals,
                    c is t.recommended,
                )
            )
        g = goal.get(metric)
        charts.append(
            frontier_chart(
                pts,
                title=f"{title} against real cost",
                x_label=f"real cost over the horizon ({cur})",
                y_label=unit,
                goal=None if g is None else float(g) * scale,
            )
        )
    return charts


def render_tailor(t: Tailoring, *, command: str = "") -> str:
    """The tailor page (module docstring)."""
    from pebdsl.present.report import charts as ch
    from pebdsl.present.report.common import _environment, _rendered_at, _versions
    from pebdsl.safetext import neutralise_bidi
    from pebdsl.study.tailor import ranking
    from pebdsl.study.verdict import amount

    ch.reset_chart_ids()
    rows = []
    for i, c in enumerate(ranking(t), start=1):
        rec = c.record or {}
        share = rec.get("pv_surplus_local_share")
        rows.append(
            {
                "rank": i if c.record is not None else "–",
                "label": c.label,
                "status": c.status,
                "goals": "yes" if c.meets_goals else "no",
                "front": "yes" if c.pareto else "",
                "recommended": c is t.recommended,
                "cells": [
                    "–" if rec.get("total_cost") is None else amount(rec["total_cost"]),
                    "–" if share is None else f"{100 * share:.1f}",
                    "–" if rec.get("peak_import_kw") is None else f"{rec['peak_import_kw']:,.1f}",
                    "–" if rec.get("local_trade_kwh") is None else amount(rec["local_trade_kwh"]),
                    ", ".join(
                        f"{p} {v['value']:,.2f} {v['unit']}"
                        for p, v in (rec.get("investments") or {}).items()
                    )
                    or "–",
                ],
            }
        )
    html = (
        _environment()
        .get_template("tailor.html.j2")
        .render(
            title=Path(t.file).name,
            file=t.file,
            t=t,
            rec=t.recommended,
            rows=rows,
            charts=_charts(t),
            currency=t.currency,
            provenance=[
                ("command", command or "–"),
                ("rendered at", _rendered_at()),
                *[(f"version: {k}", v) for k, v in _versions()],
            ],
        )
    )
    return neutralise_bidi(html)
