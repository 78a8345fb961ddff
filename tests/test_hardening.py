"""Regression tests for issue 9 (hardening): each one failed on the code before the fix.

Item 1 overflow (E302, chart ticks), item 2 memory (trade tables and heat maps bounded, the
node mix computed per node), item 3 HiGHS statuses (E504), items 5 and 11 csv() (E409-E412,
`--allow-outside`, short escaped excerpts), item 7 dates at the edge of pandas' range (E314,
E406). The fuzz campaign itself runs in tests/test_fuzz_campaign.py.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from pebdsl import PebdslError
from pebdsl.load import load, load_all

BASE = """design "hardening" {{ currency = EUR }}
horizon {{ start = {start}; duration = {duration}; step = 1 h }}
grid {{ buy = {buy}; sell = 0.05 EUR/kWh }}
{series}
block b {{
  participant a {{ load {{ profile = {load} }}{extra} }}
  participant c {{ load {{ profile = 1 kW }} }}
}}
"""


def text(
    *,
    start: str = "2021-06-07",
    duration: str = "1 d",
    buy: str = "0.30 EUR/kWh",
    load: str = "1 kW",
    extra: str = "",
    series: str = "",
) -> str:
    return BASE.format(
        start=start, duration=duration, buy=buy, load=load, extra=extra, series=series
    )


def codes_of(tmp: Path, src: str, **kw: object) -> list[str]:
    path = tmp / "d.peb"
    path.write_text(src, encoding="utf-8", errors="surrogatepass")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy warning may leak
        try:
            load_all(str(path), **kw)  # type: ignore[arg-type]
        except PebdslError as e:
            return sorted(set(e.codes))
    return []


def message_of(tmp: Path, src: str) -> str:
    path = tmp / "d.peb"
    path.write_text(src, encoding="utf-8")
    with pytest.raises(PebdslError) as info:
        load(str(path))
    return info.value.render()


# -- item 1: overflow -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        {"extra": "; pv { profile = 2; peak = 1e308 kWp }"},  # peak beyond 1e12 kW
        {"extra": "; pv { profile = 1e7; peak = 1e6 kWp }"},  # each fine, the product 1e13
        {"load": "1.79e308 kW"},
        {"buy": "1e300 EUR/kWh"},
        {"load": "home * 1e300", "series": "series home = 1 kW"},
    ],
)
def test_overflowing_quantities_are_e302_at_check(tmp_path: Path, kw: dict[str, str]) -> None:
    """Before: `profile = 2; peak = 1e308 kWp` passed check with a numpy overflow warning, the
    others passed silently and failed later (an OverflowError or an endless tick loop)."""
    assert codes_of(tmp_path, text(**kw)) == ["E302"]


def test_the_largest_supported_values_check_clean(tmp_path: Path) -> None:
    """1e12 kW (the bound itself) is accepted: the limit is 10^12 in canonical units."""
    assert codes_of(tmp_path, text(load="1e12 kW")) == []


def test_nice_ticks_refuses_non_finite_limits_and_stays_bounded() -> None:
    from pebdsl.present.report.charts import MAX_TICKS, nice_ticks

    for lo, hi in [(0.0, float("inf")), (float("nan"), 1.0), (-1.7e308, 1.7e308)]:
        with pytest.raises(ValueError):
            nice_ticks(lo, hi)
    # Before, a step too small to move 1e17 (1e17 + 0.02 == 1e17) looped forever.
    ticks = nice_ticks(1e17, 1e17 + 0.1, 5)
    assert 2 <= len(ticks) <= MAX_TICKS
    # Hand: range 7.3 in 6 ticks -> raw step 1.22 -> nice step 2: 0, 2, 4, 6, 8.
    assert nice_ticks(0.0, 7.3, 6) == [0, 2, 4, 6, 8]


def test_a_line_chart_of_huge_values_is_an_empty_chart() -> None:
    import pandas as pd

    from pebdsl.present.report import charts as ch
    from pebdsl.present.report.timecharts import Layer, time_line_chart

    axis = ch.TimeAxis(pd.date_range("2021-06-07", periods=4, freq="h", tz="UTC"), 1.0)
    layer = Layer("x", np.array([0.0, 1.7e308, -1.7e308, 1.0]), ch.color(0))
    svg = str(time_line_chart(axis, [layer], title="t", y_label="y"))
    assert "out of the drawable range" in svg


# -- item 2: memory linear in traders -------------------------------------------------------
def test_trade_groups_bound_the_trades_table() -> None:
    """Up to the limit every trader has its row; beyond it the largest `limit` sellers and
    buyers keep theirs and the rest share `(others)`: 5 traders, limit 2 -> 3 x 3."""
    from pebdsl.invert import OTHERS, ProductFlow, trade_groups
    from pebdsl.lower.inverse import ProductMap

    traders = ["a", "b", "c", "d", "e"]
    sent = np.array([[5.0], [0.0], [3.0], [1.0], [0.0]])  # a and c sold most
    recv = np.array([[0.0], [4.0], [0.0], [1.0], [2.0]])  # b and e bought most
    flows = [ProductFlow(ProductMap("energy", 0.0), sent, recv, None)]
    gs, gb, ls, lb = trade_groups(traders, flows, limit=2)
    assert ls == ["a", "c", OTHERS] and lb == ["b", "e", OTHERS]
    assert gs.tolist() == [0, 2, 1, 2, 2] and gb.tolist() == [2, 0, 2, 2, 1]
    same = trade_groups(traders, flows, limit=5)
    assert same[2] == traders and same[0].tolist() == [0, 1, 2, 3, 4]


def test_a_large_pool_keeps_a_bounded_trades_table(tmp_path: Path) -> None:
    """Before: a pool of N traders stored an N x N table (and an N x N heat map, 16 M SVG
    cells at 4 000). With 230 traders (> 200) each side keeps 200 rows or columns and sums the
    other 30 into `(others)`: 201 x 201, conserving the volume; the heat map shows 41 x 41."""
    from pebdsl.invert import MAX_TRADE_PARTIES, OTHERS
    from pebdsl.present.report import figures
    from pebdsl.present.report.figures import MAX_HEATMAP_PARTIES, _top_parties
    from pebdsl.solve import solve

    n = MAX_TRADE_PARTIES + 30
    src = f"""design "pool" {{ currency = EUR }}
