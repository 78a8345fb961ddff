"""Completion: what may be typed at the cursor.

Input: the document text, the cursor offset and the last `Index` of the document (None when it
never parsed). Output: LSP completion items: at the start of a statement, the attributes of the
declaration or asset the cursor is in (`capacity`, `power`, … inside `battery { }`) and the
declarations that body may hold; after `name =`, the words that attribute takes and the
declared names it may refer to; after `from`, templates; after `without`/`set`, declared
names. Works on text that does not parse (the context is read from the text). Raises nothing.
"""

from __future__ import annotations

import re

from lsprotocol import types as T

from pebdsl.lsp.attributes import ATTRIBUTE_DOCS, NESTED
from pebdsl.lsp.index import Index, context_at

__all__ = ["complete"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", re.S)
# Which declared names an attribute's value may name (others: series and the rest).
_REFERS = {
    "members": ("participant", "block"),
    "owners": ("participant",),
    "reference": ("variant",),
    "products": ("product",),
}
_KIND_ITEM = {
    "series": T.CompletionItemKind.Variable, "template": T.CompletionItemKind.Class,
    "participant": T.CompletionItemKind.Reference, "block": T.CompletionItemKind.Module,
    "market": T.CompletionItemKind.Event, "product": T.CompletionItemKind.Struct,
    "battery": T.CompletionItemKind.Reference, "variant": T.CompletionItemKind.Module,
}  # fmt: skip


def _names(index: Index | None, kinds: tuple[str, ...] = ()) -> list[T.CompletionItem]:
    if index is None:
        return []
    return [
        T.CompletionItem(label=n, kind=_KIND_ITEM.get(k), detail=k)
        for n, k in sorted(index.names_of(*kinds).items())
    ]


def _attributes(context: str) -> list[T.CompletionItem]:
    items = []
    for name, doc in ATTRIBUTE_DOCS.get(context, {}).items():
        detail = doc.unit or None
        items.append(
            T.CompletionItem(
                label=name,
                kind=T.CompletionItemKind.Property,
                detail=detail,
                documentation=doc.meaning,
                insert_text=f"{name} = ",
            )
        )
    for kw in NESTED.get(context, ()):
        items.append(T.CompletionItem(label=kw, kind=T.CompletionItemKind.Keyword))
    return items


def complete(text: str, offset: int, index: Index | None) -> list[T.CompletionItem]:
    stack, stmt = context_at(text, offset)
    context = stack[-1] if stack else ""
    if not stmt or _WORD.fullmatch(stmt):
        return _attributes(context)
    m = _ASSIGN.match(stmt)
    if m:
        attr = m.group(1)
        doc = ATTRIBUTE_DOCS.get(context, {}).get(attr)
        words = [
            T.CompletionItem(label=v, kind=T.CompletionItemKind.EnumMember)
            for v in (doc.values if doc else ())
        ]
        kinds = _REFERS.get(attr, ("series",) if context != "variant" else ())
        return words + _names(index, kinds)
    if re.search(r"(?<![A-Za-z0-9_])from\s+[A-Za-z0-9_]*$", stmt):
        return _names(index, ("template",))
    # `without …`, `set …`, `link a -- …`, `flexibility …`, `a -> …` in fees: any name.
    return _names(index)
