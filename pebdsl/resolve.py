"""Resolve a parsed design into validated design objects.

Input: a `syntax.File` (from `parser.py`), the chosen variant (None = the base design) and
`sets` (extra `set` edits as text: `"alice.pv.peak = 8 kWp"`, used by `--set` and `sweep`).
Output: `design.Design` with floats in canonical units, series as numpy arrays on the horizon's
grid and the `Span` of every declaration.

Passes, in order (each small; errors are collected, not raised one by one):
1. collect   top-level declarations into one namespace (E102 duplicates, E107 reserved names,
             E304 misplaced declarations), expanding name ranges (`house[1..6]`);
2. edit      apply the variant's edits to this SYNTAX-level model (`without`, `set`, added or
             merged declarations), then `sets`, so errors in a variant point at its lines;
3. build     templates merged into participants (asset by asset, attribute by attribute),
             the time grid, series (`series.py`), units (`units.py`), every object;
4. check     cross-object rules (`checks.py`).

Errors: E101 unknown name, E102 duplicate name, E103 wrong kind of name, E104 unknown attribute,
E105 unknown template, E107 reserved name, E108 unknown variant, E109 attribute given twice,
E2xx units (`units.py`), E301 missing attribute, E302 value out of range, E303 step does not
divide, E304 misplaced declaration, E305 market with < 2 members, E306 bad link, E307 wrong kind
of value, E308 member listed twice / not a member, E309 empty block, E310 battery states,
E311 unknown timezone, E312 `flexibility` as a market product, E313 a market across DSO
links with members outside every block (`checks.py`), E314 a horizon outside the supported
dates (1678 … 2261), E4xx data (`series.py`), E901 design file not readable. Warnings (W1xx,
`lint.py`) do not stop a design: they are kept on `Design.warnings`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from pebdsl import design as D
from pebdsl import tariff_attrs as TA
from pebdsl import units as U
from pebdsl.checks import Where, check_battery, check_design
from pebdsl.diagnostics import Diagnostic, PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.lint import lint, series_used
from pebdsl.series import SeriesContext, strip
from pebdsl.source import NO_SPAN, SourceFile, Span

__all__ = ["load", "load_all", "resolve", "resolve_all", "variant_compare_flags"]

# Names a declaration may not take: grammar keywords and words with a meaning as values.
RESERVED = frozenset({
    "design", "horizon", "series", "grid", "template", "block", "participant", "from", "market",
    "product", "dso", "variant", "without", "set", "link", "flexibility", "fees", "load", "pv",
    "wind", "battery", "flexible", "connection", "daily", "true", "false", "unit", "all",
    "none", "energy", "initial",
})  # fmt: skip

ASSETS = ("load", "pv", "wind", "battery", "flexible", "connection")

# Attributes each declaration accepts (anything else is E104 with a suggestion).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "design": ("currency", "description", "reference"),
    "horizon": ("start", "duration", "end", "step", "timezone"),
    "grid": ("buy", "sell"),
    "load": ("profile", "annual"),
    "pv": ("profile", "peak"),
    "wind": ("profile", "peak"),
    "battery": (
        *TA.BATTERY_AVAILABILITY,
        "capacity",
        "power",
        "efficiency",
        "min_soc",
        "initial",
        "final",
        "charge_from",
        "throughput_cost",
        "owners",
        "shares",
    ),
    "flexible": ("share", "window", "cost"),
    "connection": ("import", "export"),
    "participant": ("connection", *TA.PARTICIPANT_TARIFF),
    "template": ("connection", *TA.PARTICIPANT_TARIFF),
    "block": ("connection",),
    "market": (
        "type",
        "members",
        "fee",
        "loss",
        "operator",
        "products",
        "settlement",
        "rent",
        "charge_on",
    ),
    "product": ("origin", "premium"),
    "dso": (
        "energy_charge",
        "capacity_charge",
        "capacity_basis",
        "charge_on",
        "reinforcement_cost",
    ),
    "link": ("capacity", "loss", "fee"),
    "flexibility": ("limit", "price"),
    "variant": ("description", "compare"),
}

MAX_STEPS = 2_000_000  # ~ 57 years hourly: beyond this a typo, not a study
# Horizons must lie here (E314): pandas' nanosecond timestamps end on 1677-09-21 and
# 2262-04-11, and a generator's annual reference needs the whole calendar year of the start.
DATE_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------
def _read(path: str) -> tuple[S.File, SourceFile, float]:
    """The syntax tree, its source and the seconds spent reading and parsing."""
    from pebdsl.front.parser import parse

    t0 = time.perf_counter()
    try:
        source = SourceFile.read(path)
    except OSError as e:
        raise PebdslError(error("E901", f"cannot read {path}: {e.strerror or e}")) from None
    tree = parse(source.text, source.path)
    src = tree.span.source if tree.span is not NO_SPAN else source
    return tree, src, time.perf_counter() - t0


def load(
    path: str,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
) -> D.Design:
    """Read, check and resolve a design file (one variant, or the base design).

    `allow_outside`: `csv()` may read files outside the design file's folder (else E411)."""
    tree, source, parse_s = _read(path)
    t0 = time.perf_counter()
    design = resolve(tree, source, variant=variant, sets=sets, allow_outside=allow_outside)
    design.timings.update(parse=parse_s, resolve=time.perf_counter() - t0)
    return design


def load_all(
    path: str,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
) -> dict[str | None, D.Design]:
    """The base design and every variant, in declaration order (key None = the base).

    `variants`: only the variants of these names (names not declared are skipped; the base's
    `Design.variants` lists those that are). `for_compare`: also skip the variants written
    with `compare = false` (unless named in `variants`), without resolving them."""
    tree, source, parse_s = _read(path)
    t0 = time.perf_counter()
    designs = resolve_all(
        tree, source, variants, for_compare=for_compare, allow_outside=allow_outside
    )
    # One parse serves every variant; resolving is shared out evenly among them.
    resolve_s = (time.perf_counter() - t0) / len(designs)
    for design in designs.values():
        design.timings.update(parse=parse_s, resolve=resolve_s)
    return designs


def resolve(
    file: S.File,
    source: SourceFile | None = None,
    variant: str | None = None,
    sets: list[str] | None = None,
    *,
    allow_outside: bool = False,
) -> D.Design:
    """One design: the base (variant None) or a variant, with `sets` applied on top."""
    return _Resolver(file, source, allow_outside).design(variant, sets)


def resolve_all(
    file: S.File,
    source: SourceFile | None = None,
    variants: Collection[str] | None = None,
    *,
    for_compare: bool = False,
    allow_outside: bool = False,
) -> dict[str | None, D.Design]:
    """The base design and the variants `load_all` describes."""
    r = _Resolver(file, source, allow_outside)
    out: dict[str | None, D.Design] = {None: r.design(None, None)}
    diags: list[Diagnostic] = []
    flags = variant_compare_flags(file) if for_compare else {}
    for name in r.base.variants:
        named = variants is not None and name in variants
        if variants is not None and not named and not for_compare:
            continue
        if for_compare and not named and not flags.get(name, True):
            continue
        try:
            out[name] = r.design(name, None)
        except PebdslError as e:
            diags.extend(e.diagnostics)
    if diags:
        raise PebdslError(_dedupe(diags))
    return out


def variant_compare_flags(file: S.File | str) -> dict[str, bool]:
    """Each variant's `compare` attribute, read from the syntax tree (or the file at this path)
    without resolving anything: False only where it is written `compare = false`, once (a wrong
    value, E307, or a second `compare`, E109, is an error when the variant is resolved, so such a
    variant stays in `pebdsl compare` to show it)."""
    if isinstance(file, str):
        file = _read(file)[0]
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


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, int, str]] = set()
    out = []
    for d in diags:
        key = (d.code, d.span.source.path, d.span.start, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


# ---------------------------------------------------------------------------------------------
# The syntax-level model that variant edits work on
# ---------------------------------------------------------------------------------------------
@dataclass
class Node:
    """A named declaration, mutable while edits apply. Syntax nodes inside stay immutable."""

    kind: str  # participant | block | battery | market | product | series | template | variant
    name: str
    name_span: Span
    span: Span
    items: list[Any] = field(default_factory=list)
    template: S.Name | None = None
    block: str | None = None  # participant, battery: the enclosing block
    removed: set[tuple[str, ...]] = field(default_factory=set)  # tombstones over the template
    decl: Any = None  # series: SeriesDecl; variant: VariantDecl

    def copy(self) -> Node:
        return replace(self, items=list(self.items), removed=set(self.removed))


@dataclass
class Single:
    """A singleton declaration (design, horizon, grid, dso)."""

    span: Span
    items: list[Any] = field(default_factory=list)
    title: str = ""

    def copy(self) -> Single:
        return replace(self, items=list(self.items))


@dataclass
class Model:
    singles: dict[str, Single] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)  # one namespace, declaration order
    variants: list[str] = field(default_factory=list)
    removed_names: set[str] = field(default_factory=set)  # removed by a variant edit
    file_span: Span = NO_SPAN

    def copy(self) -> Model:
        return Model(
            {k: v.copy() for k, v in self.singles.items()},
            {k: v.copy() for k, v in self.nodes.items()},
            list(self.variants),
            set(self.removed_names),
            self.file_span,
        )

    def of_kind(self, kind: str) -> dict[str, Node]:
        return {k: n for k, n in self.nodes.items() if n.kind == kind}