horizon {{ start = 2021-06-07; duration = 2 h; step = 1 h }}
grid {{ buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }}
block b {{
  participant h[1..{n - 20}] {{ load {{ profile = 1 kW }} }}
  participant s[1..20] {{ pv {{ profile = [1, 2]; peak = 10 kWp }} }}
}}
market m {{ type = pool; members = b; fee = 1 ct/kWh }}
"""
    path = tmp_path / "pool.peb"
    path.write_text(src, encoding="utf-8")
    res = solve(load(str(path)))
    tr = res.trades["m"]
    assert tr.shape == (MAX_TRADE_PARTIES + 1, MAX_TRADE_PARTIES + 1)
    assert tr.index[-1] == OTHERS and tr.columns[-1] == OTHERS
    assert figures.OTHERS == OTHERS  # the report's heat map folds the same label
    assert all(f"s{i}" in tr.index for i in range(1, 21))  # every real seller keeps its row
    # Hand: the 20 PV owners (no load) have 200 kW, then 400 kW; the 210 loads need 210 kW per
    # step. Buying locally saves 0.30 - 0.01 fee over the grid and selling beats 0.05, and the
    # fee rules out any extra round trips: 200 + 210 = 410 kWh received over two steps.
    assert tr.to_numpy().sum() == pytest.approx(410.0)
    shown = _top_parties(tr)
    assert shown.shape == (MAX_HEATMAP_PARTIES + 1, MAX_HEATMAP_PARTIES + 1)
    assert shown.to_numpy().sum() == pytest.approx(410.0)


# -- item 3: HiGHS statuses -------------------------------------------------------------------
def _bad_ir():  # type: ignore[no-untyped-def]
    """One column, one row with a coefficient HiGHS refuses (|a| > 1e15)."""
    from pebdsl.ir import Expr, ModelIR

    ir = ModelIR(1, 1.0)
    v = ir.add_var("x", ["a"], lower=0.0, upper=1.0, cost=1.0)
    e = Expr(1, 1)
    e.add(v, 1e300, var_entities=[0], row_entities=[0])
    ir.add_con("r", ["a"], e, lower=0.0, upper=1.0)
    return ir


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_a_model_highs_refuses_is_rejected_not_solved(backend: str) -> None:
    """Before: passModel's kError was ignored, HiGHS ran its EMPTY model and reported it
    optimal with no values; extraction then crashed (reshape of an array of size 0)."""
    from pebdsl.backends import solve_ir

    sol = solve_ir(_bad_ir(), backend=backend)
    assert sol.status == "rejected"
    assert "passModel" in sol.message


def test_a_rejected_model_is_e504() -> None:
    from pebdsl.backends import get_backend
    from pebdsl.backends.highs import write_model
    from pebdsl.invert import diagnose

    ir = _bad_ir()
    backend = get_backend("highs")
    sol = backend.solve(ir)
    design = load(str(Path(__file__).resolve().parent.parent / "designs" / "sunny_street.peb"))
    assert diagnose(design, ir, sol, backend).codes == ["E504"]
    with pytest.raises(PebdslError) as info:
        write_model(ir, os.devnull + ".lp")
    assert info.value.codes == ["E504"]


def test_an_empty_model_solves_on_both_backends() -> None:
    from pebdsl.backends import solve_ir
    from pebdsl.ir import ModelIR

    for backend in ("highs", "pyomo"):
        sol = solve_ir(ModelIR(3, 1.0), backend=backend)
        assert sol.status == "optimal" and sol.x.shape == (0,)


# -- items 5 and 11: csv() ---------------------------------------------------------------------
def _csv_design(path_text: str) -> str:
    return text(load="s", series=f'series s = csv("{path_text}", column = "x", unit = kW)').replace(
        "duration = 1 d", "duration = 2 h"
    )


def _run_with_timeout(fn, seconds: float = 20.0):  # type: ignore[no-untyped-def]
    """Run `fn` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the test
            box["error"] = e

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(seconds)
    assert not th.is_alive(), "csv() blocked"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_e409_without_blocking(tmp_path: Path) -> None:
    """Before: opening the FIFO blocked forever."""
    os.mkfifo(tmp_path / "pipe.csv")
    got = _run_with_timeout(lambda: codes_of(tmp_path, _csv_design("pipe.csv")))
    assert got == ["E409"]
    assert "named pipe" in message_of(tmp_path, _csv_design("pipe.csv"))


