"""Participants: a participant's body (its template merged in) into a `design.Participant`.

Input: a participant node; its assets (`load`, `pv`, `wind`, `battery`, `flexible`,
`connection`) are built by `loads.py`, `generation.py` and `batteries.py`.
Output: `design.Participant` (block, load, generation, battery, flexible load, connection) and
`design.Connection` for a `connection { import; export }` block.
Errors: E105 unknown template / E103 not a template (`templates.merged_items`), E109 an asset or
`connection` given twice, E304 a named battery inside a participant, E302 negative limits,
and every error of the asset builders.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import pebdsl.resolve.batteries as batteries
import pebdsl.resolve.generation as generation
import pebdsl.resolve.loads as loads
import pebdsl.resolve.sizing as sizing
import pebdsl.resolve.tariffs as tariffs
from pebdsl import design as D
from pebdsl.diagnostics import Diagnostic, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed, Node
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.templates import merged_items

__all__ = ["connection_block", "participant"]


def participant(r: Reader, node: Node) -> D.Participant:
    """A participant with its template merged in and every asset built (see the module
    docstring for the errors); every asset is tried, so their errors are reported together."""
    items = merged_items(r.m, node, r.errs)
    a = r.attrs(items, "participant", (S.Asset,))
    assets, failed = _assets(r, items, "connection" in a)
    built: dict[str, Any] = {}
    for kind, asset in assets.items():
        try:
            built[kind] = _asset(r, node, kind, asset)
        except Failed:
            failed = True
    if "connection" in a:
        try:
            c = r.const(a["connection"], "power", "connection", lo=0)
            built["connection"] = D.Connection(c, c, a["connection"].span)
        except Failed:
            failed = True
    tariff = None
    try:
        tariff = tariffs.participant_tariff(r, a, node.span)  # customer class, own tariff
    except Failed:
        failed = True
    if failed:
        raise Failed
    gens = tuple(built[k] for k in ("pv", "wind") if k in built)
    return D.Participant(
        node.name,
        node.block,
        built.get("load"),
        gens,
        built.get("battery"),
        built.get("flexible"),
        built.get("connection"),
        node.span,
        tariff,
    )


def _assets(r: Reader, items: list[Any], connection_attr: bool) -> tuple[dict[str, S.Asset], bool]:
    """The participant's assets by kind, and whether one was refused (E304 a named battery,
    E109 an asset given twice, or `connection` given as attribute and block)."""
    failed = False
    assets: dict[str, S.Asset] = {}
    for it in items:
        if isinstance(it, S.Asset):
            if it.name is not None:
                r.errs.add(
                    error(
                        "E304",
                        "a named battery belongs to a block or the top level, not to a participant",
                        it.span,
                        "misplaced",
                    )
                )
                failed = True
                continue
            if it.kind in assets:
                r.errs.add(
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
    if connection_attr and "connection" in assets:
        r.errs.add(
            error(
                "E109",
                "`connection` is given twice (attribute and block)",
                assets["connection"].span,
            )
        )
        failed = True
    return assets, failed


def _asset(r: Reader, node: Node, kind: str, asset: S.Asset) -> Any:
    """One asset of a participant, built by the module of its concept."""
    if kind == "load":
        return loads.load_asset(r, asset)
    if kind in ("pv", "wind"):
        return generation.generation(r, asset, cast(Literal["pv", "wind"], kind), node.name)
    if kind == "battery":
        return batteries.battery(
            r, list(asset.body.items), asset.span, f"{node.name}.battery", node.name, node.block
        )
    if kind == "flexible":
        return loads.flexible(r, asset)
    if kind == "connection":
        return connection_block(r, asset)
    return None  # the grammar knows no other asset


def connection_block(r: Reader, asset: S.Asset, block: str | None = None) -> D.Connection:
    """A `connection { import; export }` block (kW; a side not given is unlimited). A block's
    sides may be `invest(...)` (resolve/sizing.py, paths `<block>.connection.import` and
    `.export`); a participant's may not (E321)."""
    a = r.attrs(asset.body.items, "connection")

    def side(key: str) -> float | None:
        if key not in a:
            return None
        if block is None:
            return r.const(a[key], "power", f"connection {key}", lo=0)
        return sizing.size(r, a[key], "power", f"connection {key}", f"{block}.connection.{key}")

    return D.Connection(side("import"), side("export"), asset.span)
