"""Namespace pass: a file's top-level declarations collected into one `Model`.

Input: a `syntax.File`. Output: a `Model` whose nodes hold every named declaration (name
ranges such as `house[1..6]` expanded; participants and shared batteries of a block know
their block) and whose singles hold `design`, `horizon`, `grid` and `dso`.
Errors (recorded on `Errors`): E102 duplicate name, E107 reserved name, E304 a misplaced or
repeated declaration (`design` not first, two `grid`s, an asset outside a participant, …);
`lookup` raises E101 unknown name (with a did-you-mean hint) and E103 a name of the wrong kind.
"""

from __future__ import annotations

from typing import Any

from pebdsl.diagnostics import Diagnostic, PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Errors, Model, Node, Single
from pebdsl.source import NO_SPAN, Span

__all__ = ["ASSETS", "RESERVED", "add_named", "collect", "declare", "lookup"]

RESERVED = frozenset({
    "design", "horizon", "series", "grid", "template", "block", "participant", "from", "market",
    "product", "dso", "variant", "without", "set", "link", "flexibility", "fees", "load", "pv",
    "wind", "battery", "flexible", "connection", "daily", "true", "false", "unit", "all",
    "none", "energy", "initial", "goals", "prefer", "choice",
    "scenarios", "by_scenario", "day_ahead", "intraday",
})  # fmt: skip

_SINGLE_KEYS: dict[type, str] = {
    S.HorizonDecl: "horizon",
    S.GridDecl: "grid",
    S.DsoDecl: "dso",
    S.ScenariosDecl: "scenarios",
}

ASSETS = ("load", "pv", "wind", "battery", "flexible", "connection")


def collect(file: S.File, errs: Errors) -> Model:
    """The file's declarations as one `Model` (errors recorded on `errs`)."""
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
        elif isinstance(decl, S.HorizonDecl | S.GridDecl | S.DsoDecl | S.ScenariosDecl):
            key = _SINGLE_KEYS[type(decl)]
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
        elif isinstance(decl, S.GoalsDecl):
            if "goals" in m.singles:
                errs.add(
                    Diagnostic(
                        "E304",
                        "a design has one `goals` declaration",
                        decl.span,
                        "second goals",
                        related=((m.singles["goals"].span, "the first one"),),
                    )
                )
                continue
            m.singles["goals"] = Single(decl.span, list(decl.goals))
        elif isinstance(decl, S.ChoiceDecl):
            _add_choice(m, decl, errs)
        else:
            add_named(m, decl, errs, block=None)
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


def _add_choice(m: Model, decl: S.ChoiceDecl, errs: Errors) -> None:
    """A `choice`: E102 for a name given twice (choices, or options within one), E309 for a
    choice without options."""
    old = m.choices.get(decl.name.value)
    if old is not None:
        errs.add(
            Diagnostic(
                "E102",
                f"duplicate choice `{decl.name.value}`",
                decl.name.span,
                "declared again here",
                related=((old.name.span, "first declared here"),),
            )
        )
        return
    seen: dict[str, S.VariantDecl] = {}
    for opt in decl.options:
        if opt.name.value in seen:
            errs.add(
                Diagnostic(
                    "E102",
                    f"choice `{decl.name.value}` has two options named `{opt.name.value}`",
                    opt.name.span,
                    "declared again here",
                    related=((seen[opt.name.value].name.span, "first declared here"),),
                )
            )
        seen[opt.name.value] = opt
    if not decl.options:
        errs.add(
            error(
                "E309",
                f"choice `{decl.name.value}` has no options",
                decl.span,
                "empty choice",
                ("add options: `variant NAME { … }`, one per alternative",),
            )
        )
    m.choices[decl.name.value] = decl


def declare(m: Model, node: Node, errs: Errors, replace_ok: bool = False) -> bool:
    """Add `node` to the namespace; False (with E107 or E102 recorded) when it may not."""
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


def participant_nodes(decl: S.Participant, block: str | None) -> list[Node]:
    """One node per participant a declaration names (`house[1..3]` gives three)."""
    names = decl.name.expand() if isinstance(decl.name, S.RangeName) else [decl.name.value]
    return [
        Node(
            "participant", n, decl.name.span, decl.span, list(decl.body.items), decl.template, block
        )
        for n in names
    ]


def add_named(
    m: Model, decl: Any, errs: Errors, block: str | None, replace_ok: bool = False
) -> None:
    """Add one named top-level declaration (also used for declarations inside variants)."""
    if isinstance(decl, S.SeriesDecl):
        node = Node("series", decl.name.value, decl.name.span, decl.span, decl=decl)
    elif isinstance(decl, S.TemplateDecl):
        node = Node("template", decl.name.value, decl.name.span, decl.span, list(decl.body.items))
    elif isinstance(decl, S.Participant):
        for node in participant_nodes(decl, block):
            if replace_ok and node.name in m.nodes and m.nodes[node.name].kind == "participant":
                node.block = m.nodes[node.name].block if block is None else block
                m.nodes[node.name] = node
            else:
                declare(m, node, errs)
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
        add_block(m, decl, errs, replace_ok)
        return
    elif isinstance(decl, S.MarketDecl | S.ProductDecl):
        kind = "market" if isinstance(decl, S.MarketDecl) else "product"
        node = Node(kind, decl.name.value, decl.name.span, decl.span, list(decl.body.items))
    elif isinstance(decl, S.VariantDecl):
        node = Node("variant", decl.name.value, decl.name.span, decl.span, decl=decl)
        if declare(m, node, errs):
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
        declare(m, node, errs)


def add_block(m: Model, decl: S.BlockDecl, errs: Errors, merge: bool) -> None:
    """A block and the participants and shared batteries inside it; `merge` (a
    variant's block of the same name) replaces attributes and adds members."""
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
        if not declare(m, node, errs):
            return
    for it in decl.body.items:
        shared = isinstance(it, S.Asset) and it.kind == "battery" and it.name is not None
        if isinstance(it, S.Participant) or shared:
            add_named(m, it, errs, block=name, replace_ok=merge)
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


def lookup(m: Model, name: str, span: Span, kind: str | None) -> Node:
    """The node of `name` (of `kind` when given): E101 unknown, E103 wrong kind."""
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
