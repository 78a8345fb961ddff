"""Issue 9, output and terminal side: one regression test per item (4, 6, 8, 9, 10, 12).

Each test failed before the fix: `--out` at a file or a read-only target raised a traceback
(item 4); a title with `[/]` crashed `solve` and escape sequences reached the terminal (6); a
horizon starting in the repeated autumn hour crashed the report after the tables were written
(8); files of an earlier run survived a re-solve (9); `compare` exited 0 when cases failed (10);
report.html carried the wall-clock render time and timings (12).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pebdsl.cli import app

ROOT = Path(__file__).resolve().parents[1]
SUNNY = ROOT / "designs" / "sunny_street.peb"
SUNNY_TEXT = SUNNY.read_text(encoding="utf-8")
TITLE = 'design "Two prosumers and a consumer sharing one block"'

runner = CliRunner()


def _design(tmp_path: Path, title: str | None = None, extra: str = "", name: str = "d.peb") -> Path:
    text = SUNNY_TEXT
    if title is not None:
        text = text.replace(TITLE, f'design "{title}"', 1)
    path = tmp_path / name
    path.write_text(text + extra, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _no_traceback(result: object) -> None:
    exc = getattr(result, "exception", None)
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert "Traceback" not in getattr(result, "output", "")


# --- item 4: --out at an existing file or a read-only target ----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["solve", str(SUNNY), "--no-reference", "--out"],
        ["compare", str(SUNNY), "--out"],
        ["sweep", str(SUNNY), "--set", "alice.pv.peak=4 kWp", "--workers", "1", "--out"],
    ],
    ids=["solve", "compare", "sweep"],
)
def test_out_at_an_existing_file_is_a_one_line_usage_error(args: list[str], tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.write_text("mine")
    result = runner.invoke(app, [*args, str(target)])
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error[E902]: output folder `{target}` is an existing file")
    assert target.read_text() == "mine"


def test_out_at_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    # Writing the new run as a set replaces the whole folder: a folder pebdsl did not write
    # (here, the design's own) is refused before anything is solved.
    design = _design(tmp_path)
    result = runner.invoke(app, ["solve", str(design), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "error[E902]" in result.stderr and "did not write" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.peb"]


def test_compile_output_at_a_folder_is_e902(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compile", str(SUNNY), "--emit", "lp", "-o", str(tmp_path)])
    _no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error[E902]: output file `{tmp_path}` is an existing folder")


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder in which the OS refuses every write (EROFS), also to root: os.mkdir, os.open
    for writing and renames into or out of it fail as on a read-only file system."""
    ro = tmp_path / "ro"
    ro.mkdir()
    root = str(ro)

    def inside(p: object) -> bool:
        return os.path.abspath(os.fsdecode(p)).startswith(root)  # type: ignore[arg-type]

    def refuse(p: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(p))  # type: ignore[arg-type]

    real_mkdir, real_open, real_rename, real_replace = os.mkdir, os.open, os.rename, os.replace

    def mkdir(path: object, *a: object, **k: object) -> None:
        if inside(path):
            raise refuse(path)
        real_mkdir(path, *a, **k)  # type: ignore[arg-type]

    def open_(path: object, flags: int, *a: object, **k: object) -> int:
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise refuse(path)
        return real_open(path, flags, *a, **k)  # type: ignore[arg-type]

    def rename(src: object, dst: object, *a: object, **k: object) -> None:
        if inside(src) or inside(dst):
            raise refuse(dst)
        real_rename(src, dst, *a, **k)  # type: ignore[arg-type]

    def replace(src: object, dst: object, *a: object, **k: object) -> None:
        if inside(src) or inside(dst):
            raise refuse(dst)
        real_replace(src, dst, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    yield ro


@pytest.mark.parametrize(
    "args",
    [
        ["solve", str(SUNNY), "--no-reference", "--out", "{ro}/out"],
        ["compare", str(SUNNY), "--out", "{ro}/out"],
        ["compile", str(SUNNY), "--emit", "lp", "-o", "{ro}/model.lp"],
    ],
    ids=["solve", "compare", "compile"],
)
def test_read_only_target_is_e903_exit_1(args: list[str], read_only: Path) -> None:
    result = runner.invoke(app, [a.replace("{ro}", str(read_only)) for a in args])
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.lstrip().startswith("error[E903]: cannot write `")
    assert "Read-only file system" in result.stderr
    assert list(read_only.iterdir()) == []


def test_fmt_of_a_read_only_file_is_e903(read_only: Path) -> None:
    design = read_only / "d.peb"
    text = SUNNY_TEXT.replace("currency = EUR", "currency   =   EUR", 1)  # fmt would rewrite it
    design.write_text(text, encoding="utf-8")  # io.open: not the patched os.open
    result = runner.invoke(app, ["fmt", str(design)])
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error[E903]: cannot write `{design}`")
    assert design.read_text(encoding="utf-8") == text


# --- item 6: design text never drives the terminal ------------------------------------------

ESC = "\x1b"
OSC8 = f"{ESC}]8;;http://evil.example/\x07click{ESC}]8;;\x07"
RLO = "\u202e"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pebdsl", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_solve_shows_markup_and_escapes_in_a_title_as_text(tmp_path: Path) -> None:
    title = f"bad [/] title [link=http://evil.example/]x[/link] {OSC8} {RLO}abc {ESC}[31mRED"
    proc = _run("solve", str(_design(tmp_path, title)))
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith(
        "bad [/] title [link=http://evil.example/]x[/link] "
        "\\x1b]8;;http://evil.example/\\x07click\\x1b]8;;\\x07 \\u202eabc \\x1b[31mRED: optimal"
    )
    for raw in (ESC, "\x07", RLO):
        assert raw not in proc.stdout + proc.stderr


def test_check_escapes_control_characters_in_source_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.peb"
    bad.write_text(f'design "T {ESC}[2J{RLO}" {{ currency = EURX }}\n', encoding="utf-8")
    proc = _run("check", str(bad))
    assert proc.returncode == 1
    assert ESC not in proc.stderr and RLO not in proc.stderr
    lines = proc.stderr.splitlines()
    caret = next(line for line in lines if "not allowed here" in line)  # E307 on `EURX`
    source = lines[lines.index(caret) - 1]
    assert source == '1 | design "T \\x1b[2J\\u202e" { currency = EURX }'
    # The caret stays under `EURX` in the escaped line.
    assert caret.index("^") == source.index("EURX") and caret.count("^") == 4


def test_compare_escapes_descriptions_and_errors(tmp_path: Path) -> None:
    extra = (
        f'variant shady {{ description = "see {OSC8} [bold]" ; set alice.pv.peak = 5 kWp }}\n'
        f'variant broken {{ description = "x{ESC}[2J"; without market nosuch }}\n'
    )
    proc = _run("compare", str(_design(tmp_path, extra=extra)))
    out = proc.stdout + proc.stderr
    assert ESC not in out and "\x07" not in out
    assert "shady: see \\x1b]8;;http://evil.example/\\x07click\\x1b]8;;\\x07 [bold]" in out
    assert "broken failed:" in out and "error[E101]" in out


def test_terminal_text_rules() -> None:
    from pebdsl.safetext import terminal_text

    # Newline and tab stay; C0, DEL, C1, bidi controls and lone surrogates become escapes;
    # letters of any script stay; escaping twice changes nothing.
    s = "a\tb\nc\x00\x1b\x7f\x85\u202e\u2066\u200f\u061c\udcff é 日本"
    want = "a\tb\nc\\x00\\x1b\\x7f\\x85\\u202e\\u2066\\u200f\\u061c\\udcff é 日本"
    assert terminal_text(s) == want
    assert terminal_text(want) == want


def test_report_neutralises_bidi_controls(tmp_path: Path) -> None:
    from pebdsl.load import load
    from pebdsl.present.output import write_outputs
    from pebdsl.safetext import neutralise_bidi
    from pebdsl.solve import solve

    # Every bidi control of issue 9: U+202A-202E, U+2066-2069, U+200E/F, U+061C.
    bidi = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
    controls = "".join(map(chr, bidi))
    title = f"admin{RLO}txt.exe {controls}"
    design = _design(tmp_path, title, extra=f'variant v {{ description = "d{chr(0x2067)}x" }}\n')
    write_outputs(solve(load(str(design), variant="v")), tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert not set(html) & set(controls)
    assert "admin&lt;U+202E&gt;txt.exe" in html
    assert "d&lt;U+2067&gt;x" in html
    assert neutralise_bidi("a\u200eb") == "a&lt;U+200E&gt;b"


# --- item 8: a horizon starting in the repeated autumn hour ----------------------------------


def test_solve_out_with_a_start_in_the_repeated_autumn_hour(tmp_path: Path) -> None:
    # docs/language.md: an ambiguous start takes its first occurrence. 2021-10-31 02:30 in
    # Europe/Oslo happens twice (CEST, then CET); the report's axis used to crash on it.
    text = SUNNY_TEXT.replace("start    = 2021-06-07", "start    = 2021-10-31T02:30", 1)
    design = tmp_path / "dst.peb"
    design.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(design), "--out", str(out)])
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert {"results.json", "report.html", "participants.csv"} <= {p.name for p in out.iterdir()}
    assert "2021-10-31 02:30 to 2021-11-01 01:30" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("start", "tz", "days"),
    [
        ("2021-10-31 02:30", "Europe/Oslo", 1),  # first of the repeated hours (CEST)
        ("2021-10-31 02:30:00+01:00", "Europe/Oslo", 1),  # second one (CET)
        ("2021-11-07 00:30", "America/Havana", 3),  # a repeated *midnight*
        ("2021-03-13 00:00", "America/Havana", 3),  # a day whose midnight does not exist
        ("2021-10-30 00:00", "Europe/Oslo", 30),
    ],
)
def test_time_axis_ticks_across_daylight_saving(start: str, tz: str, days: int) -> None:
    from pebdsl.present.report.charts import TimeAxis

    ts = pd.Timestamp(start)
    ts = ts.tz_convert(tz) if ts.tz is not None else ts.tz_localize(tz, ambiguous=True)
    index = pd.date_range(ts, periods=24 * days, freq="h")
    ticks = TimeAxis(index, 1.0).ticks()
    hours = [h for h, _ in ticks]
    assert ticks and hours == sorted(set(hours))
    assert hours[0] >= 0 and hours[-1] <= 24 * days


