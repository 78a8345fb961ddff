"""results.json, the CSV/Parquet tables and the notebook summary (pebdsl.present.output)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_kpis import street_results

from pebdsl.present import output


def test_results_json_contract_keys() -> None:
    r = street_results()
    doc = output.results_json(r)
    for key in (
        "status",
        "objective",
        "design",
        "variant",
        "participants",
        "blocks",
        "markets",
        "kpis",
        "values",
        "money",
        "model",
        "timings",
        "versions",
        "hash",
    ):
        assert key in doc, key
    assert doc["objective"] == {"value": pytest.approx(1.0), "unit": "EUR"}
    assert set(doc["design"]) >= {"title", "file", "hash"}
    assert doc["hash"] == r.design.digest() == doc["design"]["hash"]
    alice = doc["participants"]["alice"]
    assert alice["bill"]["total"] == pytest.approx(0.1)
    assert set(alice["energy"]) >= {
        "grid_import_kwh",
        "grid_export_kwh",
        "local_bought_kwh",
        "local_sold_kwh",
        "demand_kwh",
        "generation_kwh",
        "curtailment_kwh",
    }
    assert doc["blocks"]["street"]["peak_import_kw"] == pytest.approx(2.0)
    assert doc["markets"]["p2p"]["volume_kwh"] == pytest.approx(1.0)
    assert doc["markets"]["p2p"]["avg_price"] == pytest.approx(0.1)
    assert set(doc["versions"]) >= {
        "pebdsl",
        "python",
        "numpy",
        "pandas",
        "highspy",
        "pyomo",
        "lark",
    }
    assert doc["model"] == {"variables": 10, "constraints": 5, "nonzeros": 20}


def test_results_json_is_strict_json() -> None:
    """NaN never reaches the document: json.dumps(allow_nan=False) must accept it."""
    r = street_results()
    r = r.replace(money={"surplus": float("nan"), "total": np.float64(1.0)})
    doc = output.results_json(r)
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    assert back["money"] == {"surplus": None, "total": 1.0}
    assert back["participants"]["bob"]["kpis"]["self_consumption"] is None


def test_jsonable() -> None:
    x = {1: (np.int64(2), np.float32(0.5), math.inf), "t": pd.Timestamp("2021-01-01", tz="UTC")}
    assert output.jsonable(x) == {"1": [2, 0.5, None], "t": "2021-01-01T00:00:00+00:00"}


def test_write_outputs(tmp_path: Path) -> None:
    r = street_results()
    r = r.replace(
        trades={
            "p2p": pd.DataFrame(
                [[0.0, 1.0], [0.0, 0.0]], index=["alice", "bob"], columns=["alice", "bob"]
            )
        }
    )
    output.write_outputs(r, tmp_path / "out", command="pebdsl solve x.peb")
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    for stem in ("participants", "batteries", "blocks", "markets", "links", "bills", "trades_p2p"):
        assert f"{stem}.csv" in names and f"{stem}.parquet" in names, stem
    assert {"results.json", "report.html"} <= names
    assert not [n for n in names if n.endswith(".tmp")]  # atomic writes leave nothing behind
    doc = json.loads((out / "results.json").read_text())
    assert doc["command"] == "pebdsl solve x.peb"

    parts = pd.read_csv(out / "participants.csv")
    assert list(parts.columns) == ["time", "entity", "quantity", "value", "unit"]
    gi = parts[(parts.entity == "bob") & (parts.quantity == "grid_import")]
    assert gi["value"].tolist() == [0.0, 2.0, 1.0]
    assert set(gi["unit"]) == {"kW"}  # a power (results.py's docstring)
    assert gi["time"].iloc[0] == "2021-06-07T00:00:00+00:00"
    pq = pd.read_parquet(out / "participants.parquet")
    assert len(pq) == len(parts)
    assert pq["time"].dt.tz is not None
    bills = pd.read_csv(out / "bills.csv")
    assert bills.set_index("name").loc["bob", "total"] == pytest.approx(0.9)
    trades = pd.read_csv(out / "trades_p2p.csv").set_index("seller")
    assert trades.loc["alice", "bob"] == 1.0


def test_tidy_roundtrip() -> None:
    r = street_results()
    t = output.tidy(r.participants_ts)
    wide = t.pivot_table(index="time", columns=["entity", "quantity"], values="value")
    orig = r.participants_ts.sort_index(axis=1)
    assert np.allclose(wide.sort_index(axis=1).to_numpy(), orig.to_numpy())


def test_repr_html() -> None:
    text = output.repr_html(street_results())
    assert text.startswith("<div") and "street" in text and "total cost" in text
    assert "alice" in text and "1.00 EUR" in text
