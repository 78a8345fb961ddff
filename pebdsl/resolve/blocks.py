"""Blocks and the DSO links between them.

Input: a `block` node (its participants and shared batteries are the nodes whose `block` is
it) and the `link A -- B { … }` items of the `dso` declaration, read through a `Reader`.
Output: `design.Block` (connection, participants, batteries) and `design.Link` (capacity, loss,
fee). Errors: E306 a link to an unknown block or from a block to itself, E302 negative or
out-of-range values; a link to a block the variant removed is dropped (no error).
"""

from __future__ import annotations

import pebdsl.resolve.participants as participants
from pebdsl import design as D
from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed, Node
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.sizing import size

__all__ = ["block", "link"]


def block(r: Reader, node: Node) -> D.Block:
    """A block: its connection (attribute or `connection { … }`), participants, shared batteries."""
    a = r.attrs(node.items, "block", (S.Asset,))
    conn = None
    for it in node.items:
        if isinstance(it, S.Asset) and it.kind == "connection":
            conn = participants.connection_block(r, it, node.name)
    if "connection" in a:
        c = size(r, a["connection"], "power", "block connection", f"{node.name}.connection")
        conn = D.Connection(c, c, a["connection"].span)
    members = tuple(n.name for n in r.m.of_kind("participant").values() if n.block == node.name)
    bats = tuple(n.name for n in r.m.of_kind("battery").values() if n.block == node.name)
    return D.Block(node.name, conn, members, bats, node.span)


def link(r: Reader, it: S.Link, blocks: dict[str, Node]) -> D.Link:
    """A DSO link between two blocks (E306 unknown or identical blocks)."""
    ok = True
    for nm in (it.a, it.b):
        if nm.value not in blocks:
            if nm.value in r.m.removed_names:
                raise Failed  # the block left with this variant; so does the link
            r.errs.add(
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
        r.errs.add(
            error(
                "E306",
                f"link from block `{it.a.value}` to itself",
                it.span,
                "same block at both ends",
            )
        )
        ok = False
    a = r.attrs(it.body.items, "link")
    if not ok:
        raise Failed
    path = f"dso.link.{it.a.value}--{it.b.value}.capacity"
    cap = size(r, a["capacity"], "power", "link capacity", path) if "capacity" in a else None
    loss = (
        r.const(a["loss"], "ratio", "link loss", lo=0, hi=1, hi_open=True) if "loss" in a else 0.0
    )
    fee = r.const(a.get("fee"), "price", "link fee", lo=0, default=0.0)
    return D.Link(it.a.value, it.b.value, cap, loss, fee, it.span)
