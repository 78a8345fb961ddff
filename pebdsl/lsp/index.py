"""What the editor asks about a design, found in its syntax tree (or, while typing, its text).

Input: a parsed syntax `File` and its text. Output: `Index`: the declared names (series,
templates, participants, blocks, markets, products, shared batteries, variants) with the range
of each declaring name, every occurrence of a declared name (declaration or reference), every
attribute written (with the declaration or asset it sits in), every quantity, and the outline
(document symbols). `context_at` reads the text itself (it must work on text that does not
parse: a half-written `battery { cap`): the declarations the cursor is inside and the statement
typed so far. Offsets are 0-based character offsets into the text. Raises nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pebdsl.lsp.adapter import S

__all__ = ["Index", "Named", "Outline", "Use", "build", "context_at", "word_at"]

NAME_KINDS = (
    "series", "template", "participant", "block", "market", "product", "battery", "variant",
)  # fmt: skip


@dataclass(frozen=True)
class Named:
    """A declaration that introduces names: `names` (a range declares several) at [start, end)."""

    kind: str
    names: tuple[str, ...]
    start: int
    end: int
    decl_start: int
    decl_end: int


@dataclass(frozen=True)
class Use:
    """One piece of text the editor can ask about: a name, an attribute key or a quantity."""

    start: int
    end: int
    what: str  # "name" | "attribute" | "quantity"
    name: str  # the name; the attribute; the number as written
    context: str = ""  # attribute: the declaration or asset kind it is written in
    unit: str = ""  # quantity: its unit
    decl: bool = False  # name: this is the declaring occurrence


@dataclass
class Outline:
    name: str
    kind: str
    start: int
    end: int
    sel_start: int
    sel_end: int
    children: list[Outline] = field(default_factory=list)


@dataclass
class Index:
    text: str
    declared: list[Named] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)
    outline: list[Outline] = field(default_factory=list)
    by_name: dict[str, list[Named]] = field(default_factory=dict)

    def at(self, offset: int) -> Use | None:
        """The innermost use whose range holds `offset` (its end included: a cursor right after
        a word is on it)."""
        best: Use | None = None
        for u in self.uses:
            if u.start <= offset <= u.end and (
                best is None or u.end - u.start < best.end - best.start
            ):
                best = u
        return best

    def occurrences(self, name: str) -> list[Use]:
        return [u for u in self.uses if u.what == "name" and u.name == name]

    def names_of(self, *kinds: str) -> dict[str, str]:
        """Declared name -> kind, for the kinds given (all kinds without arguments)."""
        return {n: d.kind for d in self.declared if not kinds or d.kind in kinds for n in d.names}


def _word(part: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(part)}(?![A-Za-z0-9_])")


class _Walker:
    def __init__(self, text: str) -> None:
        self.ix = Index(text)

    # -- helpers ------------------------------------------------------------------------------
    def name_use(self, start: int, end: int, name: str, decl: bool = False) -> None:
        self.ix.uses.append(Use(start, end, "name", name, decl=decl))

    def declare(self, kind: str, name: Any, decl: Any) -> Outline:
        """A named declaration; `name` is a syntax Name or RangeName."""
        if isinstance(name, S.RangeName):
            names, n = tuple(name.expand()), name.stem
            start = name.span.start
            end = start + len(n)
            label = f"{n}[{name.first}..{name.last}]"
        else:
            names, start, end, label = (name.value,), name.span.start, name.span.end, name.value
        named = Named(kind, names, start, end, decl.span.start, decl.span.end)
        self.ix.declared.append(named)
        for n in names:
            self.ix.by_name.setdefault(n, []).append(named)
            self.name_use(start, end, n, decl=True)
        return Outline(label, kind, decl.span.start, decl.span.end, start, end)

    def path(self, path: S.Path) -> None:
        """A dotted path: its first part may name a declaration (`alice.pv.peak`), and so may
        every part of a link's `a -- b`."""
        pos = path.span.start
        for part in path.parts:
            m = _word(part).search(self.ix.text, pos, max(path.span.end, pos))
            if m is None:
                return
            self.name_use(m.start(), m.end(), part)
            pos = m.end()

    def ref(self, name: S.Name) -> None:
        self.name_use(name.span.start, name.span.end, name.value)

    # -- expressions --------------------------------------------------------------------------
    def expr(self, e: Any) -> None:
        if isinstance(e, S.Ref):
            self.path(e.path)
        elif isinstance(e, S.Quantity):
            self.ix.uses.append(
                Use(e.span.start, e.span.end, "quantity", e.number.text, unit=e.unit.text)
            )
        elif isinstance(e, S.List):
            for it in e.items:
                self.expr(it)
        elif isinstance(e, S.Daily):
            self.expr(e.values)
        elif isinstance(e, S.Call):
            for a in e.args:
                self.expr(a.value)
        elif isinstance(e, S.BinOp):
            self.expr(e.left)
            self.expr(e.right)
        elif isinstance(e, S.Neg | S.Paren):
            self.expr(e.operand if isinstance(e, S.Neg) else e.inner)

    # -- statements ---------------------------------------------------------------------------
    def attribute(self, a: S.Attribute, context: str) -> None:
        n = a.name
        self.ix.uses.append(Use(n.span.start, n.span.end, "attribute", n.value, context))
        self.expr(a.value)

    def body(self, body: S.Body, context: str, node: Outline) -> None:
        for it in body.items:
            child = self.stmt(it, context)
            if child is not None:
                node.children.append(child)

    def stmt(self, it: Any, context: str) -> Outline | None:
        if isinstance(it, S.Attribute):
            self.attribute(it, context)
            return None
        if isinstance(it, S.Asset):
            if it.name is not None:
                node = self.declare("battery", it.name, it)
            else:
                node = Outline(it.kind, "asset", it.span.start, it.span.end, *_kw(it))
            self.body(it.body, it.kind, node)
            return node
        if isinstance(it, S.Participant):
            node = self.declare("participant", it.name, it)
            if it.template is not None:
                self.ref(it.template)
            self.body(it.body, "participant", node)
            return node
        if isinstance(it, S.FeesTable):
            for f in it.entries:
                self.ref(f.seller)
                self.ref(f.buyer)
                self.expr(f.value)
            return None
        if isinstance(it, S.Link):
            self.ref(it.a)
            self.ref(it.b)
            label = f"{it.a.value} -- {it.b.value}"
            node = Outline(
                label, "link", it.span.start, it.span.end, it.a.span.start, it.b.span.end
            )
            self.body(it.body, "link", node)
            return node
        if isinstance(it, S.Flexibility):
            self.ref(it.block)
            node = Outline(
                it.block.value, "flexibility", it.span.start, it.span.end,
                it.block.span.start, it.block.span.end,
            )  # fmt: skip
            self.body(it.body, "flexibility", node)
            return node
        return self.decl(it)

    def decl(self, d: Any) -> Outline | None:
        """A top-level declaration (also those written inside a variant)."""
        kinds = {
            S.SeriesDecl: "series", S.TemplateDecl: "template", S.BlockDecl: "block",
            S.MarketDecl: "market", S.ProductDecl: "product", S.VariantDecl: "variant",
        }  # fmt: skip
        singles = {S.HorizonDecl: "horizon", S.GridDecl: "grid", S.DsoDecl: "dso"}
        if isinstance(d, S.SeriesDecl):
            node = self.declare("series", d.name, d)
            self.expr(d.value)
            return node
        if isinstance(d, S.VariantDecl):
            node = self.declare("variant", d.name, d)
            for it in d.items:
                if isinstance(it, S.Without | S.SetEdit):
                    self.path(it.target)
                    if isinstance(it, S.SetEdit):
                        self.expr(it.value)
                    continue
                child = self.stmt(it, "variant")
                if child is not None:
                    node.children.append(child)
            return node
        if type(d) in kinds:
            node = self.declare(kinds[type(d)], d.name, d)
            self.body(d.body, kinds[type(d)], node)
            return node
        if isinstance(d, S.DesignDecl):
            t = d.title
            node = Outline(
                t.value or "design", "design", d.span.start, d.span.end, t.span.start, t.span.end
            )
            self.body(d.body, "design", node)
            return node
        if type(d) in singles:
            kind = singles[type(d)]
            node = Outline(
                kind, kind, d.span.start, d.span.end, d.span.start, d.span.start + len(kind)
            )
            self.body(d.body, kind, node)
            return node
        return None


