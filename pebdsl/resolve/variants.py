"""Variants and `--set`: edits applied to the syntax-level model before anything is built.

Input: a `Model` (a copy of the base), a `variant` declaration's items (`without`, `set`,
added or merged declarations, singleton bodies) and `--set` texts ("alice.pv.peak = 8 kWp").
Output: the model edited in place (removed names remembered, so references to them go quietly);
`variant_compare_flags` reads each variant's `compare` attribute from the syntax tree.
Errors point at the variant's own lines: E101 unknown name or nothing to remove/set, E103 a
name of the wrong kind, E307 an edit of the wrong shape (`without design`, `set x = …`);
`--set` texts parse as `set` edits (syntax errors as the parser reports them).
"""

from __future__ import annotations

from typing import Any

from pebdsl.diagnostics import PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Errors, Model, Node, Single
from pebdsl.resolve.namespace import ASSETS, add_named, lookup
from pebdsl.resolve.series import strip
from pebdsl.resolve.templates import find_asset, item_key, merged_items, set_attr
from pebdsl.source import NO_SPAN, Span

__all__ = ["apply_variant", "parse_sets", "variant_compare_flags"]

_SINGLETONS = ("design", "horizon", "grid", "dso", "scenarios")
_SINGLE_KEYS: dict[type, str] = {
    S.HorizonDecl: "horizon",
    S.GridDecl: "grid",
    S.DsoDecl: "dso",
    S.ScenariosDecl: "scenarios",
}


def apply_variant(m: Model, v: S.VariantDecl, errs: Errors) -> None:
    """Apply a variant's edits to `m`, recording errors on `errs` (each edit on its own)."""
    for item in v.items:
        with errs.guard():
            if isinstance(item, S.Attribute):
                continue  # the variant's own attributes (description, compare), not edits
            if isinstance(item, S.Without):
                _without(m, item)
            elif isinstance(item, S.SetEdit):
                _set(m, item)
            elif isinstance(item, S.HorizonDecl | S.GridDecl | S.DsoDecl | S.ScenariosDecl):
                key = _SINGLE_KEYS[type(item)]
                single = m.singles.setdefault(key, Single(item.span))
                for it in item.body.items:
                    single.items = merge_single(single.items, it)
            else:
                sub = Errors()
                add_named(m, item, sub, block=None, replace_ok=True)
                for d in sub.diags:
                    errs.add(d)
                m.removed_names.discard(getattr(getattr(item, "name", None), "value", ""))


def merge_single(items: list[Any], it: Any) -> list[Any]:
    """A singleton body with one item of a variant laid over it."""
    if isinstance(it, S.Attribute):
        return set_attr(items, it)
    if isinstance(it, S.Link):
        pair = {it.a.value, it.b.value}
        return [
            x for x in items if not (isinstance(x, S.Link) and {x.a.value, x.b.value} == pair)
        ] + [it]
    if isinstance(it, S.Flexibility):
        return [
            x
            for x in items
            if not (isinstance(x, S.Flexibility) and x.block.value == it.block.value)
        ] + [it]
    if isinstance(it, S.Asset):
        # `grid { intraday { … } }` in a variant replaces the base's stage of that kind.
        return [x for x in items if not (isinstance(x, S.Asset) and x.kind == it.kind)] + [it]
    return [*items, it]


def part_span(path: S.Path, i: int) -> Span:
    """The span of part i of a dotted path (so carets fall under the right word)."""
    sp = path.span
    if sp is NO_SPAN or sp.text != str(path):
        return sp
    start = sp.start + sum(len(p) + 1 for p in path.parts[:i])
    return Span(sp.source, start, start + len(path.parts[i]))


def _without(m: Model, w: S.Without) -> None:
    parts = w.target.parts
    if w.kind == "link":
        dso = m.singles.get("dso")
        pair = set(parts[:2])
        found = dso is not None and any(
            isinstance(x, S.Link) and {x.a.value, x.b.value} == pair for x in dso.items
        )
        if not found or dso is None:
            raise PebdslError(
                error(
                    "E101",
                    f"no link {parts[0]} -- {parts[-1]} to remove",
                    w.target.span,
                    "no such link",
                )
            )
        dso.items = [
            x for x in dso.items if not (isinstance(x, S.Link) and {x.a.value, x.b.value} == pair)
        ]
        return
    if parts[0] == "*":
        if len(parts) != 2 or parts[1] not in ASSETS:
            raise PebdslError(
                error(
                    "E307",
                    "`without *.KIND` removes an asset from every "
                    "participant, e.g. `without *.battery`",
                    w.target.span,
                )
            )
        for node in m.of_kind("participant").values():
            node.items = [it for it in node.items if item_key(it) != (parts[1],)]
            node.removed.add((parts[1],))
        return
    if parts[0] in _SINGLETONS and w.kind is None:
        if len(parts) == 1:
            if parts[0] in ("design", "horizon", "grid"):
                raise PebdslError(
                    error("E307", f"a design cannot be without its {parts[0]}", w.target.span)
                )
            m.singles.pop(parts[0], None)
            return
        single = m.singles.get(parts[0])
        items = single.items if single is not None else []
        kept = _without_attribute(items, parts[0], parts[1], part_span(w.target, 1))
        if single is not None:
            single.items = kept
        return
    node = lookup(m, parts[0], part_span(w.target, 0), w.kind)
    if len(parts) == 1:
        _remove_node(m, node)
        return
    if node.kind == "participant":
        merged = merged_items(m, node, None)
        sub = tuple(parts[1:3])
        if not _has_path(merged, sub):
            raise PebdslError(
                error(
                    "E101",
                    f"`{node.name}` has no `{'.'.join(sub)}`",
                    part_span(w.target, 1),
                    "nothing to remove",
                    did_you_mean(parts[1], [k[0] for k in map(item_key, merged) if k]),
                )
            )
        if len(sub) == 1:
            node.items = [it for it in node.items if item_key(it) != sub]
        node.removed.add(sub)
        return
    node.items = _without_attribute(node.items, node.name, parts[1], part_span(w.target, 1))


