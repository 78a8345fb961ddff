"""Templates: a participant's body with its template merged in, asset by asset.

Input: a participant `Node` and the `Model` (for the template). Output: the merged item list
(attributes and assets of the participant override the template's, attribute by attribute
inside an asset), less what a variant removed. Errors: E105 unknown template, E103 a name
that is not a template (recorded when an `Errors` is given).
"""

from __future__ import annotations

from typing import Any

from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Errors, Model, Node

__all__ = ["apply_removed", "find_asset", "item_key", "merge_items", "merged_items", "set_attr"]


def merged_items(m: Model, node: Node, errs: Errors | None) -> list[Any]:
    """A participant's body with its template merged in, asset by asset and attribute by
    attribute, then the variant's removals applied."""
    base: list[Any] = []
    if node.template is not None:
        t = m.nodes.get(node.template.value)
        if t is None or t.kind != "template":
            if errs is not None:
                if t is None:
                    errs.add(
                        error(
                            "E105",
                            f"unknown template `{node.template.value}`",
                            node.template.span,
                            "not a template",
                            did_you_mean(node.template.value, m.of_kind("template")),
                        )
                    )
                else:
                    errs.add(
                        error(
                            "E103",
                            f"`{t.name}` is a {t.kind}, not a template",
                            node.template.span,
                            "expected a template",
                        )
                    )
        else:
            base = list(t.items)
    items = merge_items(base, node.items)
    if node.removed:
        items = apply_removed(items, node.removed)
    return items


def item_key(it: Any) -> tuple[str, ...] | None:
    """What an item overrides: `(attribute,)` or `(asset kind,)`; None for others."""
    if isinstance(it, S.Attribute):
        return (it.name.value,)
    if isinstance(it, S.Asset) and it.name is None:
        return (it.kind,)
    return None


def merge_items(base: list[Any], own: list[Any]) -> list[Any]:
    """`base` with `own` laid over it (assets merged attribute by attribute)."""
    out = list(base)
    for it in own:
        k = item_key(it)
        pos = next((i for i, b in enumerate(out) if k is not None and item_key(b) == k), None)
        if pos is None:
            out.append(it)
            continue
        old = out[pos]
        if isinstance(old, S.Asset) and isinstance(it, S.Asset):
            merged = merge_items(list(old.body.items), list(it.body.items))
            out[pos] = S.Asset(it.kind, None, S.Body(tuple(merged), it.body.span), it.span)
        else:
            out[pos] = it
    return out


def apply_removed(items: list[Any], removed: set[tuple[str, ...]]) -> list[Any]:
    """`items` less the attributes and assets a variant removed."""
    out = []
    for it in items:
        k = item_key(it)
        if k is not None and k in removed:
            continue
        if isinstance(it, S.Asset) and it.name is None:
            sub = [
                a
                for a in it.body.items
                if not (isinstance(a, S.Attribute) and (it.kind, a.name.value) in removed)
            ]
            if len(sub) != len(it.body.items):
                it = S.Asset(it.kind, None, S.Body(tuple(sub), it.body.span), it.span)
        out.append(it)
    return out


def find_asset(items: list[Any], kind: str) -> int | None:
    """The position of the unnamed asset of `kind` in `items`, or None."""
    return next(
        (
            i
            for i, it in enumerate(items)
            if isinstance(it, S.Asset) and it.name is None and it.kind == kind
        ),
        None,
    )


def set_attr(items: list[Any], attr: S.Attribute) -> list[Any]:
    """`items` with `attr` replacing the attribute of its name (and a `connection` block)."""
    out = [
        it for it in items if not (isinstance(it, S.Attribute) and it.name.value == attr.name.value)
    ]
    if attr.name.value == "connection":  # the attribute form replaces the block form
        out = [it for it in out if not (isinstance(it, S.Asset) and it.kind == "connection")]
    out.append(attr)
    return out
