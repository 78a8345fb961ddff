"""Outputs of big runs: a tidy table past `CSV_MAX_ROWS` rows is written as Parquet only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pebdsl.load import load
from pebdsl.present import output
from pebdsl.solve import solve

ROOT = Path(__file__).resolve().parents[1]


def test_long_tables_are_parquet_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the limit set below the participants table's length and above the bills table's,
    participants.csv is left out while participants.parquet holds the same rows `tables`
    gives, and bills.csv is still written."""
    results = solve(load(str(ROOT / "designs" / "sunny_street.peb")))
    full = output.tables(results)
    limit = len(full["bills"])
    assert len(full["participants"]) > limit
    monkeypatch.setattr(output, "CSV_MAX_ROWS", limit)
    output.write_outputs(results, tmp_path / "out")
    out = tmp_path / "out"
    assert not (out / "participants.csv").exists()
    assert (out / "bills.csv").exists()
    back = pd.read_parquet(out / "participants.parquet")
    pd.testing.assert_frame_equal(back, full["participants"], check_dtype=False)
