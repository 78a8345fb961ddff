"""Data in and out of Python (issue 14): `loads`, in-memory series `data("name")`, Parquet
input, `check -`, `to_xarray` / `to_netcdf`, `read_results`, KPI frames, `to_frame`, reprs.

The designs are designs/sunny_street.peb with its `home` series replaced: by `data("home")`
holding the same 24 daily values, or a Parquet file of them. The same numbers in give the same
LP, so every expected result below is the file design's own (solved once, `street`).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pebdsl
from pebdsl import PebdslError
from pebdsl.present.output import write_outputs

ROOT = Path(__file__).resolve().parents[1]
STREET = ROOT / "designs" / "sunny_street.peb"
TEXT = STREET.read_text(encoding="utf-8")
HOME = [0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6]
HOME += [0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5]  # the file's `home`
TZ = "Europe/Oslo"
TABLES = ("participants_ts", "batteries_ts", "blocks_ts", "markets_ts", "links_ts")


def with_home(expr: str) -> str:
    """sunny_street with `series home = <expr>` (the daily list is kept as `home_list`)."""
    return TEXT.replace("series home  = daily", f"series home = {expr}\nseries home_list = daily")


def home_series(**kw: Any) -> pd.Series:
    """The `home` profile on the horizon's 24 steps, in kW (attrs["unit"])."""
    idx = pd.date_range("2021-06-07", periods=24, freq="h", tz=kw.pop("tz", TZ))
    s = pd.Series(HOME, index=idx, name="home")
    s.attrs["unit"] = "kW"
    return s


@pytest.fixture(scope="module")
def street() -> Any:
    return pebdsl.solve(pebdsl.load(str(STREET)))


def _codes(text: str, **kw: Any) -> tuple[list[str], str]:
    with pytest.raises(PebdslError) as info:
        pebdsl.loads(text, **kw)
    return info.value.codes, info.value.render()


