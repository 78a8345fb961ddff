"""The pebdsl language server (`pebdsl lsp`): diagnostics, formatting, hover, definitions,
references, completion and the outline for design files, over stdio (pygls).

Input: LSP messages on stdin. Output: LSP messages on stdout. Needs the `lsp` extra
(`pip install 'pebdsl[lsp]'`: pygls and lsprotocol); `serve` raises ModuleNotFoundError
without it (the command line turns that into a usage message). Modules: `server` (the
handlers), `adapter` (the only door into the compiler), `index` (names, uses and outline from
the syntax tree), `hover`, `suggest` (completion), `attributes` (what attributes mean),
`positions` (LSP positions and diagnostics).
"""

from __future__ import annotations

__all__ = ["serve"]


def serve() -> None:
    """Serve one editor over stdin/stdout until it exits."""
    from pebdsl.lsp.server import serve as _serve

    _serve()
