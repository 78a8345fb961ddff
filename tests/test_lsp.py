"""The language server over stdio, driven by a real LSP client (pygls's `LanguageClient`
starting `python -m pebdsl lsp` as a subprocess and speaking JSON-RPC over its pipes).

Positions are 0-based (line, UTF-16 column) as the protocol counts them; each expected position
is found in the test text by hand (`_pos`), so no number here is copied from the server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

from pebdsl.lsp.adapter import ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
SUNNY = (ROOT / "designs" / "sunny_street.peb").read_text(encoding="utf-8")
TIMEOUT = 120  # seconds; generous for a loaded machine, never a timing assertion


def _pos(text: str, needle: str, nth: int = 0, into: int = 0) -> T.Position:
    """The position of the `nth` occurrence of `needle` in `text`, `into` characters in."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += into
    line = text.count("\n", 0, at)
    return T.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


class Session:
    """One server process and one client; diagnostics are queued as they arrive."""

    def __init__(self, tmp: Path) -> None:
        self.client = LanguageClient("pebdsl-tests", "0")
        self.diagnostics: asyncio.Queue[T.PublishDiagnosticsParams] = asyncio.Queue()

        def publish(params: T.PublishDiagnosticsParams) -> None:
            self.diagnostics.put_nowait(params)

        self.client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(publish)
        self.path = tmp / "design.peb"
        self.uri = self.path.as_uri()

    async def start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "pebdsl", "lsp")
        await self.client.initialize_async(
            T.InitializeParams(capabilities=T.ClientCapabilities(), process_id=None)
        )
        self.client.initialized(T.InitializedParams())

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    def open(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")
        item = T.TextDocumentItem(uri=self.uri, language_id="peb", version=1, text=text)
        self.client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=item))

    def change(self, text: str, version: int) -> None:
        self.client.text_document_did_change(
            T.DidChangeTextDocumentParams(
                text_document=T.VersionedTextDocumentIdentifier(uri=self.uri, version=version),
                content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def diagnostics_of(self, version: int) -> list[T.Diagnostic]:
        """The diagnostics the server published for this version (earlier ones skipped)."""
        while True:
            got = await asyncio.wait_for(self.diagnostics.get(), TIMEOUT)
            if got.version == version:
                return list(got.diagnostics)

    def doc(self) -> T.TextDocumentIdentifier:
        return T.TextDocumentIdentifier(uri=self.uri)


async def ask(request: Awaitable[Any]) -> Any:
    """A request's answer, or a failed test (never a hang) if the server does not answer."""
    return await asyncio.wait_for(request, TIMEOUT)


def run(tmp: Path, body: Callable[[Session], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        s = Session(tmp)
        await s.start()
        try:
            return await body(s)
        finally:
            await s.stop()

    return asyncio.run(main())


def test_misspelt_name_after_an_edit(tmp_path: Path) -> None:
    """The clean example design has no diagnostics; after an edit that misspells the series
    `home` as `hom` (in `template household { load { profile = home } }`), version 2 gets
    E101 exactly on `hom` with the did-you-mean hint."""
    bad = SUNNY.replace("profile = home", "profile = hom", 1)

    async def body(s: Session) -> tuple[list[T.Diagnostic], list[T.Diagnostic]]:
        s.open(SUNNY)
        first = await s.diagnostics_of(1)
        s.change(bad, 2)
        return first, await s.diagnostics_of(2)

    first, second = run(tmp_path, body)
    assert first == []
    (d,) = second
    assert d.code == "E101" and d.severity == T.DiagnosticSeverity.Error
    start = _pos(bad, "profile = hom", into=len("profile = "))
    assert d.range.start == start
    assert d.range.end == T.Position(line=start.line, character=start.character + 3)
    assert "unknown series `hom`" in d.message
    assert "help: did you mean `home`?" in d.message


def test_syntax_error_and_warning(tmp_path: Path) -> None:
    """A missing `}` is a syntax error (E0xx) at once; an unused series is warning W105."""
    unused = SUNNY + "\nseries spare = 1 kW\n"

    async def body(s: Session) -> tuple[list[T.Diagnostic], list[T.Diagnostic]]:
        s.open(SUNNY.replace("grid {", "grid", 1))
        broken = await s.diagnostics_of(1)
        s.change(unused, 2)
        return broken, await s.diagnostics_of(2)

    broken, warned = run(tmp_path, body)
    assert broken and all(d.code.startswith("E0") for d in broken)  # type: ignore[union-attr]
    (w,) = warned
    assert w.code == "W105" and w.severity == T.DiagnosticSeverity.Warning
    assert w.range.start.line == _pos(unused, "series spare").line


def test_hover_on_attribute_and_quantity(tmp_path: Path) -> None:
    """`capacity` in `battery { }` is an energy in kWh (docs/language.md); `5 ct/kWh` is
    0.05 EUR/kWh in base units (1 ct = 0.01 EUR); `household` shows its declaration."""

    async def body(s: Session) -> list[T.Hover | None]:
        s.open(SUNNY)
        out = []
        for pos in (
            _pos(SUNNY, "capacity = 10", into=3),
            _pos(SUNNY, "5 ct/kWh", into=3),
            _pos(SUNNY, "from household", into=7),
        ):
            out.append(await ask(s.client.text_document_hover_async(T.HoverParams(s.doc(), pos))))
        return out

    cap, price, template = run(tmp_path, body)
    assert cap is not None and "energy (kWh)" in cap.contents.value
    assert cap.range.start == _pos(SUNNY, "capacity = 10")
    assert price is not None and "0.05 EUR/kWh" in price.contents.value
    assert template is not None and "template household {" in template.contents.value


def test_definition_of_a_series_and_references(tmp_path: Path) -> None:
    """`home` in `profile = home` is declared by `series home`; `household` is used by the
    three participants `from household` (and declared once: 4 with the declaration)."""

    async def body(s: Session) -> tuple[Any, Any]:
        s.open(SUNNY)
        where = await ask(
            s.client.text_document_definition_async(
                T.DefinitionParams(s.doc(), _pos(SUNNY, "profile = home", into=12))
            )
        )
        refs = await ask(
            s.client.text_document_references_async(
                T.ReferenceParams(
                    text_document=s.doc(),
                    position=_pos(SUNNY, "template household", into=10),
                    context=T.ReferenceContext(include_declaration=True),
                )
            )
        )
        return where, refs

    where, refs = run(tmp_path, body)
    (loc,) = where
    start = _pos(SUNNY, "series home", into=len("series "))
    assert loc.uri.endswith("design.peb") and loc.range.start == start
    assert loc.range.end.character == start.character + len("home")
    assert len(refs) == 4
    assert sorted(r.range.start.line for r in refs)[1:] == [
        _pos(SUNNY, "from household", nth=i).line for i in range(3)
    ]


def test_completion_inside_battery(tmp_path: Path) -> None:
    """Inside `battery { }` the attributes offered are the resolver's battery attributes,
    also while the text does not parse (`battery { cap`)."""
    text = SUNNY.replace("battery { capacity = 10 kWh; power = 5 kW; efficiency = 95 % }",
                         "battery {  }")  # fmt: skip
    typing = text.replace("battery {  }", "battery { cap }")

    async def body(s: Session) -> tuple[Any, Any]:
        s.open(text)
        inside = await ask(
            s.client.text_document_completion_async(
                T.CompletionParams(s.doc(), _pos(text, "battery {  }", into=len("battery { ")))
            )
        )
        s.change(typing, 2)
        half = await ask(
            s.client.text_document_completion_async(
                T.CompletionParams(
                    s.doc(), _pos(typing, "battery { cap", into=len("battery { cap"))
                )
            )
        )
        return inside, half

    inside, half = run(tmp_path, body)
    for got in (inside, half):
        props = {i.label for i in got.items if i.kind == T.CompletionItemKind.Property}
        assert props == set(ATTRIBUTES["battery"])


def test_formatting_equals_pebdsl_fmt(tmp_path: Path) -> None:
    """The edits turn a badly laid-out design into exactly what `pebdsl fmt` writes."""
    ugly = SUNNY.replace("  ", " ").replace("{ capacity", "{capacity").replace(" = ", "=")
    fmt_copy = tmp_path / "fmt.peb"
    fmt_copy.write_text(ugly, encoding="utf-8")
    exe = shutil.which("pebdsl", path=str(Path(sys.executable).parent)) or "pebdsl"
    subprocess.run([exe, "fmt", str(fmt_copy)], check=True, capture_output=True)
    expected = fmt_copy.read_text(encoding="utf-8")
    assert expected != ugly

    async def body(s: Session) -> Any:
        s.open(ugly)
        return await ask(
            s.client.text_document_formatting_async(
                T.DocumentFormattingParams(
                    s.doc(), T.FormattingOptions(tab_size=2, insert_spaces=True)
                )
            )
        )

    edits = run(tmp_path, body)
    assert _apply(ugly, edits) == expected


def test_document_symbols(tmp_path: Path) -> None:
    """The outline: top-level declarations in order, the block's participants inside it."""

    async def body(s: Session) -> Any:
        s.open(SUNNY)
        return await ask(
            s.client.text_document_document_symbol_async(T.DocumentSymbolParams(s.doc()))
        )

    syms = run(tmp_path, body)
    names = [x.name for x in syms]
    assert names[1:4] == ["horizon", "spot", "solar"]
    block = next(x for x in syms if x.name == "sunny_street")
    assert [c.name for c in block.children if c.detail == "participant"] == [
        "alice",
        "bob",
        "carol",
    ]


def _apply(text: str, edits: list[T.TextEdit]) -> str:
    """Apply LSP edits (positions in UTF-16 units; this text is within the BMP, where they are
    code points)."""
    lines = text.split("\n")

    def off(p: T.Position) -> int:
        return sum(len(x) + 1 for x in lines[: p.line]) + p.character

    for e in sorted(edits, key=lambda e: off(e.range.start), reverse=True):
        text = text[: off(e.range.start)] + e.new_text + text[off(e.range.end) :]
    return text


def test_latency_benchmark_runs(capsys: Any) -> None:
    """benchmarks/lsp_latency.py runs (on the small example, one edit, one check) and prints
    its ratios; the figures themselves are the benchmark's business, not a test's."""
    import runpy

    main = runpy.run_path(str(ROOT / "benchmarks" / "lsp_latency.py"))["main"]
    sunny = str(ROOT / "designs" / "sunny_street.peb")
    assert main(["--design", sunny, "--edits", "1", "--checks", "1"]) == 0
    out = capsys.readouterr().out
    assert "ratio first diagnostics / pebdsl check:" in out
    assert "ratio complete diagnostics / pebdsl check:" in out


def test_lsp_command_without_pygls(monkeypatch: Any) -> None:
    """Without the `lsp` extra the command stops with E905 (as every missing extra), says what
    to install and exits 2 (usage), without a traceback."""
    from typer.testing import CliRunner

    from pebdsl.cli import app

    monkeypatch.setitem(sys.modules, "pygls", None)  # `import pygls` now fails
    for name in [m for m in sys.modules if m.startswith(("pygls.", "pebdsl.lsp.server"))]:
        monkeypatch.delitem(sys.modules, name)
    result = CliRunner().invoke(app, ["lsp"])
    assert result.exit_code == 2
    assert "error[E905]" in result.output
    assert "pip install 'pebdsl[lsp]'" in result.output
    assert "Traceback" not in result.output
