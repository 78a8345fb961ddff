"""Every ```peb block of docs/*.md and README.md is checked (PRQL-style docs examples compiled
in tests).

- a block that starts with `design` is a complete design and must check clean;
- any other block is a fragment, placed in a minimal valid design (`strategies.wrap`);
- a block under a heading containing "Rejected" must fail with a coded `PebdslError`; in
  docs/errors.md the code must be the one of its section (`## E202 — …`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from strategies import wrap

from pebdsl import PebdslError
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve_all

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _blocks() -> list[tuple[str, int, str, bool, str | None]]:
    out = []
    for md in [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]:
        heading = ""
        code: str | None = None
        lines = md.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("#"):
                heading = line
                m = re.match(r"#+\s+(E\d{3})\b", line)
                if m:
                    code = m.group(1)
                elif line.startswith("## "):
                    code = None
            if line.strip() == "```peb":
                j = i + 1
                while j < len(lines) and lines[j].strip() != "```":
                    j += 1
                body = "\n".join(lines[i + 1 : j])
                out.append((md.name, i + 1, body, "Rejected" in heading, code))
                i = j
            i += 1
    return out


BLOCKS = _blocks()


def _text(body: str) -> str:
    return body if body.lstrip().startswith("design") else wrap(body)


@pytest.mark.parametrize(
    ("doc", "line", "body", "rejected", "code"), BLOCKS, ids=[f"{b[0]}:{b[1]}" for b in BLOCKS]
)
def test_docs_example(doc: str, line: int, body: str, rejected: bool, code: str | None) -> None:
    text = _text(body)
    if not rejected:
        resolve_all(parse(text, f"{doc}:{line}"))
        return
    with pytest.raises(PebdslError) as info:
        resolve_all(parse(text, f"{doc}:{line}"))
    codes = info.value.codes
    assert all(re.fullmatch(r"E\d{3}", c) for c in codes)
    if code is not None:
        assert code in codes, info.value.render()


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 20
    assert any(b[3] for b in BLOCKS)


def _solve_examples() -> list[tuple[str, int, str, str]]:
    """docs/errors.md designs that check clean but fail to solve (E5xx), with their shown output."""
    lines = (DOCS / "errors.md").read_text(encoding="utf-8").splitlines()
    out = []
    code = None
    for i, line in enumerate(lines):
        m = re.match(r"##\s+(E\d{3})\b", line)
        if line.startswith("## "):
            code = m.group(1) if m else None
        if code and code.startswith("E5") and line.strip() == "```peb":
            j = lines.index("```", i + 1)
            if lines[j + 1].strip() == "```text":
                k = lines.index("```", j + 2)
                out.append((code, i + 1, "\n".join(lines[i + 1 : j]), "\n".join(lines[j + 2 : k])))
    return out


SOLVE_EXAMPLES = _solve_examples()


def test_errors_md_has_solve_examples() -> None:
    assert any(code == "E501" for code, *_ in SOLVE_EXAMPLES)


@pytest.mark.parametrize(
    ("code", "line", "body", "shown"),
    SOLVE_EXAMPLES,
    ids=[f"errors.md:{e[1]}" for e in SOLVE_EXAMPLES],
)
def test_errors_md_solve_output(
    code: str, line: int, body: str, shown: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output docs/errors.md shows for a model without an optimum is what `solve` prints."""
    from typer.testing import CliRunner

    from pebdsl.cli import app

    m = re.search(r"-->\s+(\S+?):\d+:\d+", shown)
    assert m, "the shown output names the file"
    (tmp_path / m.group(1)).write_text(body + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["solve", m.group(1)])
    assert result.exit_code == 1
    printed = result.stderr if hasattr(result, "stderr") else result.output
    assert f"error[{code}]" in printed
    assert printed.strip().removesuffix("1 error").strip() == shown.strip()


def _warning_examples() -> list[tuple[str, int, str, str]]:
    """docs/errors.md warnings (## W1xx): a complete design and the text `check` prints."""
    lines = (DOCS / "errors.md").read_text(encoding="utf-8").splitlines()
    out = []
    code = None
    for i, line in enumerate(lines):
        if line.startswith("## "):
            m = re.match(r"##\s+(W\d{3})\b", line)
            code = m.group(1) if m else None
        if code and line.strip() == "```peb":
            j = lines.index("```", i + 1)
            assert lines[j + 1].strip() == "```text", f"errors.md:{i + 1}: no shown output"
            k = lines.index("```", j + 2)
            out.append((code, i + 1, "\n".join(lines[i + 1 : j]), "\n".join(lines[j + 2 : k])))
    return out


WARNING_EXAMPLES = _warning_examples()


def test_errors_md_documents_every_warning() -> None:
    """Each code of pebdsl.resolve.lint's docstring has exactly one example in docs/errors.md."""
    from pebdsl.resolve import lint

    codes = sorted(set(re.findall(r"\bW1\d\d\b", lint.__doc__ or "")))
    assert codes == ["W101", "W102", "W103", "W104", "W105", "W106"]
    assert sorted(c for c, *_ in WARNING_EXAMPLES) == codes


@pytest.mark.parametrize(
    ("code", "line", "body", "shown"),
    WARNING_EXAMPLES,
    ids=[f"errors.md:{e[1]}" for e in WARNING_EXAMPLES],
)
def test_errors_md_warning_output(
    code: str, line: int, body: str, shown: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output docs/errors.md shows for a warning is what `check` prints (exit 0), and
    `--deny-warnings` turns it into an error (exit 1)."""
    from typer.testing import CliRunner

    from pebdsl.cli import app

    m = re.search(r"-->\s+(\S+?):\d+:\d+", shown)
    assert m, "the shown output names the file"
    (tmp_path / m.group(1)).write_text(body + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", m.group(1)])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ok: {m.group(1)} (base)"
    assert result.stderr.strip().removesuffix("1 warning").strip() == shown.strip()
    assert shown.startswith(f"warning[{code}]: ")
    denied = CliRunner().invoke(app, ["check", "--deny-warnings", m.group(1)])
    assert denied.exit_code == 1
    assert denied.stderr.startswith(f"error[{code}]: ")
    assert denied.stdout == ""


def test_complete_doc_designs_have_no_warnings() -> None:
    """Every complete design in the docs, except the warning examples themselves, checks
    without warnings (base and variants together, as `pebdsl check FILE` prints them)."""
    from pebdsl.resolve.lint import merge

    shown = {body for *_, body, _ in WARNING_EXAMPLES}
    complete = [
        (doc, line, body)
        for doc, line, body, rejected, _ in BLOCKS
        if not rejected and body.lstrip().startswith("design") and body not in shown
    ]
    assert complete
    for doc, line, body in complete:
        warnings = merge(resolve_all(parse(body, f"{doc}:{line}")))
        assert warnings == [], "\n\n".join(w.render() for w in warnings)