def _kw(asset: S.Asset) -> tuple[int, int]:
    return asset.span.start, asset.span.start + len(asset.kind)


def build(tree: S.File, text: str) -> Index:
    """The index of a parsed design (`text` is the text it was parsed from)."""
    w = _Walker(text)
    for d in tree.decls:
        node = w.stmt(d, "")
        if node is not None:
            w.ix.outline.append(node)
    w.ix.uses.sort(key=lambda u: (u.start, u.end))
    return w.ix


# ---------------------------------------------------------------------------------------------
# Reading the text around the cursor (works on text that does not parse)
# ---------------------------------------------------------------------------------------------
_HEAD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)")
_BODY_KINDS = frozenset(
    {"design", "horizon", "grid", "template", "block", "participant", "market", "product",
     "dso", "variant", "link", "flexibility", "fees", "load", "pv", "wind", "battery",
     "flexible", "connection"}
)  # fmt: skip


def context_at(text: str, offset: int) -> tuple[list[str], str]:
    """The kinds of the bodies around `offset`, outermost first (`["participant", "battery"]`),
    and the statement typed so far on the cursor's line (`capacity = 1`)."""
    stack: list[str] = []
    stmt = 0  # where the current statement starts
    depth = 0  # open ( and [: newlines do not end a statement inside them
    i = 0
    end = min(offset, len(text))
    while i < end:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = end if nl < 0 or nl >= end else nl
            continue
        if ch == '"':
            j = i + 1
            while j < end and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "{":
            m = _HEAD.match(text, stmt)
            head = m.group(1) if m else ""
            stack.append(head if head in _BODY_KINDS else "?")
            stmt, depth = i + 1, 0
        elif ch == "}":
            if stack:
                stack.pop()
            stmt = i + 1
        elif ch == ";" or (ch == "\n" and depth == 0):
            stmt = i + 1
        i += 1
    return stack, text[stmt:end].lstrip()


def word_at(text: str, offset: int) -> tuple[int, int]:
    """The identifier around `offset` (possibly empty) as [start, end)."""
    s = offset
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] == "_"):
        s -= 1
    e = offset
    while e < len(text) and (text[e].isalnum() or text[e] == "_"):
        e += 1
    return s, e