class _Errors:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []

    def add(self, d: Diagnostic) -> None:
        self.diags.append(d)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except PebdslError as e:
            self.diags.extend(e.diagnostics)

    def raise_if_any(self) -> None:
        if self.diags:
            raise PebdslError(_dedupe(self.diags))


class _Failed(Exception):
    """A value could not be built; its diagnostic is already recorded."""


# ---------------------------------------------------------------------------------------------
# Pass 1: collect
# ---------------------------------------------------------------------------------------------
def _collect(file: S.File, errs: _Errors) -> Model:
    m = Model(file_span=file.span)
    first_design: S.DesignDecl | None = None
    singles_first: dict[str, Span] = {}
    for i, decl in enumerate(file.decls):
        if isinstance(decl, S.DesignDecl):
            if first_design is not None:
                errs.add(
                    Diagnostic(
                        "E304",
                        "a file holds one `design` declaration",
                        decl.span,
                        "second design",
                        related=((first_design.span, "the first one"),),
                    )
                )
                continue
            if i != 0:
                errs.add(
                    error(
                        "E304",
                        "the `design` declaration must come first",
                        decl.span,
                        "move this to the top of the file",
                    )
                )
            first_design = decl
            m.singles["design"] = Single(decl.span, list(decl.body.items), decl.title.value)
        elif isinstance(decl, S.HorizonDecl | S.GridDecl | S.DsoDecl):
            key = {S.HorizonDecl: "horizon", S.GridDecl: "grid", S.DsoDecl: "dso"}[type(decl)]
            if key in m.singles:
                errs.add(
                    Diagnostic(
                        "E304",
                        f"a design has one `{key}` declaration",
                        decl.span,
                        f"second {key}",
                        related=((singles_first[key], "the first one"),),
                    )
                )
                continue
            singles_first[key] = decl.span
            m.singles[key] = Single(decl.span, list(decl.body.items))
        else:
            _add_named(m, decl, errs, block=None)
    if first_design is None:
        span = file.decls[0].span if file.decls else file.span
        errs.add(
            error(
                "E304",
                'a design file starts with `design "title" { currency = EUR }`',
                span,
                "expected `design` first",
            )
        )
    return m


def _declare(m: Model, node: Node, errs: _Errors, replace_ok: bool = False) -> bool:
    if node.name in RESERVED:
        errs.add(
            error(
                "E107",
                f"`{node.name}` is a reserved word and cannot name a {node.kind}",
                node.name_span,
                "reserved",
                ("choose another name",),
            )
        )
        return False
    old = m.nodes.get(node.name)
    if old is not None:
        if replace_ok and old.kind == node.kind:
            return True
        what = f"a {old.kind}" if old.kind != node.kind else f"another {old.kind}"
        errs.add(
            Diagnostic(
                "E102",
                f"duplicate name `{node.name}`: already used by {what}",
                node.name_span,
                "declared again here",
                related=((old.name_span, f"`{node.name}` first declared here"),),
            )
        )
        return False
    m.nodes[node.name] = node
    return True


def _participant_nodes(decl: S.Participant, block: str | None) -> list[Node]:
    names = decl.name.expand() if isinstance(decl.name, S.RangeName) else [decl.name.value]
    return [
        Node(
            "participant", n, decl.name.span, decl.span, list(decl.body.items), decl.template, block
        )
        for n in names
    ]


def _add_named(
    m: Model, decl: Any, errs: _Errors, block: str | None, replace_ok: bool = False
) -> None:
    """Add one named top-level declaration (also used for declarations inside variants)."""
    if isinstance(decl, S.SeriesDecl):
        node = Node("series", decl.name.value, decl.name.span, decl.span, decl=decl)
    elif isinstance(decl, S.TemplateDecl):
        node = Node("template", decl.name.value, decl.name.span, decl.span, list(decl.body.items))
    elif isinstance(decl, S.Participant):
        for node in _participant_nodes(decl, block):
            if replace_ok and node.name in m.nodes and m.nodes[node.name].kind == "participant":
                node.block = m.nodes[node.name].block if block is None else block
                m.nodes[node.name] = node
            else:
                _declare(m, node, errs)
        return
    elif isinstance(decl, S.Asset):
        if decl.kind != "battery" or decl.name is None:
            hint = (
                "name it to make a shared battery: `battery NAME { … }`"
                if decl.kind == "battery"
                else "put it inside a participant"
            )
            errs.add(
                error(
                    "E304",
                    f"`{decl.kind}` outside a participant",
                    decl.span,
                    "misplaced asset",
                    (hint,),
                )
            )
            return
        node = Node(
            "battery",
            decl.name.value,
            decl.name.span,
            decl.span,
            list(decl.body.items),
            block=block,
        )
    elif isinstance(decl, S.BlockDecl):
        _add_block(m, decl, errs, replace_ok)
        return
    elif isinstance(decl, S.MarketDecl | S.ProductDecl):
        kind = "market" if isinstance(decl, S.MarketDecl) else "product"
        node = Node(kind, decl.name.value, decl.name.span, decl.span, list(decl.body.items))
    elif isinstance(decl, S.VariantDecl):
        node = Node("variant", decl.name.value, decl.name.span, decl.span, decl=decl)
        if _declare(m, node, errs):
            m.variants.append(node.name)
        return
    else:  # pragma: no cover - the parser produces nothing else at top level
        errs.add(error("E304", "misplaced declaration", getattr(decl, "span", NO_SPAN)))
        return
    if replace_ok and node.name in m.nodes and m.nodes[node.name].kind == node.kind:
        old = m.nodes[node.name]
        node.block = old.block if block is None else block
        m.nodes[node.name] = node
    else:
        _declare(m, node, errs)


def _add_block(m: Model, decl: S.BlockDecl, errs: _Errors, merge: bool) -> None:
    name = decl.name.value
    existing = m.nodes.get(name)
    if merge and existing is not None and existing.kind == "block":
        node = existing
        attrs = {it.name.value for it in decl.body.items if isinstance(it, S.Attribute)}
        node.items = [
            it for it in node.items if not (isinstance(it, S.Attribute) and it.name.value in attrs)
        ]
    else:
        node = Node("block", name, decl.name.span, decl.span)
        if not _declare(m, node, errs):
            return
    for it in decl.body.items:
        shared = isinstance(it, S.Asset) and it.kind == "battery" and it.name is not None
        if isinstance(it, S.Participant) or shared:
            _add_named(m, it, errs, block=name, replace_ok=merge)
        elif isinstance(it, S.Attribute) or (isinstance(it, S.Asset) and it.kind == "connection"):
            node.items.append(it)
        else:
            what = it.kind if isinstance(it, S.Asset) else type(it).__name__.lower()
            hint = (
                "put it inside a participant, or name a battery to share it in the block"
                if isinstance(it, S.Asset)
                else "this belongs elsewhere (see docs/language.md)"
            )
            errs.add(
                error(
                    "E304",
                    f"`{what}` cannot appear directly in a block",
                    it.span,
                    "misplaced",
                    (hint,),
                )
            )


# ---------------------------------------------------------------------------------------------
# Pass 2: variant edits
# ---------------------------------------------------------------------------------------------
_SINGLETONS = ("design", "horizon", "grid", "dso")


def _merged_items(m: Model, node: Node, errs: _Errors | None) -> list[Any]:
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
    items = _merge(base, node.items)
    if node.removed:
        items = _apply_removed(items, node.removed)
    return items


def _key(it: Any) -> tuple[str, ...] | None:
    if isinstance(it, S.Attribute):
        return (it.name.value,)
    if isinstance(it, S.Asset) and it.name is None:
        return (it.kind,)
    return None


def _merge(base: list[Any], own: list[Any]) -> list[Any]:
    out = list(base)
    for it in own:
        k = _key(it)
        pos = next((i for i, b in enumerate(out) if k is not None and _key(b) == k), None)
        if pos is None:
            out.append(it)
            continue
        old = out[pos]
        if isinstance(old, S.Asset) and isinstance(it, S.Asset):
            merged = _merge(list(old.body.items), list(it.body.items))
            out[pos] = S.Asset(it.kind, None, S.Body(tuple(merged), it.body.span), it.span)
        else:
            out[pos] = it
    return out


