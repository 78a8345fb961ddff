"""The HTML report of one solve, and the comparison page of many.

Input: `Results` (pebdsl/results.py: time series, trades, bills, money closing, KPIs, the three
values), optionally the `Results` of a reference variant; for `render_compare` a
`pebdsl.study.compare.Comparison` (its `.cases`, each with `.summary`, `.results` and `.error`).
Output: one self-contained HTML document as a string: inline CSS, charts as inline SVG
(`pebdsl.present.report.charts`), one tiny inline script (opens collapsed sections before
printing) that a Content-Security-Policy pins by hash; no network access of any kind (no CDN,
fonts or images). Every text that comes from a design (title, description, names, source) is
escaped by Jinja2's autoescaping, so a title such as `<script>…` shows as text, and every
bidirectional control character in the page is replaced by a visible `<U+202E>` mark
(`safetext.neutralise_bidi`), so no name or title can reorder the text around it.
Reproducible: with `SOURCE_DATE_EPOCH` set (a whole number of seconds since 1970, as
reproducible-builds.org defines it) the "rendered at" time is that moment and the stage
timings are left out, so the same inputs give byte-identical pages (docs/report.md).
Raises nothing for a well-formed `Results`: the formulation (`pebdsl.present.explain`) is imported
lazily and, if it fails, the report shows the error text instead.

Public: `render_report(results, *, reference=None, command="") -> str`,
`render_compare(comparison, *, command="") -> str`.

Modules: `page` (the report of one solve), `compare_page` (the comparison page), `common`
(Jinja2 environment, colours, number formatting, reading the time series, shared texts),
`figures` (the charts of one solve, from `Results`), `kpi_tables`; the SVG charts, which take
plain numbers only: `charts` (primitives: frame, axes, ticks, legend, time axis),
`timecharts`, `barchart`, `heatmap`. Templates are in `templates/`.
"""

from pebdsl.present.report.compare_page import render_compare
from pebdsl.present.report.page import render_report

__all__ = ["render_compare", "render_report"]
