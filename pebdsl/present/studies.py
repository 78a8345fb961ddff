"""The outputs of studies (pebdsl.study): a comparison's folder and JSON, a sweep's CSV and JSON.

Input: a solved `Comparison` or `Sweep`. Output: `comparison_json` / `sweep_json` (JSON-safe
dicts: the `--json` documents of `pebdsl compare` and `pebdsl sweep`); `write_comparison`
writes each case's outputs to out/<file-stem>/<label>/ (`output.write_into`; a two-stage case
`present.stochastic.write_stochastic`; a failed case its rendered error as error.txt) and
out/compare.html; `write_sweep` writes out/sweep.csv and out/sweep.json. Each folder is
written as one set (fsutil.replace_dir: `out` holds the previous run or this one, never a mix).
Errors: E902 (PebdslError) when `out` is not a folder pebdsl may replace; OSError when the OS
refuses a write (the CLI turns it into E903).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.fsutil import atomic_write_bytes, atomic_write_text, replace_dir
from pebdsl.present.output import jsonable, versions, write_into

if TYPE_CHECKING:
    from pebdsl.study.compare import Comparison
    from pebdsl.study.sweep import Sweep


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """{"files": [...], "cases": [summary + {"error": text}, …], "timings", "versions"}."""
    doc = jsonable(
        {
            "files": comparison.files,
            "cases": [{**c.summary, "error": c.error_text} for c in comparison.cases],
            "timings": comparison.timings,
            "versions": versions(),
        }
    )
    assert isinstance(doc, dict)
    return doc


def write_comparison(comparison: Comparison, out: Path, command: str = "") -> None:
    """Each case's outputs and compare.html under `out`, as one set (module docstring)."""
    from pebdsl.present.report import render_compare

    with replace_dir(out) as tmp:
        for c in comparison.cases:
            target = tmp / Path(c.file).stem / c.label
            st = getattr(c, "stochastic", None)
            if st is not None and st.design is not None:  # a two-stage case: its own report
                from pebdsl.present.stochastic import write_stochastic

                write_stochastic(st, st.design, target, command=command)
            elif c.results is not None:
                ref = comparison.reference_of(c)
                reference = None if ref is None else ref.results
                if reference is not None and reference.design.time != c.results.design.time:
                    reference = None  # another week or the year: the costs do not compare
                write_into(c.results, target, command=command, reference=reference)
            elif c.error is not None:
                atomic_write_text(target / "error.txt", c.error.render() + "\n")
        atomic_write_text(tmp / "compare.html", render_compare(comparison, command=command))


def sweep_json(result: Sweep) -> dict[str, Any]:
    """{"file", "variant", "parameters", "cases": rows, "timings", "versions"}."""
    doc = jsonable(
        {
            "file": result.file,
            "variant": result.variant,
            "parameters": result.parameters,
            "cases": result.rows,
            "timings": result.timings,
            "versions": versions(),
        }
    )
    assert isinstance(doc, dict)
    return doc


def write_sweep(result: Sweep, out: Path) -> None:
    """out/sweep.csv (one row per case) and out/sweep.json, as one set."""
    import pandas as pd

    frame = pd.DataFrame(result.rows)  # one wide row per case (`to_frame()` is tidy)
    with replace_dir(out) as tmp:
        atomic_write_bytes(
            tmp / "sweep.csv", frame.to_csv(index=False, lineterminator="\n").encode()
        )
        atomic_write_text(
            tmp / "sweep.json", json.dumps(sweep_json(result), indent=2, allow_nan=False) + "\n"
        )