def _apply_removed(items: list[Any], removed: set[tuple[str, ...]]) -> list[Any]:
    out = []
    for it in items:
        k = _key(it)
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


def _find_asset(items: list[Any], kind: str) -> int | None:
    return next(
        (
            i
            for i, it in enumerate(items)
            if isinstance(it, S.Asset) and it.name is None and it.kind == kind
        ),
        None,
    )


def _set_attr(items: list[Any], attr: S.Attribute) -> list[Any]:
    out = [
        it for it in items if not (isinstance(it, S.Attribute) and it.name.value == attr.name.value)
    ]
    if attr.name.value == "connection":  # the attribute form replaces the block form
        out = [it for it in out if not (isinstance(it, S.Asset) and it.kind == "connection")]
    out.append(attr)
    return out


def _apply_variant(m: Model, v: S.VariantDecl, errs: _Errors) -> None:
    for item in v.items:
        with errs.guard():
            if isinstance(item, S.Attribute):
                continue  # the variant's own attributes (description, compare), not edits
            if isinstance(item, S.Without):
                _without(m, item)
            elif isinstance(item, S.SetEdit):
                _set(m, item)
            elif isinstance(item, S.HorizonDecl | S.GridDecl | S.DsoDecl):
                key = {S.HorizonDecl: "horizon", S.GridDecl: "grid", S.DsoDecl: "dso"}[type(item)]
                single = m.singles.setdefault(key, Single(item.span))
                for it in item.body.items:
                    single.items = _merge_single(single.items, it)
            else:
                sub = _Errors()
                _add_named(m, item, sub, block=None, replace_ok=True)
                for d in sub.diags:
                    errs.add(d)
                m.removed_names.discard(getattr(getattr(item, "name", None), "value", ""))


def _merge_single(items: list[Any], it: Any) -> list[Any]:
    if isinstance(it, S.Attribute):
        return _set_attr(items, it)
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
    return [*items, it]


def _lookup(m: Model, name: str, span: Span, kind: str | None) -> Node:
    node = m.nodes.get(name)
    if node is None or node.kind == "variant":
        cands = [
            k
            for k, n in m.nodes.items()
            if n.kind != "variant" and (kind is None or n.kind == kind)
        ]
        what = kind or "name"
        raise PebdslError(
            error(
                "E101", f"unknown {what} `{name}`", span, "not declared", did_you_mean(name, cands)
            )
        )
    if kind is not None and node.kind != kind:
        raise PebdslError(
            error("E103", f"`{name}` is a {node.kind}, not a {kind}", span, f"expected a {kind}")
        )
    return node


def _part_span(path: S.Path, i: int) -> Span:
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
            node.items = [it for it in node.items if _key(it) != (parts[1],)]
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
        kept = _without_attribute(items, parts[0], parts[1], _part_span(w.target, 1))
        if single is not None:
            single.items = kept
        return
    node = _lookup(m, parts[0], _part_span(w.target, 0), w.kind)
    if len(parts) == 1:
        _remove_node(m, node)
        return
    if node.kind == "participant":
        merged = _merged_items(m, node, None)
        sub = tuple(parts[1:3])
        if not _has_path(merged, sub):
            raise PebdslError(
                error(
                    "E101",
                    f"`{node.name}` has no `{'.'.join(sub)}`",
                    _part_span(w.target, 1),
                    "nothing to remove",
                    did_you_mean(parts[1], [k[0] for k in map(_key, merged) if k]),
                )
            )
        if len(sub) == 1:
            node.items = [it for it in node.items if _key(it) != sub]
        node.removed.add(sub)
        return
    node.items = _without_attribute(node.items, node.name, parts[1], _part_span(w.target, 1))


def _without_attribute(items: list[Any], owner: str, attr: str, span: Span) -> list[Any]:
    """`items` less the attribute `attr` (`without grid.sell`); E101 when it is not set."""
    kept = [x for x in items if not (isinstance(x, S.Attribute) and x.name.value == attr)]
    if len(kept) == len(items):
        raise PebdslError(error("E101", f"`{owner}` has no `{attr}` to remove", span, "not set"))
    return kept


def _has_path(items: list[Any], sub: tuple[str, ...]) -> bool:
    for it in items:
        if _key(it) == sub[:1]:
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
    attr = S.Attribute(S.Name(attr_name, _part_span(e.target, len(parts) - 1)), e.value, e.span)
    if parts[0] in _SINGLETONS and e.kind is None:
        if len(parts) != 2:
            raise PebdslError(error("E307", f"`set {parts[0]}.ATTRIBUTE = value`", e.target.span))
        single = m.singles.setdefault(parts[0], Single(e.span))
        single.items = _set_attr(single.items, attr)
        return
    node = _lookup(m, parts[0], _part_span(e.target, 0), e.kind)
    if len(parts) == 2:
        node.items = _set_attr(node.items, attr)
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
    merged = _merged_items(m, node, None)
    if _find_asset(merged, kind) is None:
        raise PebdslError(
            error(
                "E101",
                f"`{node.name}` has no `{kind}`",
                _part_span(e.target, 1),
                "no such asset",
                did_you_mean(kind, [it.kind for it in merged if isinstance(it, S.Asset)]),
            )
        )
    pos = _find_asset(node.items, kind)
    if pos is None:
        node.items.append(S.Asset(kind, None, S.Body((attr,), e.span), e.span))
    else:
        old = node.items[pos]
        node.items[pos] = S.Asset(
            kind,
            None,
            S.Body(tuple(_set_attr(list(old.body.items), attr)), old.body.span),
            old.span,
        )
    node.removed.discard((kind, attr_name))


def _parse_sets(sets: list[str]) -> list[S.SetEdit]:
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


# ---------------------------------------------------------------------------------------------
# Passes 3 and 4: build and check
# ---------------------------------------------------------------------------------------------
class _Resolver:
    def __init__(
        self, file: S.File, source: SourceFile | None, allow_outside: bool = False
    ) -> None:
        self.allow_outside = allow_outside
        self.file = file
        self.source = source if source is not None else file.span.source
        self.errs = _Errors()
        self.base = _collect(file, self.errs)
        self.base_errors = list(self.errs.diags)
        self._series_used: set[str] | None = None  # file-wide, for W105 (computed once)

    def design(self, variant: str | None, sets: list[str] | None) -> D.Design:
        errs = _Errors()
        errs.diags.extend(self.base_errors)
        errs.raise_if_any()
        m = self.base.copy()
        vattrs: list[S.Attribute] = []
        variant_span = NO_SPAN
        if variant is not None:
            node = m.nodes.get(variant)
            if node is None or node.kind != "variant":
                raise PebdslError(
                    error(
                        "E108",
                        f"unknown variant `{variant}`",
                        NO_SPAN,
                        "",
                        (
                            *did_you_mean(variant, m.variants),
                            "variants: " + (", ".join(m.variants) or "none"),
                        ),
                    )
                )
            _apply_variant(m, node.decl, errs)
            vattrs = [it for it in node.decl.items if isinstance(it, S.Attribute)]
            variant_span = node.decl.span
        set_edits: list[S.SetEdit] = []
        if sets:
            set_edits = _parse_sets(sets)
            v = S.VariantDecl(S.Name("--set"), tuple(set_edits))
            _apply_variant(m, v, errs)
        errs.raise_if_any()
        if self._series_used is None:
            self._series_used = series_used(self.file)
        used = self._series_used | (series_used(self.file, set_edits) if set_edits else set())
        builder = _Builder(m, self.source, errs, variant, vattrs)
        builder.allow_outside = self.allow_outside
        design = builder.build(used)
        return replace(design, variant_span=variant_span) if variant is not None else design


def _attr_span(a: S.Attribute) -> Span:
    return a.value.span


