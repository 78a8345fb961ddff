"""Markets and products: `market NAME { type; members; fee; … fees { … } }`, `product NAME`.

Input: market and product nodes, the built blocks (members may name blocks or `all`), read
through a `Reader`. Output: `design.Market` (members, fees and pair fees, losses, shared
batteries it reaches, operator, products, settlement, congestion rent) and `design.Product`.
Errors: E101 unknown member/product, E103 a name of the wrong kind, E302 a participant trading
with itself, E307 a bad value or pair fees on a pool, E308 a member listed twice or a pair-fee
party that is not a member, E109 a pair fee given twice, E312 `flexibility` as a product.
Members removed by the variant are left out silently.
"""

from __future__ import annotations

from typing import Literal, cast

from pebdsl import design as D
from pebdsl.diagnostics import Diagnostic, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed, Node
from pebdsl.resolve.reader import Reader, text_of
from pebdsl.resolve.series import strip
from pebdsl.source import Span

__all__ = ["market", "market_members", "pair_fee", "product", "product_names"]


def product(r: Reader, node: Node) -> D.Product:
    """A declared product: origin (pv, wind, battery) and premium."""
    a = r.attrs(node.items, "product")
    origin = None
    if "origin" in a:
        origin = tuple(r.words(a["origin"], ("pv", "wind", "battery"), "origin"))
    premium = r.const(a.get("premium"), "price", "premium", lo=0, default=0.0)
    return D.Product(node.name, origin, premium, node.span)


def market_members(
    r: Reader, a: S.Attribute, blocks: dict[str, D.Block]
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
            r.errs.add(
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
            r.errs.add(
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
        node = r.m.nodes.get(name)
        if name == "all":
            is_all = True
            out.extend(r.m.of_kind("participant"))
        elif node is not None and node.kind == "participant":
            out.append(name)
        elif node is not None and node.kind == "block":
            named_blocks.append(name)
            out.extend(n.name for n in r.m.of_kind("participant").values() if n.block == name)
        elif node is not None:
            r.errs.add(
                error(
                    "E103",
                    f"`{name}` is a {node.kind}, not a participant or block",
                    it.span,
                    "expected a participant or block",
                )
            )
            ok = False
        elif name in r.m.removed_names:
            continue  # removed by this variant: the market goes on without it
        else:
            cands = [k for k, n in r.m.nodes.items() if n.kind in ("participant", "block")]
            r.errs.add(
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
        raise Failed
    return list(dict.fromkeys(out)), named_blocks, is_all


def market(r: Reader, node: Node, blocks: dict[str, D.Block]) -> D.Market:
    """A market (see the module docstring)."""
    a = r.attrs(node.items, "market", (S.FeesTable,))
    mtype = r.word(r.need(a, "type", "market", node.span, "p2p"), ("p2p", "pool"), "market type")
    members_a = r.need(a, "members", "market", node.span, "all")
    r.where[("market", node.name, "members")] = members_a.value.span
    members, named_blocks, is_all = market_members(r, members_a, blocks)
    fee = r.const(a.get("fee"), "price", "fee", lo=0, default=0.0)
    loss = 0.0
    if "loss" in a:
        loss = r.const(a["loss"], "ratio", "loss", lo=0, hi=1, hi_open=True)
    operator = None
    if "operator" in a:
        operator = r.word(a["operator"], ("dso", "community"), "operator")
        operator = None if operator == "community" else operator
    products: tuple[str, ...] = ("energy",)
    if "products" in a:
        products = tuple(product_names(r, a["products"]))
    settlement = "midpoint"
    if "settlement" in a:
        settlement = r.word(a["settlement"], ("midpoint", "seller", "buyer"), "settlement")
    rent = "operator"
    if "rent" in a:
        rent = r.word(a["rent"], ("operator", "members", "dso"), "rent")
    m_charge_on = None
    if "charge_on" in a:
        m_charge_on = r.word(a["charge_on"], ("meter", "purchase"), "charge_on")
    pair_fees: dict[tuple[str, str], float] = {}
    member_set = set(members)
    failed = False
    for it in node.items:
        if not isinstance(it, S.FeesTable):
            continue
        if mtype != "p2p":
            r.errs.add(
                error("E307", "pair fees apply to p2p markets only", it.span, "not a p2p market")
            )
            failed = True
            continue
        for pf in it.entries:
            try:
                pair_fees.update(pair_fee(r, pf, member_set, pair_fees))
            except Failed:
                failed = True
    if failed:
        raise Failed
    if is_all:
        bats = tuple(n.name for n in r.m.of_kind("battery").values() if n.block is None)
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
    r: Reader, pf: S.PairFee, members: set[str], done: dict[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    """One `seller -> buyer` pair fee of a p2p market, by (seller, buyer)."""
    for nm in (pf.seller, pf.buyer):
        if nm.value not in members:
            node = r.m.nodes.get(nm.value)
            if node is None or node.kind != "participant":
                r.errs.add(
                    error(
                        "E101",
                        f"unknown participant `{nm.value}`",
                        nm.span,
                        "not declared",
                        did_you_mean(nm.value, members),
                    )
                )
            else:
                r.errs.add(
                    error(
                        "E308",
                        f"`{nm.value}` is not a member of this market",
                        nm.span,
                        "not a member",
                    )
                )
            raise Failed
    if pf.seller.value == pf.buyer.value:
        r.errs.add(
            error("E302", "a participant does not trade with itself", pf.span, "same participant")
        )
        raise Failed
    key = (pf.seller.value, pf.buyer.value)
    if key in done:
        r.errs.add(error("E109", f"pair fee {key[0]} -> {key[1]} is given twice", pf.span))
        raise Failed
    attr = S.Attribute(S.Name("fee", pf.seller.span), pf.value, pf.span)
    return {key: r.const(attr, "price", "pair fee", lo=0)}


def product_names(r: Reader, a: S.Attribute) -> list[str]:
    """The products a market trades (built in or declared)."""
    v = strip(a.value)
    items = v.items if isinstance(v, S.List) else (v,)
    out = []
    for it in items:
        it = strip(it)
        name = it.name if isinstance(it, S.Ref) else None
        node = r.m.nodes.get(name) if name else None
        if name == "flexibility":
            # Built in, but no rule gives it a meaning yet: traded, it would be plain
            # energy under another name (issue 8), so it is refused until it has one.
            r.errs.add(
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
            raise Failed
        if name in D.BUILTIN_PRODUCTS or (node is not None and node.kind == "product"):
            out.append(cast(str, name))
            continue
        if node is not None:
            r.errs.add(
                error(
                    "E103",
                    f"`{name}` is a {node.kind}, not a product",
                    it.span,
                    "expected a product",
                )
            )
        else:
            cands = [*D.BUILTIN_PRODUCTS, *r.m.of_kind("product")]
            r.errs.add(
                error(
                    "E101",
                    f"unknown product `{text_of(it)}`",
                    it.span,
                    "not declared",
                    did_you_mean(text_of(it), cands),
                )
            )
        raise Failed
    return out