def test_a_directory_is_e409_not_no_such_file(tmp_path: Path) -> None:
    """Before: E402 "CSV file not found" for a directory that exists."""
    (tmp_path / "data").mkdir()
    assert codes_of(tmp_path, _csv_design("data")) == ["E409"]
    assert "is a directory" in message_of(tmp_path, _csv_design("data"))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_e411_and_with_allow_outside_e409(tmp_path: Path) -> None:
    """Before: /dev/zero was read until memory ran out."""
    assert codes_of(tmp_path, _csv_design("/dev/zero")) == ["E411"]
    got = _run_with_timeout(
        lambda: codes_of(tmp_path, _csv_design("/dev/zero"), allow_outside=True)
    )
    assert got == ["E409"]


def test_a_nul_byte_in_the_path_is_e412(tmp_path: Path) -> None:
    """Before: ValueError: embedded null byte (a traceback)."""
    assert codes_of(tmp_path, _csv_design("da\x00ta.csv")) == ["E412"]


def _write_rows(path: Path, values: list[str]) -> None:
    rows = [f"2021-06-07T0{i}:00,{v}" for i, v in enumerate(values)]
    path.write_text("time,x\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_paths_outside_the_design_folder_need_allow_outside(tmp_path: Path) -> None:
    """Before: csv() read any path (`../`, absolute). Now E411, unless allowed."""
    design_dir = tmp_path / "design"
    design_dir.mkdir()
    _write_rows(tmp_path / "outside.csv", ["1", "2"])
    assert codes_of(design_dir, _csv_design("../outside.csv")) == ["E411"]
    assert codes_of(design_dir, _csv_design(str(tmp_path / "outside.csv"))) == ["E411"]
    # A symbolic link inside the folder to a file outside is outside.
    (design_dir / "link.csv").symlink_to(tmp_path / "outside.csv")
    assert codes_of(design_dir, _csv_design("link.csv")) == ["E411"]
    assert codes_of(design_dir, _csv_design("../outside.csv"), allow_outside=True) == []
    # A subfolder is inside.
    (design_dir / "data").mkdir()
    _write_rows(design_dir / "data" / "in.csv", ["1", "2"])
    assert codes_of(design_dir, _csv_design("data/in.csv")) == []


def test_cli_allow_outside(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pebdsl.cli import app

    design_dir = tmp_path / "design"
    design_dir.mkdir()
    _write_rows(tmp_path / "outside.csv", ["1", "2"])
    path = design_dir / "d.peb"
    path.write_text(_csv_design("../outside.csv"), encoding="utf-8")
    assert CliRunner().invoke(app, ["check", str(path)]).exit_code == 1
    assert CliRunner().invoke(app, ["check", "--allow-outside", str(path)]).exit_code == 0


def test_a_file_over_the_size_bound_is_e410(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pebdsl.resolve import csvread

    _write_rows(tmp_path / "big.csv", ["1", "2"])
    monkeypatch.setattr(csvread, "MAX_CSV_BYTES", 10)
    assert codes_of(tmp_path, _csv_design("big.csv")) == ["E410"]


def test_a_huge_cell_is_quoted_as_a_short_escaped_excerpt(tmp_path: Path) -> None:
    """Before: the whole 100 KB cell (and any control characters) went into the E405 message."""
    cell = "\x1b[31m" + "A" * 100_000
    _write_rows(tmp_path / "cell.csv", ["1", cell])
    msg = message_of(tmp_path, _csv_design("cell.csv"))
    assert "E405" in msg
    assert "A" * 41 not in msg
    assert "\x1b" not in msg and "\\x1b" in msg
    assert len(msg) < 1000


def test_excerpt_escapes_and_cuts() -> None:
    from pebdsl.resolve.csvread import excerpt

    assert excerpt("abc") == "abc"
    assert excerpt("a\x1bb\u202ec") == "a\\x1bb\\u202ec"
    cut = excerpt("x" * 100)
    assert cut == "x" * 40 + "…"


# -- item 7: dates at the edge of pandas' range -----------------------------------------------
@pytest.mark.parametrize("start", ["2262-04-10", "0001-01-01", "9999-12-30", "1677-12-31"])
def test_horizons_outside_pandas_range_are_e312(tmp_path: Path, start: str) -> None:
    """Before: 9999-12-30 crashed in the report (strftime), 2262 once a CSV was aligned."""
    assert codes_of(tmp_path, text(start=start, duration="2 d")) == ["E314"]


def test_a_horizon_just_inside_the_range_checks_clean(tmp_path: Path) -> None:
    assert codes_of(tmp_path, text(start="2261-12-30", duration="1 d")) == []


def test_a_csv_row_after_2262_04_11_is_e406(tmp_path: Path) -> None:
    (tmp_path / "edge.csv").write_text(
        "time,x\n2021-06-07T00:00,1\n2021-06-07T01:00,1\n2262-04-12T00:00,2\n", encoding="utf-8"
    )
    assert codes_of(tmp_path, _csv_design("edge.csv")) == ["E406"]
    msg = message_of(tmp_path, _csv_design("edge.csv"))
    assert "2262-04-12" in msg and "outside the dates pandas can hold" in msg