def _no_nan(x: Any) -> Any:
    """JSON has no NaN: results.json writes a NaN KPI as null, read back as None."""
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_no_nan(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# --- acceptance 1: a notebook, loads -> solve -> xarray -> netCDF -> read_results -----------


def test_notebook_roundtrip(street: Any, tmp_path: Path) -> None:
    """The same profile given from pandas gives the file design's results; they survive
    to_xarray, netCDF and a results folder exactly, with their units."""
    xr = pytest.importorskip("xarray")
    data = {"home": home_series()}
    design = pebdsl.loads(with_home('data("home")'), name="notebook", data=data)
    r = pebdsl.solve(design)
    assert r.total_cost == street.total_cost  # same numbers in, same LP, same optimum

    ds = r.to_xarray()
    load = ds["participant_load"]
    assert load.dims == ("time", "participant")
    assert load.attrs["units"] == "kW"
    assert ds["market_price"].attrs["units"] == "EUR/kWh"
    assert ds["participant_soc"].attrs["units"] == "kWh"
    assert ds["bill"].attrs["units"] == "EUR"
    assert ds.attrs["design_hash"] == design.digest() and ds.attrs["Conventions"] == "CF-1.10"
    np.testing.assert_array_equal(
        load.sel(participant="alice").values, r.participants_ts[("alice", "load")].to_numpy()
    )

    nc = tmp_path / "run.nc"
    r.to_netcdf(nc)
    with xr.open_dataset(nc) as back:
        for name in ds.data_vars:
            np.testing.assert_array_equal(back[name].values, ds[name].values)
            assert back[name].attrs["units"] == ds[name].attrs["units"]
        utc = design.time.index.tz_convert("UTC").tz_localize(None)
        assert (pd.DatetimeIndex(back["time"].values) == utc).all()
        assert back["time"].attrs["timezone"] == TZ

    out = tmp_path / "out"
    write_outputs(r, out)
    again = pebdsl.read_results(out, data=data)
    for t in TABLES:
        pd.testing.assert_frame_equal(getattr(again, t), getattr(r, t), check_freq=False)
    pd.testing.assert_frame_equal(again.bills, r.bills)
    for m, table in r.trades.items():
        pd.testing.assert_frame_equal(again.trades[m], table)
    assert _no_nan(dict(again.kpis)) == _no_nan(dict(r.kpis))
    assert _no_nan(dict(again.values)) == _no_nan(dict(r.values))
    assert (again.objective, again.total_cost, again.status) == (
        r.objective,
        r.total_cost,
        r.status,
    )
    assert again.bill_roles == r.bill_roles
    # Units on disk: a unit column in the tidy tables, field metadata on bills.
    parts = pd.read_parquet(out / "participants.parquet")
    units = parts.groupby("quantity")["unit"].first()
    assert (units["load"], units["soc"], units["price"]) == ("kW", "kWh", "EUR/kWh")
    field = pq.read_schema(out / "bills.parquet").field("total")
    assert field.metadata == {b"unit": b"EUR"}
    csv = pd.read_csv(out / "participants.csv")
    assert list(csv.columns) == ["time", "entity", "quantity", "value", "unit"]


def test_read_results_of_the_cli_folder_without_data(street: Any, tmp_path: Path) -> None:
    """A results folder of a file design rebuilds its design from the text results.json
    keeps; a design that is not the one solved is E907, as is a folder without results."""
    write_outputs(street, tmp_path / "out")
    back = pebdsl.read_results(tmp_path / "out")
    assert back.design.digest() == street.design.digest()
    assert back.total_cost == street.total_cost
    other = pebdsl.loads(with_home('data("home")'), data={"home": home_series() * 2})
    with pytest.raises(PebdslError) as info:
        pebdsl.read_results(tmp_path / "out", other)
    assert info.value.codes == ["E907"]
    with pytest.raises(PebdslError) as info:
        pebdsl.read_results(tmp_path / "nothing")
    assert info.value.codes == ["E907"]


def test_netcdf_through_scipy(street: Any, tmp_path: Path) -> None:
    """Without h5netcdf, netCDF3 through scipy (a core dependency) keeps the numbers too."""
    xr = pytest.importorskip("xarray")
    engine = street.to_netcdf(tmp_path / "run3.nc", engine="scipy")
    assert engine == "scipy"
    with xr.open_dataset(tmp_path / "run3.nc", engine="scipy") as back:
        np.testing.assert_array_equal(
            back["participant_grid_import"].values, street.to_xarray()["participant_grid_import"]
        )
        assert list(back["participant"].values) == ["alice", "bob", "carol"]


def test_to_xarray_without_xarray_is_e905(street: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)  # `import xarray` raises ImportError
    with pytest.raises(PebdslError) as info:
        street.to_xarray()
    assert info.value.codes == ["E905"]
    assert "pebdsl[xarray]" in info.value.render()


# --- acceptance 2: in-memory series checked like CSV ------------------------------------------


def test_data_wrong_timezone_short_index_missing_unit() -> None:
    text = with_home('data("home")')
    codes, msg = _codes(text, data={"home": home_series().tz_convert("America/New_York")})
    assert codes == ["E414"] and "data `home` is in timezone America/New_York" in msg
    codes, msg = _codes(text, data={"home": home_series().iloc[:10]})
    assert codes == ["E404"] and "data `home` does not cover the horizon" in msg
    assert "no row for 2021-06-07T10:00:00+02:00" in msg  # the 11th step, local time
    bare = home_series()
    bare.attrs.clear()
    codes, msg = _codes(text, data={"home": bare})
    assert codes == ["E415"] and "data `home` has no unit" in msg


def test_data_other_errors() -> None:
    text = with_home('data("home")')
    codes, msg = _codes(text)
    assert codes == ["E413"] and "no in-memory series `home`" in msg
    codes, msg = _codes(text, data={"hoem": home_series()})
    assert codes == ["E413"] and "hoem" in msg  # did you mean
    codes, msg = _codes(text, data={"home": pd.Series(HOME)})
    assert codes == ["E414"] and "RangeIndex" in msg
    codes, msg = _codes(text, data={"home": HOME})
    assert codes == ["E414"] and "is a list" in msg
    codes, msg = _codes(with_home('data("home", unit = W)'), data={"home": home_series()})
    assert codes == ["E415"] and "is in kW, the design says W" in msg
    twice = pd.concat([home_series(), home_series().iloc[:1]])
    codes, msg = _codes(text, data={"home": twice})
    assert codes == ["E414"] and "duplicate timestamp" in msg


def test_data_forms_that_work() -> None:
    """A naive index is local time (as a CSV without offsets), UTC is fine, `unit =` may
    stand in for attrs, a DataFrame column is chosen by `column =` with `attrs["units"]`,
    and unsorted rows are sorted: each gives the file's `home` profile exactly."""
    expected = np.array(HOME)

    def carol_load(text: str, obj: Any) -> Any:
        d = pebdsl.loads(text, data={"home": obj})
        return d.participants["carol"].load.profile_kw

    text = with_home('data("home")')
    naive = home_series().tz_localize(None)
    naive.attrs["unit"] = "kW"
    np.testing.assert_array_equal(carol_load(text, naive), expected)
    np.testing.assert_array_equal(carol_load(text, home_series().tz_convert("UTC")), expected)
    bare = home_series()
    bare.attrs.clear()
    np.testing.assert_array_equal(carol_load(with_home('data("home", unit = kW)'), bare), expected)
    watts = home_series() * 1000
    watts.attrs["unit"] = "W"
    np.testing.assert_array_equal(carol_load(text, watts), expected)
    frame = pd.DataFrame({"a": home_series(), "b": home_series() * 2})
    frame.attrs["units"] = {"a": "kW", "b": "kW"}
    np.testing.assert_array_equal(
        carol_load(with_home('data("home", column = "b")'), frame), 2 * expected
    )
    np.testing.assert_array_equal(carol_load(text, home_series().iloc[::-1]), expected)


def test_data_changes_the_design_hash() -> None:
    """In-memory data is part of the provenance hash, as a CSV file's bytes are."""
    a = pebdsl.loads(with_home('data("home")'), data={"home": home_series()})
    b = pebdsl.loads(with_home('data("home")'), data={"home": home_series() * 2})
    assert a.data_digest and a.digest() != b.digest()


# --- loads and stdin ----------------------------------------------------------------------------


def test_loads_equals_load_and_names_the_text() -> None:
    assert pebdsl.loads(TEXT).digest() == pebdsl.load(str(STREET)).digest()
    with pytest.raises(PebdslError) as info:
        pebdsl.loads(TEXT.replace("series spot  =", "series spot = nonesuch +", 1))
    assert "<string>:12:" in info.value.render()
    with pytest.raises(PebdslError) as info:
        pebdsl.loads("design {", name="cell 3")
    assert "cell 3:1:" in info.value.render()


def test_loads_base_dir(tmp_path: Path) -> None:
    """Relative csv() paths start at base_dir, and must lie inside it (E411)."""
    rows = "\n".join(f"{t.isoformat()},{v}" for t, v in zip(home_series().index, HOME, strict=True))
    (tmp_path / "home.csv").write_text("time,home\n" + rows + "\n")
    text = with_home('csv("home.csv", unit = kW)')
    d = pebdsl.loads(text, base_dir=tmp_path)
    np.testing.assert_array_equal(d.participants["carol"].load.profile_kw, HOME)
    codes, _ = _codes(with_home('csv("../home.csv", unit = kW)'), base_dir=tmp_path / "sub")
    assert codes == ["E411"]


def test_check_reads_stdin(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", "-"],
        input=TEXT,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok: - (base, no_trade)" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", "-"],
        input=with_home('csv("missing.csv", unit = kW)'),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert "error[E402]" in bad.stderr and "<stdin>:16:" in bad.stderr
    # Relative paths start at the current directory: with the file there, it checks.
    rows = "\n".join(f"{t.isoformat()},{v}" for t, v in zip(home_series().index, HOME, strict=True))
    (tmp_path / "missing.csv").write_text("time,home\n" + rows + "\n")
    good = subprocess.run(
        [sys.executable, "-m", "pebdsl", "check", "-"],
        input=with_home('csv("missing.csv", unit = kW)'),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert good.returncode == 0, good.stderr


# --- Parquet input --------------------------------------------------------------------------------


def test_parquet_input(tmp_path: Path) -> None:
    """A Parquet file of the profile, indexed by time or with a time column, read like a CSV;
    a unit in the field metadata serves without `unit =`."""
    design = tmp_path / "street.peb"
    frame = home_series().to_frame()
    frame.to_parquet(tmp_path / "indexed.parquet")
    design.write_text(with_home('parquet("indexed.parquet", column = "home", unit = kW)'))
    d = pebdsl.load(str(design))
    np.testing.assert_array_equal(d.participants["carol"].load.profile_kw, HOME)
    assert d.data_digest  # the file's bytes are in the provenance hash

    times = [t.isoformat() for t in home_series().index]
    table = pa.table(
        {"time": times, "home": pa.array(HOME, pa.float64())},
        schema=pa.schema(
            [("time", pa.string()), pa.field("home", pa.float64(), True, {"unit": "kW"})]
        ),
    )
    pq.write_table(table, tmp_path / "text.parquet")
    design.write_text(with_home('parquet("text.parquet")'))
    d = pebdsl.load(str(design))
    np.testing.assert_array_equal(d.participants["carol"].load.profile_kw, HOME)


def test_parquet_errors(tmp_path: Path) -> None:
    design = tmp_path / "street.peb"
    (tmp_path / "fake.parquet").write_text("time,home\n")
    home_series().iloc[:5].to_frame().to_parquet(tmp_path / "short.parquet")
    cases = {
        'parquet("fake.parquet", unit = kW)': ("E416", "cannot read Parquet file fake.parquet"),
        'parquet("none.parquet", unit = kW)': ("E402", "Parquet file not found"),
        'parquet("short.parquet", unit = kW)': ("E404", "short.parquet does not cover"),
        'parquet("short.parquet", column = "x", unit = kW)': ("E403", "column `x` not in"),
        'parquet("../x.parquet", unit = kW)': ("E411", "parquet(): ../x.parquet is outside"),
    }
    for expr, (code, text) in cases.items():
        design.write_text(with_home(expr))
        with pytest.raises(PebdslError) as info:
            pebdsl.load(str(design))
        assert info.value.codes == [code], expr
        assert text in info.value.render(), info.value.render()


# --- frames and reprs -----------------------------------------------------------------------------


def test_kpis_values_bills_frames(street: Any) -> None:
    k = street.kpis_frame()
    assert list(k.columns) == ["scope", "entity", "key", "value", "unit"]
    row = k[(k.scope == "participants") & (k.entity == "alice") & (k.key == "grid_import_kwh")]
    assert row["value"].item() == street.kpis["participants"]["alice"]["grid_import_kwh"]
    assert row["unit"].item() == "kWh"
    share = k[(k.scope == "design") & (k.key == "demand_shares.grid")]
    assert share["unit"].item() == "1"
    v = street.values_frame()
    peak = v[(v.key == "peak_import_kw") & (v.entity == "sunny_street")]
    assert peak["value"].item() == street.values["peak_import_kw"]["sunny_street"]
    assert peak["unit"].item() == "kW"
    b = street.bills_frame()
    assert (
        b.attrs["unit"] == "EUR" and b.loc["alice", "total"] == street.bills.loc["alice", "total"]
    )


def test_comparison_and_sweep_frames() -> None:
    cmp = pebdsl.compare(str(STREET))
    f = cmp.to_frame()
    assert list(f.columns) == ["file", "label", "variant", "status", "metric", "value", "unit"]
    base = f[(f.label == "base") & (f.metric == "total_cost")]
    assert base["value"].item() == cmp.case("base").summary["total_cost"]
    assert base["unit"].item() == "EUR"
    pct = f[(f.label == "base") & (f.metric == "saving_pct")]
    assert pct["unit"].item() == "%"

    sw = pebdsl.sweep(str(STREET), ["alice.battery.capacity=5 kWh,10 kWh"])
    s = sw.to_frame()
    p = "alice.battery.capacity"
    assert s[p].dtype == np.float64 and set(s[p]) == {5.0, 10.0}
    assert set(s[f"{p} unit"]) == {"kWh"}
    cost = s[(s.metric == "total_cost") & (s[p] == 10.0)]
    # 10 kWh is the file's own capacity: the base design's cost.
    assert cost["value"].item() == pytest.approx(cmp.case("base").summary["total_cost"])
    assert cost["unit"].item() == "EUR"
    for obj in (cmp, sw):
        text = repr(obj)
        assert "\n" not in text and len(text) < 400, text
        assert obj._repr_html_().startswith("<div")


def test_short_reprs(street: Any) -> None:
    d = street.design
    text = repr(d)
    assert text.startswith("<Design 'Two prosumers") and len(text) < 300, text
    assert "3 participants, 1 blocks, 1 markets, 1 batteries" in text
    assert d._repr_html_().startswith("<div") and len(d._repr_html_()) < 500
    assert len(repr(street)) < 300 and street._repr_html_().startswith("<div")


def test_results_json_keeps_the_design_text(street: Any, tmp_path: Path) -> None:
    write_outputs(street, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["design"]["source"] == TEXT


def test_set_edits_survive_read_results(tmp_path: Path) -> None:
    """`pebdsl solve FILE --set 'grid.buy = 0.5 EUR/kWh' --out DIR`: results.json keeps the
    edit (`design.edits`), its hash covers it (not the plain file's), and read_results rebuilds
    the design that was solved — grid buy 0.50 in every step, the stored total cost — rather
    than the file without the edit."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pebdsl", "solve", str(STREET), "--set", "grid.buy = 0.5 EUR/kWh"]
    subprocess.run([*cmd, "--out", str(out), "-q"], check=True, timeout=300)
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["design"]["edits"] == ["grid.buy = 0.5 EUR/kWh"]
    assert doc["design"]["hash"] != pebdsl.load(str(STREET)).digest()
    r = pebdsl.read_results(out)
    np.testing.assert_allclose(r.design.grid.buy_per_kwh, 0.5)
    assert r.design.edits == ("grid.buy = 0.5 EUR/kWh",)
    assert r.design.digest() == doc["design"]["hash"]
    assert r.total_cost == pytest.approx(doc["total_cost"]["value"])