class _Builder:
    def __init__(
        self,
        m: Model,
        source: SourceFile,
        errs: _Errors,
        variant: str | None,
        variant_attrs: list[S.Attribute] | None = None,
    ):
        self.m = m
        self.source = source
        self.errs = errs
        self.variant = variant
        self.variant_attrs = variant_attrs or []
        self.currency = "EUR"
        self.where: Where = {}
        self.ctx: SeriesContext | None = None
        self.directory = Path(source.path).parent if source.path else Path(".")
        self.allow_outside = False  # csv() outside the design's folder (set by _Resolver)

    # -- helpers --------------------------------------------------------------------------
    def attrs(
        self, items: list[Any] | tuple[Any, ...], kind: str, allowed_items: tuple[type, ...] = ()
    ) -> dict[str, S.Attribute]:
        """The attributes of a body by name (E104 unknown, E109 twice, E304 misplaced)."""
        names = ATTRIBUTES.get(kind, ())
        out: dict[str, S.Attribute] = {}
        for it in items:
            if isinstance(it, S.Attribute):
                n = it.name.value
                if n not in names:
                    extra = (
                        [a for a in ASSETS if a != "connection"]
                        if kind in ("participant", "template")
                        else []
                    )
                    hints = did_you_mean(n, [*names, *extra])
                    listing = ", ".join(names) if names else "none"
                    self.errs.add(
                        error(
                            "E104",
                            f"unknown attribute `{n}` for {kind}",
                            it.name.span,
                            "unknown attribute",
                            (*hints, f"{kind} takes: {listing}"),
                        )
                    )
                    continue
                if n in out:
                    self.errs.add(
                        Diagnostic(
                            "E109",
                            f"`{n}` is given twice",
                            it.name.span,
                            "given again",
                            related=((out[n].name.span, "first given here"),),
                        )
                    )
                    continue
                out[n] = it
            elif not isinstance(it, allowed_items):
                what = (
                    it.kind
                    if isinstance(it, S.Asset)
                    else {
                        S.FeesTable: "fees",
                        S.Link: "link",
                        S.Flexibility: "flexibility",
                        S.Participant: "participant",
                    }.get(type(it), "declaration")
                )
                self.errs.add(
                    error("E304", f"`{what}` cannot appear in {kind}", it.span, "misplaced")
                )
        return out

    def need(
        self, attrs: dict[str, S.Attribute], name: str, kind: str, span: Span, example: str
    ) -> S.Attribute:
        a = attrs.get(name)
        if a is None:
            self.errs.add(
                error(
                    "E301",
                    f"{kind} needs `{name}`",
                    span,
                    f"missing `{name}`",
                    (f"add `{name} = {example}`",),
                )
            )
            raise _Failed
        return a

    def const(
        self,
        a: S.Attribute | None,
        dimension: str,
        what: str,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
        default: float | None = None,
    ) -> float:
        """A constant attribute in canonical units, range-checked (E302)."""
        if a is None:
            if default is None:
                raise _Failed
            return default
        assert self.ctx is not None
        try:
            v = self.ctx.constant(a.value, dimension, what)
        except PebdslError as e:
            self.errs.diags.extend(e.diagnostics)
            raise _Failed from None
        self.range(v, a, what, lo, hi, lo_open, hi_open)
        return v

    def range(
        self,
        v: float,
        a: S.Attribute,
        what: str,
        lo: float | None,
        hi: float | None,
        lo_open: bool = False,
        hi_open: bool = False,
    ) -> None:
        bad = (lo is not None and (v < lo or (lo_open and v == lo))) or (
            hi is not None and (v > hi or (hi_open and v == hi))
        )
        if bad:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            if hi is None:
                rng = f"{'greater than' if lo_open else 'at least'} {lo:g}"
            else:
                rng = f"in {lb}{lo:g}, {hi:g}{rb}"
            self.errs.add(
                error("E302", f"{what} must be {rng}, got {v:g}", a.value.span, "out of range")
            )
            raise _Failed

    def series(self, a: S.Attribute, dimension: str, what: str) -> D.FloatArray:
        assert self.ctx is not None
        try:
            return self.ctx.array(a.value, dimension, what)
        except PebdslError as e:
            self.errs.diags.extend(e.diagnostics)
            raise _Failed from None

    def word(self, a: S.Attribute, choices: tuple[str, ...], what: str) -> str:
        v = strip(a.value)
        text = v.name if isinstance(v, S.Ref) else v.value if isinstance(v, S.String) else None
        if text not in choices:
            shown = text if text is not None else type(v).__name__.lower()
            self.errs.add(
                error(
                    "E307",
                    f"{what} must be one of {', '.join(choices)}; got `{shown}`",
                    a.value.span,
                    "not allowed here",
                    did_you_mean(str(text), choices),
                )
            )
            raise _Failed
        return cast(str, text)

    # -- the design -------------------------------------------------------------------------
    def build(self, series_used: set[str] | None = None) -> D.Design:
        """The design, its errors raised together; `series_used` (the series the whole file
        uses, `lint.series_used`) tells which declared series to warn about (W105)."""
        m = self.m
        errs = self.errs
        design_s = m.singles.get("design", Single(NO_SPAN))
        dattrs = self.attrs(design_s.items, "design")
        with contextlib.suppress(_Failed):
            if "currency" in dattrs:
                self.currency = self.word(dattrs["currency"], U.CURRENCIES, "currency")
        description = ""
        if "description" in dattrs:
            v = strip(dattrs["description"].value)
            if isinstance(v, S.String):
                description = v.value
            else:
                errs.add(error("E307", "description must be a string", v.span))
        variant_description, in_compare = self.variant_attributes()
        grid_time = None
        with contextlib.suppress(_Failed):
            grid_time = self.horizon()
        if grid_time is None:
            errs.raise_if_any()
            raise PebdslError(error("E301", "the design has no horizon", design_s.span))
        kinds = {k: n.kind for k, n in m.nodes.items() if n.kind != "series"}
        for k in ("design", "horizon", "grid", "dso"):
            kinds.setdefault(k, "keyword")
        series_decls = {k: n.decl for k, n in m.nodes.items() if n.kind == "series"}
        self.ctx = SeriesContext(
            grid_time, self.currency, self.directory, series_decls, kinds, self.allow_outside
        )
        # Evaluate every series once, so an unused broken series is still reported.
        for name, decl in series_decls.items():
            with errs.guard():
                self.ctx.series(name, decl.name.span)
        grid = None
        with contextlib.suppress(_Failed):
            grid = self.grid()
        participants: dict[str, D.Participant] = {}
        for node in m.of_kind("participant").values():
            with contextlib.suppress(_Failed):
                participants[node.name] = self.participant(node)
        for node in m.of_kind("template").values():
            self.attrs(node.items, "template", (S.Asset,))
        batteries: dict[str, D.Battery] = {}
        for node in m.of_kind("battery").values():
            with contextlib.suppress(_Failed):
                batteries[node.name] = self.battery(
                    node.items, node.span, node.name, None, node.block
                )
        blocks = {}
        for node in m.of_kind("block").values():
            with contextlib.suppress(_Failed):
                blocks[node.name] = self.block(node)
        products = {}
        for node in m.of_kind("product").values():
            with contextlib.suppress(_Failed):
                products[node.name] = self.product(node)
        markets = {}
        for node in m.of_kind("market").values():
            with contextlib.suppress(_Failed):
                markets[node.name] = self.market(node, blocks)
        dso = D.Dso()
        if "dso" in m.singles:
            with contextlib.suppress(_Failed):
                dso = self.dso(m.singles["dso"])
        reference = None
        if "reference" in dattrs:
            a = dattrs["reference"]
            v = strip(a.value)
            if isinstance(v, S.Ref) and v.name in m.variants:
                reference = v.name
            else:
                errs.add(
                    error(
                        "E101",
                        f"unknown variant `{_text(v)}`",
                        a.value.span,
                        "not a variant",
                        did_you_mean(_text(v), m.variants),
                    )
                )
        elif "reference" in m.variants:
            reference = "reference"
        errs.raise_if_any()
        assert grid is not None
        digest = hashlib.sha256()
        for path, sha in sorted(self.ctx.data_files.items()):
            rel = os.path.relpath(path, self.directory)
            digest.update(f"{rel}:{sha}\n".encode())
        design = D.Design(
            title=design_s.title,
            currency=self.currency,
            time=grid_time,
            grid=grid,
            participants=participants,
            blocks=blocks,
            shared_batteries=batteries,
            markets=markets,
            products=products,
            dso=dso,
            description=description,
            variant=self.variant,
            variant_description=variant_description,
            in_compare=in_compare,
            variants=tuple(m.variants),
            reference=reference,
            sources=(self.source,),
            data_digest=digest.hexdigest() if self.ctx.data_files else "",
            span=design_s.span,
        )
        diags = check_design(design, self.where)
        if diags:
            raise PebdslError(_dedupe(diags))
        unused = (
            {}
            if series_used is None
            else {k: d.name.span for k, d in series_decls.items() if k not in series_used}
        )
        for node in m.of_kind("market").values():
            self.where[("market", node.name, "@name")] = node.name_span
        for node in m.of_kind("battery").values():
            self.where[("battery", node.name, "@name")] = node.name_span
        return replace(design, warnings=tuple(lint(design, self.where, unused)))

    def variant_attributes(self) -> tuple[str, bool]:
        """The variant's `description` (a string) and `compare` (true or false)."""
        vattrs = self.attrs(self.variant_attrs, "variant")
        description = ""
        if "description" in vattrs:
            v = strip(vattrs["description"].value)
            if isinstance(v, S.String):
                description = v.value
            else:
                self.errs.add(
                    error(
                        "E307",
                        "a variant's description must be a string",
                        v.span,
                        "not a string",
                        ('write `description = "…"`',),
                    )
                )
        in_compare = True
        if "compare" in vattrs:
            v = strip(vattrs["compare"].value)
            if isinstance(v, S.Bool):
                in_compare = v.value
            else:
                shown = v.span.text if v.span is not NO_SPAN else _text(v)
                self.errs.add(
                    error(
                        "E307",
                        f"a variant's `compare` must be `true` or `false`; got `{shown}`",
                        v.span,
                        "not true or false",
                        (
                            "`compare = false` leaves the variant out of `pebdsl compare` "
                            "unless it is named with `--variant`",
                        ),
                    )
                )
        return description, in_compare

    # -- horizon ------------------------------------------------------------------------------
    def required_single(self, keyword: str, example: str) -> Single:
        """The design's one `horizon` / `grid` declaration, or E301 at the design line."""
        single = self.m.singles.get(keyword)
        if single is None:
            span = self.m.singles.get("design", Single(self.m.file_span)).span
            self.errs.add(
                error(
                    "E301",
                    f"the design has no `{keyword}`",
                    span,
                    f"missing {keyword}",
                    (f"add `{example}`",),
                )
            )
            raise _Failed
        return single

    def horizon(self) -> D.TimeGrid:
        single = self.required_single(
            "horizon", "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }"
        )
        a = self.attrs(single.items, "horizon")
        tz = "UTC"
        if "timezone" in a:
            v = strip(a["timezone"].value)
            if not isinstance(v, S.String):
                self.errs.add(
                    error("E307", 'timezone must be a string, e.g. "Europe/Oslo"', v.span)
                )
                raise _Failed
            tz = v.value
            _check_timezone(tz, v.span)
        start_a = self.need(a, "start", "horizon", single.span, "2021-06-07")
        start = _local_time(start_a.value, tz, "start")
        # A temporary context for time quantities (no series needed).
        self.ctx = SeriesContext(
            D.TimeGrid(start, 1.0, 1, tz), self.currency, self.directory, {}, {}
        )
        step_h = 1.0
        if "step" in a:
            step_h = self.const(a["step"], "time", "step", lo=0, lo_open=True)
            if step_h * 3600 < 1 - 1e-9:
                self.range(step_h, a["step"], "step (h)", 1 / 3600, None)
        if ("duration" in a) == ("end" in a):
            both = "duration" in a
            self.errs.add(
                error(
                    "E301" if not both else "E304",
                    "horizon needs exactly one of `duration` and `end`",
                    single.span,
                    "both given" if both else "missing `duration` or `end`",
                    ("`duration = 1 d`, or `end = 2021-06-08` (exclusive)",),
                )
            )
            raise _Failed
        if "duration" in a:
            dur_a = a["duration"]
            duration_h = self.const(dur_a, "time", "duration", lo=0, lo_open=True)
        else:
            dur_a = a["end"]
            end = _local_time(dur_a.value, tz, "end")
            # Aware datetimes sharing one tzinfo subtract as wall-clock times: go through UTC.
            utc = UTC
            duration_h = (end.astimezone(utc) - start.astimezone(utc)).total_seconds() / 3600.0
            if duration_h <= 0:
                self.errs.add(
                    error(
                        "E302",
                        "horizon `end` must be after `start`",
                        dur_a.value.span,
                        "not after start",
                    )
                )
                raise _Failed
        ratio = duration_h / step_h
        n = round(ratio)
        if n < 1 or abs(ratio - n) > 1e-9 * max(1.0, ratio):
            self.errs.add(
                error(
                    "E303",
                    f"the step ({step_h:g} h) does not divide the horizon ({duration_h:g} h)",
                    a["step"].value.span if "step" in a else dur_a.value.span,
                    "does not divide",
                    ("choose a step that divides the duration exactly",),
                )
            )
            raise _Failed
        if n > MAX_STEPS:
            self.errs.add(
                error(
                    "E302",
                    f"{n} steps is more than the {MAX_STEPS} supported",
                    dur_a.value.span,
                    "too many steps",
                )
            )
            raise _Failed
        self.supported_dates(start, step_h * n, start_a)
        return D.TimeGrid(start, step_h, n, tz, single.span)

    def supported_dates(self, start: datetime, duration_h: float, a: S.Attribute) -> None:
        """E314 unless the horizon lies within `DATE_RANGE` (pandas' nanosecond timestamps,
        with a year to spare for the calendar year a generator's annual reference needs)."""
        lo, hi = DATE_RANGE
        try:
            first = start.astimezone(UTC)
            last = first + timedelta(hours=duration_h)
        except (OverflowError, ValueError):
            first = last = datetime.max.replace(tzinfo=UTC)
        if first < lo or last > hi:
            self.errs.add(
                error(
                    "E314",
                    f"the horizon ({start.isoformat()}, {duration_h:g} h) is outside the "
                    f"supported dates {lo.date()} … {hi.date()}",
                    a.value.span,
                    "unsupported date",
                    ("time series are held as nanosecond timestamps (pandas)",),
                )
            )
            raise _Failed

    # -- grid ---------------------------------------------------------------------------------
    def grid(self) -> D.Grid:
        single = self.required_single("grid", "grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }")
        a = self.attrs(single.items, "grid")
        for k, at in a.items():
            self.where[("grid", k)] = at.value.span
        buy = None
        with contextlib.suppress(_Failed):
            buy = self.series(
                self.need(a, "buy", "grid", single.span, "0.30 EUR/kWh"), "price", "grid buy price"
            )
        sell: D.FloatArray | None
        if "sell" not in a:
            # No feed-in tariff stated: export is allowed but earns nothing (docs/language.md).
            sell = np.zeros(self.ctx.n if self.ctx else 0)
        elif _is_word(a["sell"].value, "none"):
            sell = None
        else:
            sell = self.series(a["sell"], "price", "grid sell price")
        if buy is None:
            raise _Failed
        return D.Grid(buy, sell, single.span)

    # -- participants -------------------------------------------------------------------------
    def participant(self, node: Node) -> D.Participant:
        items = _merged_items(self.m, node, self.errs)
        a = self.attrs(items, "participant", (S.Asset,))
        load = gen_pv = gen_wind = battery = flexible = connection = None
        failed = False
        assets: dict[str, S.Asset] = {}
        for it in items:
            if isinstance(it, S.Asset):
                if it.name is not None:
                    self.errs.add(
                        error(
                            "E304",
                            "a named battery belongs to a block or the top "
                            "level, not to a participant",
                            it.span,
                            "misplaced",
                        )
                    )
                    failed = True
                    continue
                if it.kind in assets:
                    self.errs.add(
                        Diagnostic(
                            "E109",
                            f"`{it.kind}` is given twice",
                            it.span,
                            "given again",
                            related=((assets[it.kind].span, "first given here"),),
                        )
                    )
                    failed = True
                    continue
                assets[it.kind] = it
        if "connection" in a and "connection" in assets:
            self.errs.add(
                error(
                    "E109",
                    "`connection` is given twice (attribute and block)",
                    assets["connection"].span,
                )
            )
            failed = True
        try:
            for kind, asset in assets.items():
                try:
                    if kind == "load":
                        load = self.load(asset)
                    elif kind in ("pv", "wind"):
                        g = self.generation(asset, cast(Literal["pv", "wind"], kind))
                        if kind == "pv":
                            gen_pv = g
                        else:
                            gen_wind = g
                    elif kind == "battery":
                        battery = self.battery(
                            list(asset.body.items),
                            asset.span,
                            f"{node.name}.battery",
                            node.name,
                            node.block,
                        )
                    elif kind == "flexible":
                        flexible = self.flexible(asset)
                    elif kind == "connection":
                        connection = self.connection_block(asset)
                except _Failed:
                    failed = True
            if "connection" in a:
                try:
                    c = self.const(a["connection"], "power", "connection", lo=0)
                    connection = D.Connection(c, c, a["connection"].span)
                except _Failed:
                    failed = True
        finally:
            pass
        tariff = None
        try:
            tariff = TA.participant_tariff(self, a, node.span)
        except _Failed:
            failed = True
        if failed:
            raise _Failed
        gens = tuple(g for g in (gen_pv, gen_wind) if g is not None)
        return D.Participant(
            node.name, node.block, load, gens, battery, flexible, connection, node.span, tariff
        )

    def load(self, asset: S.Asset) -> D.Load:
        a = self.attrs(asset.body.items, "load")
        prof = self.need(a, "profile", "load", asset.span, "home  # a series in kW")
        assert self.ctx is not None
        if "annual" not in a:
            values = self.series(prof, "power", "load profile")
        else:
            annual_kwh = self.const(a["annual"], "energy", "annual", lo=0)
            try:
                s = self.ctx.eval(prof.value)
            except PebdslError as e:
                self.errs.diags.extend(e.diagnostics)
                raise _Failed from None
            if s.dims not in ((), U.DIMENSIONS["power"].dims):
                self.errs.add(
                    error(
                        "E202",
                        "with `annual`, the load profile needs power (kW) or "
                        f"a bare-number shape, got {U.dims_name(s.dims)}",
                        prof.value.span,
                        "expected power or a shape",
                    )
                )
                raise _Failed
            arr = (
                s.values
                if isinstance(s.values, np.ndarray)
                else np.full(self.ctx.n, float(s.values))
            )
            # The profile's energy over a year: the generator's own normalisation when known
            # (standard_load: its `annual`), else the horizon's mean power x 8760 h.
            ref_kwh = (
                s.annual_ref_kwh() if s.annual_ref_kwh is not None else float(np.mean(arr)) * 8760.0
            )
            if not ref_kwh > 0 or not math.isfinite(ref_kwh):
                self.errs.add(
                    error(
                        "E302",
                        "the load profile has no energy to scale to `annual`",
                        prof.value.span,
                        "all zero",
                    )
                )
                raise _Failed
            values = np.asarray(arr * (annual_kwh / ref_kwh), dtype=np.float64)
            worst = int(np.argmax(np.abs(values)))
            big = U.beyond_magnitude(
                float(values[worst]), "power", prof.value.span, self.currency,
                f"load profile scaled to `annual` at step {worst + 1}",
            )  # fmt: skip
            if big is not None:
                self.errs.diags.extend(big.diagnostics)
                raise _Failed
        self.nonnegative(values, prof, "load profile")
        return D.Load(values, asset.span)

    def nonnegative(self, values: D.FloatArray, a: S.Attribute, what: str) -> None:
        neg = values < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            self.errs.add(
                error(
                    "E302",
                    f"{what} is negative ({values[i]:g} kW) at step {i + 1}",
                    a.value.span,
                    "must not be negative",
                )
            )
            raise _Failed

    def generation(self, asset: S.Asset, kind: Literal["pv", "wind"]) -> D.Generation:
        a = self.attrs(asset.body.items, kind)
        prof = self.need(a, "profile", kind, asset.span, "solar  # per kWp, with peak")
        assert self.ctx is not None
        peak = None
        if "peak" in a:
            peak = self.const(a["peak"], "power", f"{kind} peak", lo=0)
            shape = self.series(prof, "ratio", f"{kind} profile (per kWp, with `peak`)")
            # Each factor is bounded (units.MAX_MAGNITUDE), their product need not be.
            big = np.abs(shape) > U.MAX_MAGNITUDE / max(peak, 1.0)
            if big.any():
                i = int(np.flatnonzero(big)[0])
                self.errs.add(
                    error(
                        "E302",
                        f"{kind} output (profile x peak) is {float(shape[i]) * peak:g} kW at "
                        f"step {i + 1}, beyond the supported magnitude of {U.MAX_MAGNITUDE:g} kW",
                        prof.value.span,
                        "too large with this peak",
                        ("sums and products of such values would overflow",),
                    )
                )
                raise _Failed
            values = shape * peak
        else:
            values = self.series(prof, "power", f"{kind} profile (kW; or per kWp with `peak`)")
        self.nonnegative(values, prof, f"{kind} profile")
        return D.Generation(kind, values, peak, asset.span)

    def battery(
        self, items: list[Any], span: Span, name: str, owner: str | None, block: str | None
    ) -> D.Battery:
        a = self.attrs(items, "battery")
        for k, at in a.items():
            self.where[("battery", name, k)] = at.value.span
        cap = self.const(
            self.need(a, "capacity", "battery", span, "10 kWh"), "energy", "battery capacity", lo=0
        )
        power = self.const(
            self.need(a, "power", "battery", span, "5 kW"), "power", "battery power", lo=0
        )
        eff = self.const(
            a.get("efficiency"),
            "ratio",
            "battery efficiency",
            lo=0,
            hi=1,
            lo_open=True,
            default=1.0,
        )
        min_soc = self.soc(a.get("min_soc"), cap, "min_soc", 0.0)
        initial = self.soc(a.get("initial"), cap, "initial", 0.0)
        final: float | None = None
        if "final" in a:
            if _is_word(a["final"].value, "initial"):
                final = initial
            elif _is_word(a["final"].value, "none"):
                final = None
            else:
                final = self.soc(a["final"], cap, "final", 0.0)
        charge_from = "any"
        if "charge_from" in a:
            charge_from = self.word(a["charge_from"], ("any", "local"), "charge_from")
        cost = self.const(a.get("throughput_cost"), "price", "throughput_cost", lo=0, default=0.0)
        owners = self.battery_owners(a, span, owner is not None)
        available, arrival, departure = TA.battery_availability(self, a, span, cap)
        b = D.Battery(
            name,
            cap,
            power,
            eff,
            min_soc,
            initial,
            final,
            cast(Literal["any", "local"], charge_from),
            cost,
            owner,
            block,
            span,
            owners,
            available,
            arrival,
            departure,
        )
        assert self.ctx is not None
        diags = check_battery(b, self.ctx.grid.duration_h, self.where)
        if diags:
            self.errs.diags.extend(diags)
            raise _Failed
        return b

    def battery_owners(
        self, a: dict[str, S.Attribute], span: Span, private: bool
    ) -> tuple[tuple[str, float], ...]:
        """A shared battery's `owners` (participants) and `shares` (positive numbers or
        percentages, one per owner, scaled to sum to 1; default equal shares). Owners removed
        by a variant are dropped. E304 on a participant's own battery, E301 `shares` without
        `owners`, E101/E103/E308 bad names, E307/E302 bad shares."""
        if private:
            for k in ("owners", "shares"):
                if k in a:
                    self.errs.add(
                        error(
                            "E304",
                            f"`{k}` applies to shared batteries only",
                            a[k].name.span,
                            "misplaced",
                            ("a participant's own battery belongs to that participant",),
                        )
                    )
                    raise _Failed
            return ()
        if "owners" not in a:
            if "shares" in a:
                self.need(a, "owners", "a battery with `shares`", span, "[alice, bob]")
            return ()
        v = strip(a["owners"].value)
        items = [strip(it) for it in (v.items if isinstance(v, S.List) else (v,))]
        names: list[tuple[str, Span]] = []
        seen: dict[str, Span] = {}
        ok = True
        for it in items:
            if not (isinstance(it, S.Ref) and len(it.path.parts) == 1):
                self.errs.add(error("E307", "owners are participant names", it.span, "not a name"))
                ok = False
                continue
            if it.name in seen:
                self.errs.add(
                    Diagnostic(
                        "E308",
                        f"`{it.name}` is listed twice",
                        it.span,
                        "listed again",
                        related=((seen[it.name], "first listed here"),),
                    )
                )
                ok = False
                continue
            seen[it.name] = it.span
            node = self.m.nodes.get(it.name)
            if node is not None and node.kind == "participant":
                names.append((it.name, it.span))
            elif node is not None:
                self.errs.add(
                    error(
                        "E103",
                        f"`{it.name}` is a {node.kind}, not a participant",
                        it.span,
                        "expected a participant",
                    )
                )
                ok = False
            elif it.name in self.m.removed_names:
                names.append((it.name, it.span))  # dropped below, after the shares line up
            else:
                cands = [k for k, n in self.m.nodes.items() if n.kind == "participant"]
                self.errs.add(
                    error(
                        "E101",
                        f"unknown participant `{it.name}`",
                        it.span,
                        "not declared",
                        (*did_you_mean(it.name, cands),),
                    )
                )
                ok = False
        if not ok:
            raise _Failed
        shares = [1.0] * len(names)
        if "shares" in a:
            sv = strip(a["shares"].value)
            sitems = list(sv.items) if isinstance(sv, S.List) else [sv]
            if len(sitems) != len(names):
                self.errs.add(
                    error(
                        "E307",
                        f"`shares` needs one share per owner: {len(names)} owners, "
                        f"{len(sitems)} shares",
                        a["shares"].value.span,
                        "wrong number of shares",
                    )
                )
                raise _Failed
            assert self.ctx is not None
            shares = []
            for it in sitems:
                try:
                    x = self.ctx.constant(it, "ratio", "share")
                except PebdslError as e:
                    self.errs.diags.extend(e.diagnostics)
                    raise _Failed from None
                if not x > 0:
                    self.errs.add(
                        error("E302", f"a share must be positive, got {x:g}", it.span, "not > 0")
                    )
                    raise _Failed
                shares.append(x)
        kept = [
            (n, w) for (n, _), w in zip(names, shares, strict=True) if n not in self.m.removed_names
        ]
        total = sum(w for _, w in kept)
        return tuple((n, w / total) for n, w in kept) if kept else ()

    def soc(self, a: S.Attribute | None, cap_kwh: float, what: str, default: float) -> float:
        """A state of charge given as a share of the capacity or as an energy."""
        if a is None:
            return default
        assert self.ctx is not None
        e = strip(a.value)
        try:
            s = self.ctx.eval(e)
        except PebdslError as err:
            self.errs.diags.extend(err.diagnostics)
            raise _Failed from None
        if s.dims == ():
            share = self.const(a, "ratio", what, lo=0, hi=1)
            return share * cap_kwh
        if s.dims == U.DIMENSIONS["energy"].dims:
            return self.const(a, "energy", what, lo=0)
        self.errs.add(
            error(
                "E202",
                f"{what} needs a share (e.g. 50 %) or an energy (e.g. "
                f"5 kWh), got {U.dims_name(s.dims)}",
                a.value.span,
                "expected a share or energy",
            )
        )
        raise _Failed

    def flexible(self, asset: S.Asset) -> D.Flexible:
        a = self.attrs(asset.body.items, "flexible")
        share = self.const(
            self.need(a, "share", "flexible", asset.span, "20 %"),
            "ratio",
            "flexible share",
            lo=0,
            hi=1,
        )
        wa = self.need(a, "window", "flexible", asset.span, "4 h")
        window = self.const(wa, "time", "flexible window", lo=0, lo_open=True)
        assert self.ctx is not None
        step = self.ctx.grid.step_h
        ratio = window / step
        if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
            self.errs.add(
                error(
                    "E303",
                    f"the window ({window:g} h) is not a whole number of steps ({step:g} h)",
                    wa.value.span,
                    "does not divide",
                )
            )
            raise _Failed
        cost = self.const(a.get("cost"), "price", "flexible cost", lo=0, default=0.0)
        return D.Flexible(share, window, cost, asset.span)

    def connection_block(self, asset: S.Asset) -> D.Connection:
        a = self.attrs(asset.body.items, "connection")
        imp = self.const(a["import"], "power", "connection import", lo=0) if "import" in a else None
        exp = self.const(a["export"], "power", "connection export", lo=0) if "export" in a else None
        return D.Connection(imp, exp, asset.span)

    # -- blocks, products, markets ------------------------------------------------------------
    def block(self, node: Node) -> D.Block:
        a = self.attrs(node.items, "block", (S.Asset,))
        conn = None
        for it in node.items:
            if isinstance(it, S.Asset) and it.kind == "connection":
                conn = self.connection_block(it)
        if "connection" in a:
            c = self.const(a["connection"], "power", "block connection", lo=0)
            conn = D.Connection(c, c, a["connection"].span)
        members = tuple(
            n.name for n in self.m.of_kind("participant").values() if n.block == node.name
        )
        bats = tuple(n.name for n in self.m.of_kind("battery").values() if n.block == node.name)
        return D.Block(node.name, conn, members, bats, node.span)

    def product(self, node: Node) -> D.Product:
        a = self.attrs(node.items, "product")
        origin = None
        if "origin" in a:
            origin = tuple(self.words(a["origin"], ("pv", "wind", "battery"), "origin"))
        premium = self.const(a.get("premium"), "price", "premium", lo=0, default=0.0)
        return D.Product(node.name, origin, premium, node.span)

    def words(self, a: S.Attribute, choices: tuple[str, ...], what: str) -> list[str]:
        v = strip(a.value)
        items = v.items if isinstance(v, S.List) else (v,)
        out = []
        for it in items:
            it = strip(it)
            if not (isinstance(it, S.Ref) and it.name in choices):
                t = _text(it)
                self.errs.add(
                    error(
                        "E307",
                        f"{what} takes {', '.join(choices)}; got `{t}`",
                        it.span,
                        "not allowed here",
                        did_you_mean(t, choices),
                    )
                )
                raise _Failed
            out.append(it.name)
        return out

    def members(
        self, a: S.Attribute, blocks: dict[str, D.Block]
    ) -> tuple[list[str], list[str], bool]:
        """Participants named by `members` (blocks expanded), the blocks named, and `all`."""
        v = strip(a.value)
        items = v.items if isinstance(v, S.List) else (v,)
        out: list[str] = []
        named_blocks: list[str] = []
        is_all = False
        seen: dict[str, Span] = {}
        ok = True
        for it in items:
            it = strip(it)
            if not (isinstance(it, S.Ref) and len(it.path.parts) == 1):
                self.errs.add(
                    error(
                        "E307",
                        "members are participant or block names, or `all`",
                        it.span,
                        "not a name",
                    )
                )
                ok = False
                continue
            name = it.name
            if name in seen:
                self.errs.add(
                    Diagnostic(
                        "E308",
                        f"`{name}` is listed twice",
                        it.span,
                        "listed again",
                        related=((seen[name], "first listed here"),),
                    )
                )
                ok = False
                continue
            seen[name] = it.span
            node = self.m.nodes.get(name)
            if name == "all":
                is_all = True
                out.extend(self.m.of_kind("participant"))
            elif node is not None and node.kind == "participant":
                out.append(name)
            elif node is not None and node.kind == "block":
                named_blocks.append(name)
                out.extend(
                    n.name for n in self.m.of_kind("participant").values() if n.block == name
                )
            elif node is not None:
                self.errs.add(
                    error(
                        "E103",
                        f"`{name}` is a {node.kind}, not a participant or block",
                        it.span,
                        "expected a participant or block",
                    )
                )
                ok = False
            elif name in self.m.removed_names:
                continue  # removed by this variant: the market goes on without it
            else:
                cands = [k for k, n in self.m.nodes.items() if n.kind in ("participant", "block")]
                self.errs.add(
                    error(
                        "E101",
                        f"unknown participant `{name}`",
                        it.span,
                        "not declared",
                        (*did_you_mean(name, cands),),
                    )
                )
                ok = False
        if not ok:
            raise _Failed
        return list(dict.fromkeys(out)), named_blocks, is_all

    def market(self, node: Node, blocks: dict[str, D.Block]) -> D.Market:
        a = self.attrs(node.items, "market", (S.FeesTable,))
        mtype = self.word(
            self.need(a, "type", "market", node.span, "p2p"), ("p2p", "pool"), "market type"
        )
        members_a = self.need(a, "members", "market", node.span, "all")
        self.where[("market", node.name, "members")] = members_a.value.span
        members, named_blocks, is_all = self.members(members_a, blocks)
        fee = self.const(a.get("fee"), "price", "fee", lo=0, default=0.0)
        loss = 0.0
        if "loss" in a:
            loss = self.const(a["loss"], "ratio", "loss", lo=0, hi=1, hi_open=True)
        operator = None
        if "operator" in a:
            operator = self.word(a["operator"], ("dso", "community"), "operator")
            operator = None if operator == "community" else operator
        products: tuple[str, ...] = ("energy",)
        if "products" in a:
            products = tuple(self.product_names(a["products"]))
        settlement = "midpoint"
        if "settlement" in a:
            settlement = self.word(a["settlement"], ("midpoint", "seller", "buyer"), "settlement")
        rent = "operator"
        if "rent" in a:
            rent = self.word(a["rent"], ("operator", "members", "dso"), "rent")
        m_charge_on = None
        if "charge_on" in a:
            m_charge_on = self.word(a["charge_on"], ("meter", "purchase"), "charge_on")
        pair_fees: dict[tuple[str, str], float] = {}
        member_set = set(members)
        failed = False
        for it in node.items:
            if not isinstance(it, S.FeesTable):
                continue
            if mtype != "p2p":
                self.errs.add(
                    error(
                        "E307", "pair fees apply to p2p markets only", it.span, "not a p2p market"
                    )
                )
                failed = True
                continue
            for pf in it.entries:
                try:
                    pair_fees.update(self.pair_fee(pf, member_set, pair_fees))
                except _Failed:
                    failed = True
        if failed:
            raise _Failed
        if is_all:
            bats = tuple(n.name for n in self.m.of_kind("battery").values() if n.block is None)
        else:
            bats = (
                tuple(b for blk in named_blocks for b in blocks[blk].batteries)
                if all(b in blocks for b in named_blocks)
                else ()
            )
        return D.Market(
            node.name,
            cast(Literal["p2p", "pool"], mtype),
            tuple(members),
            fee,
            loss,
            pair_fees,
            bats,
            operator,
            products,
            cast(Literal["midpoint", "seller", "buyer"], settlement),
            node.span,
            cast(Literal["operator", "members", "dso"], rent),
            cast(Literal["meter", "purchase"] | None, m_charge_on),
        )

    def pair_fee(
        self, pf: S.PairFee, members: set[str], done: dict[tuple[str, str], float]
    ) -> dict[tuple[str, str], float]:
        for nm in (pf.seller, pf.buyer):
            if nm.value not in members:
                node = self.m.nodes.get(nm.value)
                if node is None or node.kind != "participant":
                    self.errs.add(
                        error(
                            "E101",
                            f"unknown participant `{nm.value}`",
                            nm.span,
                            "not declared",
                            did_you_mean(nm.value, members),
                        )
                    )
                else:
                    self.errs.add(
                        error(
                            "E308",
                            f"`{nm.value}` is not a member of this market",
                            nm.span,
                            "not a member",
                        )
                    )
                raise _Failed
        if pf.seller.value == pf.buyer.value:
            self.errs.add(
                error(
                    "E302", "a participant does not trade with itself", pf.span, "same participant"
                )
            )
            raise _Failed
        key = (pf.seller.value, pf.buyer.value)
        if key in done:
            self.errs.add(error("E109", f"pair fee {key[0]} -> {key[1]} is given twice", pf.span))
            raise _Failed
        attr = S.Attribute(S.Name("fee", pf.seller.span), pf.value, pf.span)
        return {key: self.const(attr, "price", "pair fee", lo=0)}

    def product_names(self, a: S.Attribute) -> list[str]:
        v = strip(a.value)
        items = v.items if isinstance(v, S.List) else (v,)
        out = []
        for it in items:
            it = strip(it)
            name = it.name if isinstance(it, S.Ref) else None
            node = self.m.nodes.get(name) if name else None
            if name == "flexibility":
                # Built in, but no rule gives it a meaning yet: traded, it would be plain
                # energy under another name (issue 8), so it is refused until it has one.
                self.errs.add(
                    error(
                        "E312",
                        "the product `flexibility` cannot be traded in a market yet",
                        it.span,
                        "no market semantics",
                        (
                            "the DSO's flexibility needs are declared in `dso { flexibility "
                            "BLOCK { limit = …; price = … } }`; trade `energy` or a declared "
                            "product here",
                        ),
                    )
                )
                raise _Failed
            if name in D.BUILTIN_PRODUCTS or (node is not None and node.kind == "product"):
                out.append(cast(str, name))
                continue
            if node is not None:
                self.errs.add(
                    error(
                        "E103",
                        f"`{name}` is a {node.kind}, not a product",
                        it.span,
                        "expected a product",
                    )
                )
            else:
                cands = [*D.BUILTIN_PRODUCTS, *self.m.of_kind("product")]
                self.errs.add(
                    error(
                        "E101",
                        f"unknown product `{_text(it)}`",
                        it.span,
                        "not declared",
                        did_you_mean(_text(it), cands),
                    )
                )
            raise _Failed
        return out

    # -- dso ----------------------------------------------------------------------------------
    def dso(self, single: Single) -> D.Dso:
        a = self.attrs(single.items, "dso", (S.Link, S.Flexibility))
        energy = None
        failed = False
        if "energy_charge" in a:
            try:
                energy = self.series(a["energy_charge"], "price", "energy_charge")
            except _Failed:
                failed = True
        cap = rein = 0.0
        cap_by_step = None
        basis = "participant"
        try:
            if "capacity_charge" in a:
                cap, cap_by_step = TA.capacity_price(self, a["capacity_charge"], "capacity_charge")
        except _Failed:
            failed = True
        try:
            rein = self.const(
                a.get("reinforcement_cost"),
                "capacity_cost_year",
                "reinforcement_cost",
                lo=0,
                default=0.0,
            )
        except _Failed:
            failed = True
        if "capacity_basis" in a:
            try:
                basis = self.word(a["capacity_basis"], ("participant", "block"), "capacity_basis")
            except _Failed:
                failed = True
        charge_on = "meter"
        if "charge_on" in a:
            try:
                charge_on = self.word(a["charge_on"], ("meter", "purchase"), "charge_on")
            except _Failed:
                failed = True
        links: list[D.Link] = []
        needs: list[D.FlexibilityNeed] = []
        blocks = self.m.of_kind("block")
        for it in single.items:
            try:
                if isinstance(it, S.Link):
                    links.append(self.link(it, blocks))
                elif isinstance(it, S.Flexibility):
                    needs.append(self.flex_need(it, blocks))
            except _Failed:
                failed = True
        if failed:
            raise _Failed
        return D.Dso(
            energy,
            cap,
            cast(Literal["participant", "block"], basis),
            cast(Literal["meter", "purchase"], charge_on),
            tuple(links),
            tuple(needs),
            rein,
            single.span,
            cap_by_step,
        )

    def link(self, it: S.Link, blocks: dict[str, Node]) -> D.Link:
        ok = True
        for nm in (it.a, it.b):
            if nm.value not in blocks:
                if nm.value in self.m.removed_names:
                    raise _Failed  # the block left with this variant; so does the link
                self.errs.add(
                    error(
                        "E306",
                        f"link to unknown block `{nm.value}`",
                        nm.span,
                        "not a block",
                        did_you_mean(nm.value, blocks),
                    )
                )
                ok = False
        if ok and it.a.value == it.b.value:
            self.errs.add(
                error(
                    "E306",
                    f"link from block `{it.a.value}` to itself",
                    it.span,
                    "same block at both ends",
                )
            )
            ok = False
        a = self.attrs(it.body.items, "link")
        if not ok:
            raise _Failed
        cap = self.const(a["capacity"], "power", "link capacity", lo=0) if "capacity" in a else None
        loss = (
            self.const(a["loss"], "ratio", "link loss", lo=0, hi=1, hi_open=True)
            if "loss" in a
            else 0.0
        )
        fee = self.const(a.get("fee"), "price", "link fee", lo=0, default=0.0)
        return D.Link(it.a.value, it.b.value, cap, loss, fee, it.span)

    def flex_need(self, it: S.Flexibility, blocks: dict[str, Node]) -> D.FlexibilityNeed:
        if it.block.value not in blocks:
            if it.block.value in self.m.removed_names:
                raise _Failed
            self.errs.add(
                error(
                    "E101",
                    f"flexibility at unknown block `{it.block.value}`",
                    it.block.span,
                    "not a block",
                    did_you_mean(it.block.value, blocks),
                )
            )
            raise _Failed
        a = self.attrs(it.body.items, "flexibility")
        limit = self.const(
            self.need(a, "limit", "flexibility", it.span, "250 kW"),
            "power",
            "flexibility limit",
            lo=0,
        )
        price = self.const(a["price"], "price", "flexibility price", lo=0) if "price" in a else None
        return D.FlexibilityNeed(it.block.value, limit, price, it.span)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _text(e: Any) -> str:
    if isinstance(e, S.Ref):
        return e.name
    if isinstance(e, S.String):
        return e.value
    sp = getattr(e, "span", NO_SPAN)
    return sp.text if sp is not NO_SPAN else type(e).__name__


