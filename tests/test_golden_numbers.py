"""Golden numbers: the objective, real cost, bills and market prices of every case
`pebdsl compare` solves for each shipped design, and of the benchmarks' generated model
(`benchmarks/model_speed.py`, a week instead of its year), pinned to 1e-9.

Why: the pipeline's back half was rebuilt (issue 10) with the promise that behaviour stays the
same; these numbers were written from the code *before* that rebuild and must not move. A change
that is meant to move them (a model fix) rewrites the file with `pytest --update-golden` and says
so in its commit. Tolerance: 1e-9 relative to max(1, |value|); HiGHS is deterministic for the
same LP, so a difference means the LP or its reading changed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import pebdsl

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "numbers.json"
DESIGNS = ["sunny_street", "lueth2018_pcdg", "trondheim"]


def _numbers(res: Any) -> dict[str, Any]:
    bills = res.bills
    out: dict[str, Any] = {
        "objective": float(res.objective),
        "total_cost": float(res.total_cost),
        "bills": {
            f"{row}|{col}": float(bills.loc[row, col])
            for row in bills.index
            for col in bills.columns
        },
    }
    ts = res.markets_ts
    if len(ts.columns):
        prices = ts.xs("price", axis=1, level="quantity")
        out["price_sum"] = {str(m): float(prices[m].sum()) for m in prices.columns}
    return out


def _case_numbers(design_name: str) -> dict[str, Any]:
    designs = pebdsl.load_all(str(ROOT / "designs" / f"{design_name}.peb"), for_compare=True)
    return {str(v or "base"): _numbers(pebdsl.solve(d)) for v, d in designs.items()}


def _generated_numbers() -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "model_speed", ROOT / "benchmarks" / "model_speed.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {"week": _numbers(pebdsl.solve(mod.make_design(days=7)))}


def _close(a: Any, b: Any, path: str, bad: list[str]) -> None:
    if isinstance(a, dict):
        if set(a) != set(b):
            bad.append(f"{path}: keys differ: {sorted(set(a) ^ set(b))[:5]}")
            return
        for k in a:
            _close(a[k], b[k], f"{path}/{k}", bad)
    elif not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(a))):
        bad.append(f"{path}: expected {a!r}, got {b!r}")


@pytest.mark.parametrize("name", [*DESIGNS, "generated"])
def test_numbers_do_not_move(name: str, update_golden: bool) -> None:
    got = _generated_numbers() if name == "generated" else _case_numbers(name)
    doc = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if update_golden or name not in doc:
        doc[name] = got
        GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        if not update_golden:
            pytest.fail(f"golden numbers for {name} were missing and have been written")
        return
    bad: list[str] = []
    _close(doc[name], got, name, bad)
    assert not bad, "\n".join(bad[:20])
