"""How long after an edit does the language server show diagnostics, against `pebdsl check`?

Starts `pebdsl lsp` (as `python -m pebdsl lsp`) with pygls's LanguageClient over stdio, opens
a design (default designs/trondheim.peb) and waits for its diagnostics (cold: imports,
generators, data files), then makes `--edits` edits, each changing one number of the design
(so all of it is checked again), and times for each the seconds from sending the change to
the server's two publications for that version: the base design's diagnostics (the first
answer) and the complete ones (base and every variant, what `pebdsl check FILE` reports).
The server's debounce (`pebdsl.lsp.server.DEBOUNCE`) is included. In the same run it times
`pebdsl check FILE` as a subprocess `--checks` times: what a user without the server runs
after an edit. Prints the medians and the ratios lsp / check.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
WAIT = 600  # seconds before giving up on an answer


def edited(text: str, i: int) -> str:
    """The text with its first `peak = N` (else its first `= N`) changed to N + i + 1."""
    m = re.search(r"(peak\s*=\s*)(\d+)", text) or re.search(r"(=\s*)(\d+)", text)
    if m is None:
        raise SystemExit("the design has no number to edit")
    return text[: m.start(2)] + str(int(m.group(2)) + i + 1) + text[m.end(2) :]


async def lsp_times(path: Path, edits: int) -> tuple[float, list[float], list[float]]:
    """Seconds to the complete diagnostics of the opened file (cold), then per edit the
    seconds to the first and to the complete diagnostics of its version."""
    client = LanguageClient("lsp-latency", "0")
    queue: asyncio.Queue[tuple[float, int | None]] = asyncio.Queue()

    def publish(params: T.PublishDiagnosticsParams) -> None:
        queue.put_nowait((time.perf_counter(), params.version))

    client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(publish)
    await client.start_io(sys.executable, "-m", "pebdsl", "lsp")
    await client.initialize_async(
        T.InitializeParams(capabilities=T.ClientCapabilities(), process_id=None)
    )
    client.initialized(T.InitializedParams())
    uri = path.resolve().as_uri()
    text = path.read_text(encoding="utf-8")

    async def publications(version: int, n: int) -> list[float]:
        """When the first `n` publications for `version` arrived."""
        out: list[float] = []
        while len(out) < n:
            at, v = await asyncio.wait_for(queue.get(), WAIT)
            if v == version:
                out.append(at)
        return out

    t0 = time.perf_counter()
    item = T.TextDocumentItem(uri=uri, language_id="peb", version=1, text=text)
    client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=item))
    cold = (await publications(1, 2))[-1] - t0
    firsts, fulls = [], []
    for i in range(edits):
        change = T.TextDocumentContentChangeWholeDocument(text=edited(text, i))
        t0 = time.perf_counter()
        client.text_document_did_change(
            T.DidChangeTextDocumentParams(
                text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=i + 2),
                content_changes=[change],
            )
        )
        first, full = await publications(i + 2, 2)
        firsts.append(first - t0)
        fulls.append(full - t0)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return cold, firsts, fulls


def check_times(path: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pebdsl", "check", str(path)], check=True, capture_output=True
        )
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Language-server latency against `pebdsl check`.")
    ap.add_argument("--design", default=str(ROOT / "designs" / "trondheim.peb"))
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--checks", type=int, default=3)
    args = ap.parse_args(argv)
    path = Path(args.design)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    cold, firsts, fulls = asyncio.run(lsp_times(path, max(1, args.edits)))
    checks = check_times(path, max(1, args.checks))
    first, full = statistics.median(firsts), statistics.median(fulls)
    check = statistics.median(checks)
    print(f"design: {path.name} ({lines} lines)")
    print(f"lsp: diagnostics after opening (cold start): {cold:.3f} s")
    print(f"lsp: edit -> first diagnostics (base design), median of {len(firsts)}: {first:.3f} s")
    print(f"lsp: edit -> complete diagnostics (every variant): {full:.3f} s")
    print(f"pebdsl check (subprocess), median of {len(checks)}: {check:.3f} s")
    print(f"ratio first diagnostics / pebdsl check: {first / check:.3f}")
    print(f"ratio complete diagnostics / pebdsl check: {full / check:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