def _without_attribute(items: list[Any], owner: str, attr: str, span: Span) -> list[Any]:
    """`items` less the attribute `attr` (`without grid.sell`); E101 when it is not set."""
    kept = [x for x in items if not (isinstance(x, S.Attribute) and x.name.value == attr)]
    if len(kept) == len(items):
        raise PebdslError(error("E101", f"`{owner}` has no `{attr}` to remove", span, "not set"))
    return kept


def _has_path(items: list[Any], sub: tuple[str, ...]) -> bool:
    for it in items:
        if item_key(it) == sub[:1]:
            if len(sub) == 1:
                return True
            if isinstance(it, S.Asset):
                return any(
                    isinstance(a, S.Attribute) and a.name.value == sub[1] for a in it.body.items
                )
    return False


def _remove_node(m: Model, node: Node) -> None:
    del m.nodes[node.name]
    m.removed_names.add(node.name)
    if node.kind == "block":  # a block goes with its participants and shared batteries
        for n in [n for n in m.nodes.values() if n.block == node.name]:
            del m.nodes[n.name]
            m.removed_names.add(n.name)


def _set(m: Model, e: S.SetEdit) -> None:
    parts = e.target.parts
    if len(parts) < 2:
        raise PebdslError(
            error(
                "E307",
                "`set` needs a path to an attribute, e.g. `set alice.pv.peak = 8 kWp`",
                e.target.span,
            )
        )
    attr_name = parts[-1]
    attr = S.Attribute(S.Name(attr_name, part_span(e.target, len(parts) - 1)), e.value, e.span)
    if parts[0] in _SINGLETONS and e.kind is None:
        if len(parts) != 2:
            raise PebdslError(error("E307", f"`set {parts[0]}.ATTRIBUTE = value`", e.target.span))
        single = m.singles.setdefault(parts[0], Single(e.span))
        single.items = set_attr(single.items, attr)
        return
    node = lookup(m, parts[0], part_span(e.target, 0), e.kind)
    if len(parts) == 2:
        node.items = set_attr(node.items, attr)
        node.removed.discard((attr_name,))
        return
    if node.kind != "participant" or len(parts) != 3:
        raise PebdslError(
            error(
                "E307",
                f"cannot set `{e.target}`",
                e.target.span,
                "expected NAME.ATTRIBUTE or PARTICIPANT.ASSET.ATTRIBUTE",
            )
        )
    kind = parts[1]
    merged = merged_items(m, node, None)
    if find_asset(merged, kind) is None:
        raise PebdslError(
            error(
                "E101",
                f"`{node.name}` has no `{kind}`",
                part_span(e.target, 1),
                "no such asset",
                did_you_mean(kind, [it.kind for it in merged if isinstance(it, S.Asset)]),
            )
        )
    pos = find_asset(node.items, kind)
    if pos is None:
        node.items.append(S.Asset(kind, None, S.Body((attr,), e.span), e.span))
    else:
        old = node.items[pos]
        node.items[pos] = S.Asset(
            kind,
            None,
            S.Body(tuple(set_attr(list(old.body.items), attr)), old.body.span),
            old.span,
        )
    node.removed.discard((kind, attr_name))


def parse_sets(sets: list[str]) -> list[S.SetEdit]:
    """`--set` texts (`alice.pv.peak = 8 kWp`, `set` optional) as `set` edits."""
    from pebdsl.front.parser import parse

    edits: list[S.SetEdit] = []
    for i, text in enumerate(sets):
        body = text.strip()
        if body.startswith("set "):
            body = body[4:]
        tree = parse(f"variant __set__ {{ set {body} }}", f"<--set {i + 1}>")
        for d in tree.decls:
            if isinstance(d, S.VariantDecl):
                edits.extend(x for x in d.items if isinstance(x, S.SetEdit))
    return edits


def variant_compare_flags(file: S.File) -> dict[str, bool]:
    """Each variant's `compare` attribute, read from the syntax tree without resolving
    anything: False only where it is written `compare = false`, once (a wrong value, E307, or
    a second `compare`, E109, is an error when the variant is resolved, so such a variant stays
    in `pebdsl compare` to show it)."""
    flags: dict[str, bool] = {}
    for decl in file.decls:
        if isinstance(decl, S.VariantDecl):
            given = [
                strip(it.value)
                for it in decl.items
                if isinstance(it, S.Attribute) and it.name.value == "compare"
            ]
            off = len(given) == 1 and isinstance(given[0], S.Bool) and not given[0].value
            flags.setdefault(decl.name.value, not off)
    return flags