def _is_word(e: S.Expr, word: str) -> bool:
    e = strip(e)
    return isinstance(e, S.Ref) and e.name == word


def _check_timezone(tz: str, span: Span) -> None:
    import zoneinfo

    try:
        if not tz or tz.startswith(("/", ".")) or ".." in tz:
            raise ValueError(tz)
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise PebdslError(
            error(
                "E311",
                f'unknown timezone "{tz}"',
                span,
                "not a timezone",
                (
                    *did_you_mean(tz, zoneinfo.available_timezones()),
                    'use an IANA name such as "Europe/Oslo" or "UTC"',
                ),
            )
        ) from None


def _local_time(e: S.Expr, tz: str, what: str) -> datetime:
    """A date or date-time as written, local to `tz` (tz-aware). A local time that does not
    exist (spring DST gap) is E307; an ambiguous one takes its first occurrence."""
    import zoneinfo

    v = strip(e)
    text = v.text if isinstance(v, S.DateTime) else v.value if isinstance(v, S.String) else None
    if text is None:
        raise PebdslError(
            error(
                "E307",
                f"{what} must be a date, e.g. 2021-06-07 or 2021-06-07T06:00",
                v.span,
                "not a date",
            )
        )
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise PebdslError(error("E307", f"invalid {what} `{text}`", v.span, "not a date")) from None
    zone = zoneinfo.ZoneInfo(tz)
    try:
        if dt.tzinfo is not None:
            return dt.astimezone(zone)
        local = dt.replace(tzinfo=zone, fold=0)
        # A nonexistent local time does not survive a round trip through UTC.
        back = local.astimezone(zoneinfo.ZoneInfo("UTC")).astimezone(zone)
    except (OverflowError, ValueError):  # year 1 or 9999 moved across a day boundary
        lo, hi = DATE_RANGE
        raise PebdslError(
            error(
                "E314",
                f"{what} {text} is outside the supported dates {lo.date()} … {hi.date()}",
                v.span,
                "unsupported date",
            )
        ) from None
    if back.replace(tzinfo=None) != dt:
        raise PebdslError(
            error(
                "E307",
                f"{what} {text} does not exist in {tz} (daylight-saving gap)",
                v.span,
                "nonexistent local time",
            )
        )
    return local
