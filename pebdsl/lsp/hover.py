"""Hover text (Markdown) for a name, an attribute or a quantity under the cursor.

Input: the document's `Index` and the `Use` under the cursor. Output: Markdown, or None when
there is nothing to say (a word that names no declaration). Raises nothing.
"""

from __future__ import annotations

from pebdsl.lsp.adapter import base_value
from pebdsl.lsp.attributes import ATTRIBUTE_DOCS
from pebdsl.lsp.index import Index, Use

__all__ = ["hover_text"]


def _line_of(text: str, offset: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text.count("\n", 0, offset) + 1, text[start : end if end >= 0 else len(text)]


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def hover_text(ix: Index, use: Use) -> str | None:
    if use.what == "name":
        decls = ix.by_name.get(use.name)
        if not decls:
            return None
        parts = []
        for d in decls:
            line, code = _line_of(ix.text, d.decl_start)
            of = f" (one of {len(d.names)} declared by a range)" if len(d.names) > 1 else ""
            parts.append(f"**{d.kind}** `{use.name}`{of}, line {line}\n```peb\n{code.strip()}\n```")
        return "\n\n".join(parts)
    if use.what == "attribute":
        doc = ATTRIBUTE_DOCS.get(use.context, {}).get(use.name)
        if doc is None:
            return None
        out = f"**{use.context}.{use.name}**: {doc.meaning}"
        if doc.unit:
            out += f"\n\nunit: {doc.unit}"
        if doc.values:
            out += "\n\nvalues: " + " | ".join(f"`{v}`" for v in doc.values)
        return out
    got = base_value(use.name, use.unit)
    if got is None:
        return None
    value, unit = got
    shown = f"{_fmt(value)} {unit}" if unit else f"{_fmt(value)} (a fraction)"
    return f"`{use.name} {use.unit}` = **{shown}** in base units"
