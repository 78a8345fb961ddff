"""Properties of checking: generated valid designs check clean; generated broken designs (and
arbitrary text) raise nothing but PebdslError through the full load. In the CI profile the two
fuzz properties run > 10,000 inputs together."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import designs, mutated_designs

from pebdsl import PebdslError
from pebdsl.load import load_all

CI = bool(os.environ.get("CI"))
_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck))


def _load_text(tmp: Path, text: str) -> object:
    path = tmp / "gen.peb"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return load_all(str(path))


@settings(max_examples=2000 if CI else 150, **_SETTINGS)  # type: ignore[arg-type]
@given(designs())
def test_generated_designs_check_clean(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    designs_ = _load_text(tmp_path_factory.mktemp("valid"), text)
    assert None in designs_  # type: ignore[operator]
    # Warnings never stop a valid design: W-coded, sorted by position, renderable, mergeable.
    from pebdsl.resolve.lint import merge

    for d in designs_.values():  # type: ignore[attr-defined]
        assert all(w.code[0] == "W" and w.severity == "warning" for w in d.warnings)
        starts = [w.span.start for w in d.warnings]
        assert starts == sorted(starts)
        for w in d.warnings:
            assert w.render().startswith(f"warning[{w.code}]")
    merged = merge(designs_)  # type: ignore[arg-type]
    assert len(merged) == len({(w.code, w.span.start, w.message) for w in merged})


@settings(max_examples=7000 if CI else 300, **_SETTINGS)  # type: ignore[arg-type]
@given(mutated_designs())
def test_broken_designs_raise_only_pebdsl_errors(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    try:
        _load_text(tmp_path_factory.mktemp("broken"), text)
    except PebdslError as e:
        assert all(len(c) == 4 and c[0] == "E" for c in e.codes)


@settings(max_examples=1500 if CI else 100, **_SETTINGS)  # type: ignore[arg-type]
@given(
    st.lists(
        st.sampled_from(
            [
                *'design"{}[]()=;,.\n #-+*/0123456789',
                " kWh",
                " %",
                " EUR",
                "horizon",
                "grid",
                "series",
                "participant",
                "market",
                "variant",
                "without",
                "set",
                "daily",
                "x",
            ]
        ),
        max_size=60,
    ).map("".join)
)
def test_arbitrary_text_raises_only_pebdsl_errors(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(PebdslError):
        _load_text(tmp_path_factory.mktemp("text"), text)
