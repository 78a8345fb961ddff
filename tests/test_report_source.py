"""The report's "Design source" section, without a browser: highlighted by the `peb` lexer
(pebdsl/front/lexer.py), still one numbered line per source line, escaped, and self-contained
(the token colours are in the page's own <style>; no element that could fetch anything)."""

from __future__ import annotations

import html
import re

from test_report import XSS, check_html, check_self_contained, synthetic_results

from pebdsl.present.report import render_report


def _source_section(page: str) -> str:
    return page[page.index('<section id="source"') : page.index('<section id="provenance"')]


def test_design_source_is_highlighted_and_self_contained() -> None:
    results = synthetic_results(title=f"Evil {XSS}", days=2)
    page = render_report(results)
    check_self_contained(check_html(page))
    section = _source_section(page)
    text = results.design.sources[0].text
    # Highlighted: keywords, declared names, units and numbers in token classes.
    assert '<span class="kd">participant</span>' in section
    assert '<span class="kt">kWp</span>' in section
    assert '<span class="m">60</span>' in section
    # The colours are inline, scoped to the listing.
    style = page[page.index("<style>") : page.index("</style>")]
    assert "pre.src .kd" in style and "pre.src .kt" in style
    # One numbered line per source line, each reading as the source line once tags are gone.
    lines = re.findall(
        r'<span class="line" id="s1-L(\d+)"><span class="ln" aria-hidden="true">\d+</span>'
        r"(.*?)</span>(?=<span class=\"line\"|</pre>)",
        section,
    )
    assert [int(n) for n, _ in lines] == list(range(1, len(text.splitlines()) + 1))
    for (_, frag), line in zip(lines, text.splitlines(), strict=True):
        assert html.unescape(re.sub(r"<[^>]+>", "", frag)) == line
    # Design text stays text: the title's <script> is escaped in the listing.
    assert XSS not in section and html.escape(XSS) in section