def test_a_failing_report_leaves_the_previous_run_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pebdsl.load import load
    from pebdsl.present import output
    from pebdsl.solve import solve

    results = solve(load(str(SUNNY)))
    out = tmp_path / "out"
    output.write_outputs(results, out)
    before = _snapshot(out)

    def boom(*a: object, **k: object) -> str:
        raise RuntimeError("report failed")

    monkeypatch.setattr(output, "_report", boom)
    with pytest.raises(RuntimeError):
        output.write_outputs(solve(load(str(SUNNY), variant="no_trade")), out)
    assert _snapshot(out) == before
    with pytest.raises(RuntimeError):
        output.write_outputs(results, tmp_path / "fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no tables, no temp folder


# --- item 9: output folders as a set ---------------------------------------------------------


def test_re_solve_leaves_no_file_of_the_earlier_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = runner.invoke(app, ["solve", str(SUNNY), "--no-reference", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert (out / "trades_street_p2p.csv").exists()
    (out / "notes.txt").write_text("scribbled into an output folder")
    again = runner.invoke(
        app, ["solve", str(SUNNY), "-v", "no_trade", "--no-reference", "--out", str(out)]
    )
    assert again.exit_code == 0, again.output
    names = {p.name for p in out.iterdir()}
    assert not {n for n in names if n.startswith("trades_") or n == "notes.txt"}
    assert {"results.json", "report.html", "participants.csv"} <= names
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_re_compare_leaves_no_case_of_the_earlier_comparison(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["compare", str(SUNNY), "--out", str(out)]).exit_code == 0
    assert (out / "sunny_street" / "no_trade" / "results.json").exists()
    assert (
        runner.invoke(app, ["compare", str(SUNNY), "-v", "base", "--out", str(out)]).exit_code == 0
    )
    assert sorted(p.name for p in (out / "sunny_street").iterdir()) == ["base"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replace_dir_swaps_whole_folders(
    exchange: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pebdsl import fsutil

    if not exchange:
        monkeypatch.setattr(fsutil, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    with fsutil.replace_dir(target) as tmp:
        (tmp / "results.json").write_text("1")
        (tmp / "old_only.csv").write_text("1")
    with fsutil.replace_dir(target) as tmp:
        assert target.exists() and not list(tmp.iterdir())
        (tmp / "results.json").write_text("2")
    assert _snapshot(target) == {"results.json": b"2"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replace_dir_recovers_what_a_killed_run_left(tmp_path: Path) -> None:
    """A run killed between the fallback's two renames leaves no `out`, its backup and its new
    folder; the next run restores the backup first (then replaces it), and removes both."""
    from pebdsl import fsutil

    pid = _dead_pid()
    host = fsutil._host()
    backup = tmp_path / f".out.pebdsl-old-{host}-{pid}-abcd1234"
    backup.mkdir()
    (backup / "results.json").write_text("previous")
    (tmp_path / f".out.pebdsl-new-{host}-{pid}-xyz").mkdir()
    mine = tmp_path / f".out.pebdsl-new-{host}-{os.getpid()}-live"  # a live run's: kept
    mine.mkdir()
    seen: dict[str, bytes] = {}
    with fsutil.replace_dir(tmp_path / "out") as tmp:
        seen = _snapshot(tmp_path / "out")
        (tmp / "results.json").write_text("new")
    assert seen == {"results.json": b"previous"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", mine.name])


# --- item 10: compare and sweep exit 1 when a case failed -----------------------------------


def test_compare_of_a_file_with_a_syntax_error_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.peb"
    bad.write_text('design "x" { currency = EUR\n')
    result = runner.invoke(app, ["compare", str(bad)])
    assert result.exit_code == 1
    assert "pebdsl compare" in result.stdout and "error[E003]" in result.stdout


def test_compare_with_a_failed_case_exits_1_and_prints_the_table(tmp_path: Path) -> None:
    extra = "variant broken { without market nosuch }\n"
    result = runner.invoke(app, ["compare", str(_design(tmp_path, extra=extra))])
    assert result.exit_code == 1
    assert "no_trade" in result.stdout and "broken failed:" in result.stdout
    ok = runner.invoke(app, ["compare", str(SUNNY), "--json"])
    assert ok.exit_code == 0, ok.output


def test_sweep_with_a_failed_case_exits_1_and_prints_the_table(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", str(SUNNY), "--set", "alice.pv.peak=4 kWp,4 kg", "--workers", "1"]
    )
    assert result.exit_code == 1
    assert "case 1 failed:" in result.stdout and "optimal" in result.stdout


# --- item 12: byte-reproducible reports -----------------------------------------------------


def test_source_date_epoch_makes_reports_byte_reproducible(tmp_path: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": "1700000000"}  # 2023-11-14 22:13:20 UTC
    out = tmp_path / "out"
    pages = []
    for _ in range(2):
        solve = runner.invoke(app, ["solve", str(SUNNY), "--out", str(out / "s")], env=env)
        assert solve.exit_code == 0, solve.output
        comp = runner.invoke(app, ["compare", str(SUNNY), "--out", str(out / "c")], env=env)
        assert comp.exit_code == 0, comp.output
        pages.append(
            [
                (out / "s" / "report.html").read_bytes(),
                (out / "c" / "compare.html").read_bytes(),
                (out / "c" / "sunny_street" / "base" / "report.html").read_bytes(),
            ]
        )
    assert pages[0] == pages[1]
    html = pages[0][0].decode()
    assert "2023-11-14 22:13:20 UTC" in html
    assert "left out (SOURCE_DATE_EPOCH is set)" in html


# --- docs/errors.md: the command-line examples of E902 and E903 -----------------------------


def _cli_examples() -> dict[str, tuple[str, str]]:
    """{code: (command, shown output)} of the ```sh + ```text pairs in docs/errors.md."""
    lines = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8").splitlines()
    out: dict[str, tuple[str, str]] = {}
    code = None
    for i, line in enumerate(lines):
        if line.startswith("## "):
            code = line.split()[1]
        if code and line.strip() == "```sh":
            j = lines.index("```", i + 1)
            k = lines.index("```text", j)
            m = lines.index("```", k + 1)
            out[code] = ("\n".join(lines[i + 1 : j]), "\n".join(lines[k + 1 : m]))
    return out


@pytest.mark.parametrize("code", ["E902", "E903"])
def test_errors_md_output_examples(
    code: str, read_only: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    command, shown = _cli_examples()[code]
    # /read-only in the docs stands for any read-only place: here the `read_only` fixture.
    command, shown = (t.replace("/read-only", str(read_only)) for t in (command, shown))
    argv = shlex.split(command)
    assert argv[0] == "pebdsl"
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, argv[1:])
    assert result.exit_code == (2 if code == "E902" else 1)
    assert result.stderr.strip().removesuffix("1 error").strip() == shown.strip()
