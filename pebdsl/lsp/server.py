"""The pebdsl language server (pygls, JSON-RPC over stdio): `pebdsl lsp`.

Input: LSP messages from an editor. Output: diagnostics as you type (the errors and warnings of
`pebdsl check FILE`, with codes, labels and `help:` hints), formatting (exactly `pebdsl fmt`'s
output), hover (a name's declaration, an attribute's meaning and unit, a quantity in base
units), go-to-definition and references (series, templates, participants, blocks, markets,
products, shared batteries, variants), completion (attributes of the declaration or asset the
cursor is in, nested declarations, values and declared names after `=`), and the outline.
Errors: none of its own; design errors are diagnostics, never failed requests.

Incremental: every change is parsed at once (tens of milliseconds for a 300-line design) and
the parse is cached for requests; resolving (names, units, rules: the slow part) waits for a
pause in typing (`DEBOUNCE`), runs in one worker thread, the base design first (published at
once) and then every variant (published again, complete), and a result for a text that has
changed meanwhile is dropped, so stale work never reaches the editor.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

from pebdsl import __version__
from pebdsl.lsp import adapter
from pebdsl.lsp.hover import hover_text
from pebdsl.lsp.index import Index, Outline, build
from pebdsl.lsp.positions import Positions
from pebdsl.lsp.suggest import complete

__all__ = ["DEBOUNCE", "PebServer", "make_server"]

DEBOUNCE = 0.15
"""Seconds without a change before a document is resolved (typing bursts resolve once)."""


@dataclass
class DocState:
    """The server's view of one open document."""

    uri: str
    path: str
    text: str = ""
    version: int | None = None
    parsed: adapter.Analysis | None = None  # the parse of `text`
    index: Index | None = None  # of the last text that parsed
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def ensure_parsed(self) -> adapter.Analysis:
        if self.parsed is None or self.parsed.text != self.text:
            self.parsed = adapter.parse(self.text, self.path)
            if self.parsed.tree is not None:
                self.index = build(self.parsed.tree, self.text)
        return self.parsed


def uri_path(uri: str) -> str:
    """The file path of a `file:` URI (csv() paths in a design are relative to it)."""
    u = urlparse(uri)
    return unquote(u.path) if u.scheme == "file" else uri


class PebServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("pebdsl", __version__)  # incremental sync: pygls applies the edits
        self.docs: dict[str, DocState] = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pebdsl-resolve")

    def state(self, uri: str) -> DocState:
        doc = self.docs.get(uri)
        if doc is None:  # a request on a document never opened: read it from disk
            doc = DocState(uri, uri_path(uri))
            try:
                doc.text = Path(doc.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                doc.text = ""
            self.docs[uri] = doc
        doc.ensure_parsed()
        return doc

    def changed(self, uri: str, text: str, version: int | None) -> None:
        doc = self.docs.setdefault(uri, DocState(uri, uri_path(uri)))
        doc.text, doc.version = text, version
        if doc.task is not None:
            doc.task.cancel()
        doc.task = asyncio.get_running_loop().create_task(self.check(doc, text, version))

    async def check(self, doc: DocState, text: str, version: int | None) -> None:
        parsed = doc.ensure_parsed()
        if parsed.tree is None:  # syntax errors: show them now, nothing to resolve
            self.publish(doc, parsed, version)
            return
        await asyncio.sleep(DEBOUNCE)
        loop = asyncio.get_running_loop()
        # The base design first (a fast first answer), then every variant as `check` does.
        first = await loop.run_in_executor(self.pool, adapter.resolve, parsed, doc.path, True)
        if doc.text != text:  # a newer change has its own task
            return
        self.publish(doc, first, version)
        full = await loop.run_in_executor(self.pool, adapter.resolve, parsed, doc.path)
        if doc.text == text:
            self.publish(doc, full, version)

    def publish(self, doc: DocState, analysis: adapter.Analysis, version: int | None) -> None:
        pos = Positions(analysis.text, self.workspace.position_codec)
        diags = [pos.diagnostic(d, doc.path, doc.uri) for d in analysis.diagnostics]
        self.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diags, version=version)
        )


def _symbol(pos: Positions, o: Outline) -> T.DocumentSymbol:
    kinds = {
        "series": T.SymbolKind.Variable, "template": T.SymbolKind.Class,
        "participant": T.SymbolKind.Object, "block": T.SymbolKind.Namespace,
        "market": T.SymbolKind.Event, "product": T.SymbolKind.Struct,
        "battery": T.SymbolKind.Object, "variant": T.SymbolKind.Module,
        "asset": T.SymbolKind.Field, "link": T.SymbolKind.Interface,
        "flexibility": T.SymbolKind.Property,
    }  # fmt: skip
    return T.DocumentSymbol(
        name=o.name,
        detail=o.kind,
        kind=kinds.get(o.kind, T.SymbolKind.Module),
        range=pos.range(o.start, o.end),
        selection_range=pos.range(o.sel_start, o.sel_end),
        children=[_symbol(pos, c) for c in o.children],
    )


async def did_open(ls: PebServer, params: T.DidOpenTextDocumentParams) -> None:
    d = params.text_document
    ls.changed(d.uri, d.text, d.version)


async def did_change(ls: PebServer, params: T.DidChangeTextDocumentParams) -> None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    ls.changed(doc.uri, doc.source, params.text_document.version)


async def did_save(ls: PebServer, params: T.DidSaveTextDocumentParams) -> None:
    # A CSV next to the design may have changed: resolve again.
    doc = ls.state(params.text_document.uri)
    ls.changed(doc.uri, doc.text, doc.version)


def did_close(ls: PebServer, params: T.DidCloseTextDocumentParams) -> None:
    doc = ls.docs.pop(params.text_document.uri, None)
    if doc is not None and doc.task is not None:
        doc.task.cancel()
    ls.text_document_publish_diagnostics(
        T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
    )


def formatting(ls: PebServer, params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
    doc = ls.state(params.text_document.uri)
    new = adapter.format_text(doc.text, doc.path)
    if new is None or new == doc.text:
        return None if new is None else []
    pos = Positions(doc.text, ls.workspace.position_codec)
    return [T.TextEdit(range=pos.range(0, len(doc.text)), new_text=new)]


def _lookup(ls: PebServer, uri: str, position: T.Position) -> tuple[Index, Positions, int]:
    doc = ls.state(uri)
    ix = doc.index or Index(doc.text)
    pos = Positions(ix.text, ls.workspace.position_codec)
    return ix, pos, pos.offset(position)


def hover(ls: PebServer, params: T.HoverParams) -> T.Hover | None:
    ix, pos, off = _lookup(ls, params.text_document.uri, params.position)
    use = ix.at(off)
    if use is None:
        return None
    text = hover_text(ix, use)
    if text is None:
        return None
    content = T.MarkupContent(kind=T.MarkupKind.Markdown, value=text)
    return T.Hover(contents=content, range=pos.range(use.start, use.end))


def definition(ls: PebServer, params: T.DefinitionParams) -> list[T.Location] | None:
    ix, pos, off = _lookup(ls, params.text_document.uri, params.position)
    use = ix.at(off)
    if use is None or use.what != "name" or use.name not in ix.by_name:
        return None
    uri = params.text_document.uri
    return [T.Location(uri=uri, range=pos.range(n.start, n.end)) for n in ix.by_name[use.name]]


def references(ls: PebServer, params: T.ReferenceParams) -> list[T.Location] | None:
    ix, pos, off = _lookup(ls, params.text_document.uri, params.position)
    use = ix.at(off)
    if use is None or use.what != "name" or use.name not in ix.by_name:
        return None
    uri = params.text_document.uri
    keep_decl = params.context.include_declaration
    return [
        T.Location(uri=uri, range=pos.range(u.start, u.end))
        for u in ix.occurrences(use.name)
        if keep_decl or not u.decl
    ]


def completion(ls: PebServer, params: T.CompletionParams) -> T.CompletionList:
    doc = ls.state(params.text_document.uri)
    pos = Positions(doc.text, ls.workspace.position_codec)
    items = complete(doc.text, pos.offset(params.position), doc.index)
    return T.CompletionList(is_incomplete=False, items=items)


def symbols(ls: PebServer, params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
    doc = ls.state(params.text_document.uri)
    if doc.index is None:
        return []
    pos = Positions(doc.index.text, ls.workspace.position_codec)
    return [_symbol(pos, o) for o in doc.index.outline]


def make_server() -> PebServer:
    """A server with every feature registered (not started)."""
    server = PebServer()
    server.feature(T.TEXT_DOCUMENT_DID_OPEN)(did_open)
    server.feature(T.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    server.feature(T.TEXT_DOCUMENT_DID_SAVE)(did_save)
    server.feature(T.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    server.feature(T.TEXT_DOCUMENT_FORMATTING)(formatting)
    server.feature(T.TEXT_DOCUMENT_HOVER)(hover)
    server.feature(T.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(T.TEXT_DOCUMENT_REFERENCES)(references)
    server.feature(
        T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["=", " ", "["])
    )(completion)
    server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(symbols)
    return server


def serve() -> None:
    """Serve one editor over stdin/stdout until it exits."""
    make_server().start_io()
